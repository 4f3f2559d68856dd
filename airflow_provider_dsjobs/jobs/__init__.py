"""Jobs: records, lifecycle, and the service that runs a config end to end."""
