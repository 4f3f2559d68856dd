"""Python environments for jobs: entry points, static import analysis, in-container builds, cache."""
