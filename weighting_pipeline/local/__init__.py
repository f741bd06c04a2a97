"""The old ``python -m weighting_pipeline.local`` spelling of the CLI, an alias for one release."""
