"""The resources of the deployment ``APP__STAGE`` names (``deployments.DEPLOYMENTS``), and the executor."""

import dagster as dg

from weighting_pipeline.deployments import build_resources
from weighting_pipeline.settings import WeightingSettings


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources=build_resources(WeightingSettings.from_env()),
        # The chain is strictly linear, so a process per step buys no parallelism and
        # costs ~3 s of imports per step; one process runs the whole chain.
        executor=dg.in_process_executor,
    )
