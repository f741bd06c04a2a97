"""tilt_backtest: how the weights in force did during each week (point in time).

Week J's weights in force were computed at its start, from week J-1's data: they
are recomputed here from the stored ``multipliers`` of J-1 with the same core
function as ``dynamic_weights`` (so an expired DynamoDB item never matters), and
scored on the P&L booked inside week J (from ``closed_lots`` of J, by
``PNL_DATE``; its window ends at J's end: nothing later can enter). Where J-1 has no multipliers (the
first partition, or a week never computed) the baseline was in force, and the
week says so. Multipliers of J-2 give the weights in force the week before, for
turnover. Definitions: ``core/backtest.py``.
"""

import dagster as dg
import numpy as np
import pandas as pd

from weighting_pipeline.assets.code_versions import CODE_VERSIONS
from weighting_pipeline.assets.common import ANALYSIS_GROUP, CHAIN, add_week_metadata, by_strategy
from weighting_pipeline.core.backtest import HOLDOUT_COLUMNS, score, weekly_realised_returns
from weighting_pipeline.core.calendar import previous_key
from weighting_pipeline.core.chain import check_pnl_date
from weighting_pipeline.core.lots import distinct_lots
from weighting_pipeline.core.weights import WEIGHT_COLUMNS
from weighting_pipeline.core.weights import dynamic_weights as compute_weights
from weighting_pipeline.settings import WeightingSettings

ASSET = "tilt_backtest"
# Weeks J-2 and J-1 of each week J; the first partitions have fewer (allowed).
EARLIER_WEEKS = dg.TimeWindowPartitionMapping(start_offset=-2, end_offset=-1, allow_nonexistent_upstream_partitions=True)
NO_WEIGHTS = pd.DataFrame(columns=WEIGHT_COLUMNS)  # nothing stored for the weeks before


@dg.asset(
    **{**CHAIN, "group_name": ANALYSIS_GROUP},
    kinds={"pandas"},
    io_manager_key="intermediate_io_manager",
    code_version=CODE_VERSIONS[ASSET],
    ins={
        "closed_lots": dg.AssetIn(),
        "multipliers": dg.AssetIn(partition_mapping=EARLIER_WEEKS, metadata={"allow_missing": True}),
    },
    description=(
        "Point-in-time backtest: the week's realised return under the weights in force (computed at its start), "
        "the baseline and the naive `b*m / sum(b*m)` weights; active return, turnover, active share, coverage "
        "and rank IC; the tilt's and the naive weights' returns net of `COST_BPS` on their turnover. "
        "Definitions in `core/backtest.py`."
    ),
)
def tilt_backtest(context: dg.AssetExecutionContext, closed_lots: pd.DataFrame, multipliers: pd.DataFrame, settings: WeightingSettings):
    keys = list(context.partition_keys)
    baseline, params = settings.baseline(), settings.params()
    strategies = list(baseline.keys)
    b = pd.Series(baseline.allocations, dtype=float).reindex(strategies)
    weights = compute_weights(multipliers, baseline.allocations, params.bounds) if len(multipliers) else NO_WEIGHTS
    check_pnl_date(closed_lots, params.pnl_date)
    realised, closed = weekly_realised_returns(distinct_lots(closed_lots), keys, strategies)  # each row once
    result, used, source = score(weights, keys, b, realised, closed, params.cost_bps)
    sources = {k: f"dynamic_weights of {w} (recomputed from its stored multipliers)" if isinstance(w, str)
               else f"baseline (no weights computed for {previous_key(k)})" for k, w in source.items()}
    add_week_metadata(
        context,
        {
            k: {
                **{c: float(result.loc[k, c]) for c in HOLDOUT_COLUMNS if np.isfinite(result.loc[k, c])},
                "weights_source": sources[k],
                **by_strategy("weight_in_force", {s: float(used["weight"].loc[k, s]) for s in strategies}),
            }
            for k in keys
        },
    )
    out = result.reset_index()
    out.insert(len(out.columns), "weights_source", [sources[k] for k in keys])
    context.log.info(f"Backtest of {len(keys)} week(s): mean active return {result['active'].mean():+.4%} a week")
    return out
