"""multipliers: Sharpe ratios mapped onto [min, max] multipliers of the baseline."""

import dagster as dg
import pandas as pd

from weighting_pipeline.assets.common import CHAIN
from weighting_pipeline.assets.checks import check_result, check_spec
from weighting_pipeline.core.invariants import multipliers_within_bounds
from weighting_pipeline.core.multipliers import multipliers as compute_multipliers
from weighting_pipeline.settings import WeightingSettings


@dg.asset(
    **CHAIN,
    kinds={"pandas"},
    io_manager_key="intermediate_io_manager",
    check_specs=[
        check_spec(
            "multipliers_within_bounds", "multipliers", "Every multiplier lies within [min_multiplier, max_multiplier].", blocking=True
        )
    ],
    description=(
        "Qualified Sharpe ratios min-max normalised per week and mapped linearly to [0.5, 2.0] (configurable): "
        "best 2.0, worst 0.5. Skipped strategies, and weeks with < 2 qualifiers or equal Sharpes, get 1.0."
    ),
)
def multipliers(context: dg.AssetExecutionContext, sharpe_ratios: pd.DataFrame, settings: WeightingSettings):
    params = settings.params()
    frame = compute_multipliers(sharpe_ratios, params.bounds)
    yield dg.Output(
        frame,
        metadata={
            "weeks": len(context.partition_keys),
            "weeks_all_neutral": int(frame.groupby("partition_key", observed=True)["multiplier"].apply(lambda m: (m == 1.0).all()).sum()),
        },
    )
    yield check_result(multipliers_within_bounds(frame, params.bounds), "multipliers")
