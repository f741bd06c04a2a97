"""What Dagster loads: every definition in ``weighting_pipeline/defs/``, by its defs-folder loader."""

import os
from pathlib import Path

import dagster as dg

from weighting_pipeline.deployments import check_environment


@dg.definitions
def defs() -> dg.Definitions:
    check_environment(os.environ)  # a bad setting fails here, naming its variable, not inside the loader
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
