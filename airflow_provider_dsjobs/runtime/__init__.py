"""The Docker runtime: containers, workspaces, logs, signals."""
