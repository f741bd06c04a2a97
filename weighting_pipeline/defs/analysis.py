"""The analysis: the backtest and the report, and the sensor that runs them after each publication."""

import dagster as dg

from weighting_pipeline.assets import ANALYSIS_ASSETS
from weighting_pipeline.schedules import analysis_after_publication, analysis_job


@dg.definitions
def analysis() -> dg.Definitions:
    return dg.Definitions(assets=ANALYSIS_ASSETS, jobs=[analysis_job], sensors=[analysis_after_publication])
