"""What the production instance (deploy/dagster.yaml) loads from this package."""
