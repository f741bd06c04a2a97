"""The weekly chain: its assets and checks, the job that materialises a week, and the Sunday schedule."""

import os

import dagster as dg

from weighting_pipeline.assets import CHAIN_ASSETS
from weighting_pipeline.deployments import schedule_status
from weighting_pipeline.schedules import weekly_weighting_job, weekly_weighting_schedule
from weighting_pipeline.settings import WeightingSettings


@dg.definitions
def weekly_chain() -> dg.Definitions:
    stage = WeightingSettings.from_env().stage
    return dg.Definitions(
        assets=CHAIN_ASSETS,
        jobs=[weekly_weighting_job],
        schedules=[weekly_weighting_schedule(schedule_status(stage, os.environ))],
    )
