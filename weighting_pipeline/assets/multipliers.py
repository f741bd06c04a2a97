"""multipliers: Sharpe ratios mapped onto [min, max] multipliers of the baseline."""

import dagster as dg
import numpy as np
import pandas as pd

from weighting_pipeline.assets.checks import check_spec, emit, per_week
from weighting_pipeline.assets.code_versions import CODE_VERSIONS
from weighting_pipeline.assets.common import CHAIN, add_week_metadata, by_strategy
from weighting_pipeline.core.invariants import multipliers_within_bounds, tilt_exceeds_noise
from weighting_pipeline.core.multipliers import multipliers as compute_multipliers
from weighting_pipeline.settings import WeightingSettings


@dg.asset(
    **CHAIN,
    kinds={"pandas"},
    io_manager_key="intermediate_io_manager",
    code_version=CODE_VERSIONS["multipliers"],
    check_specs=[
        check_spec(
            "multipliers_within_bounds",
            "multipliers",
            "Every multiplier lies within [min_multiplier, max_multiplier].",
            blocking=True,
        ),
        check_spec(
            "tilt_exceeds_noise",
            "multipliers",
            "The qualified Sharpe ratios differ beyond their serial-correlation-robust standard errors: Cochran's Q, "
            "p < NOISE_ALPHA (0.05); otherwise the tilt is mostly noise. On the lot and deployed return bases no "
            "calibrated test exists, and every week says so. Informational: never alerted.",
            blocking=False,
            alert=False,  # it fails in some weeks by design; an alert every Sunday would teach people to ignore alerts
        ),
    ],
    description=(
        "Qualified scores (the Sharpe ratio unless `SCORE` says sortino or calmar) min-max normalised per week and "
        "mapped linearly to [0.5, 2.0] (configurable): best 2.0, worst 0.5. Skipped strategies, and weeks with < 2 "
        "qualifiers or equal scores, get 1.0."
    ),
)
def multipliers(context: dg.AssetExecutionContext, sharpe_ratios: pd.DataFrame, settings: WeightingSettings):
    keys = context.partition_keys
    params = settings.params()
    frame = compute_multipliers(
        sharpe_ratios, params.bounds, params.mapping, params.mapping_alpha, params.score_shrinkage
    )
    add_week_metadata(
        context,
        {
            str(k): {
                "all_neutral": bool((rows["multiplier"] == 1.0).all()),
                **(
                    {"shrinkage_factor": float(rows["shrinkage_factor"].iloc[0])}
                    if "shrinkage_factor" in rows and len(rows) and np.isfinite(rows["shrinkage_factor"].iloc[0])
                    else {}
                ),
                **by_strategy("multiplier", {str(r.strategy): float(r.multiplier) for r in rows.itertuples()}),
            }
            for k, rows in frame.groupby("partition_key", observed=True)
        },
    )
    yield dg.Output(frame, metadata={"weeks": len(keys)})
    checks = per_week(multipliers_within_bounds(frame, params.bounds), "multipliers", keys, blocking=True)
    checks += per_week(
        tilt_exceeds_noise(frame, params.noise_alpha, params.return_basis), "multipliers", keys, blocking=False
    )
    yield from emit(context, checks)
