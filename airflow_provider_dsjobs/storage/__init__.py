"""Object storage: S3 and a local directory behind one interface, plus the content-addressed input cache."""
