"""config.yaml: its schema, loader and typed model."""
