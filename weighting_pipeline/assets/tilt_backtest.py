"""tilt_backtest: how the weights in force did during each week (point in time).

Week J's weights in force were computed at its start, from week J-1's data: they
are recomputed here from the stored ``multipliers`` of J-1 with the same core
function as ``dynamic_weights`` (so an expired DynamoDB item never matters), and
scored on the lots closed inside week J (from ``closed_lots`` of J, whose window
ends at J's end: nothing later can enter). Where J-1 has no multipliers (the
first partition, or a week never computed) the baseline was in force, and the
week says so. Multipliers of J-2 give the weights in force the week before, for
turnover. Definitions: ``core/backtest.py``.
"""

import dagster as dg
import numpy as np
import pandas as pd

from weighting_pipeline.assets.code_versions import CODE_VERSIONS
from weighting_pipeline.assets.common import CHAIN, add_week_metadata, by_strategy
from weighting_pipeline.core.backtest import HOLDOUT_COLUMNS, holdout, weekly_realised_returns
from weighting_pipeline.core.calendar import previous_key
from weighting_pipeline.core.lots import distinct_lots
from weighting_pipeline.core.weights import dynamic_weights as compute_weights
from weighting_pipeline.settings import WeightingSettings

ASSET = "tilt_backtest"
# Weeks J-2 and J-1 of each week J; the first partitions have fewer (allowed).
EARLIER_WEEKS = dg.TimeWindowPartitionMapping(start_offset=-2, end_offset=-1, allow_nonexistent_upstream_partitions=True)


def in_force(multipliers: pd.DataFrame, keys: list[str], baseline, bounds) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """For each key, the weights, multipliers, Sharpe and qualified flags in force
    (from the week before), as week x strategy frames, and where they came from."""
    strategies = list(baseline.keys)
    b = pd.Series(baseline.allocations, dtype=float).reindex(strategies)
    computed = compute_weights(multipliers, baseline.allocations, bounds) if len(multipliers) else None
    frames = {name: pd.DataFrame(index=pd.Index(keys, name="partition_key"), columns=strategies, dtype=float)
              for name in ("weight", "multiplier", "sharpe", "qualified")}
    sources = {}
    by_week = {str(k): rows.set_index("strategy") for k, rows in computed.groupby("partition_key", observed=True)} if computed is not None else {}
    for key in keys:
        source = previous_key(key)
        rows = by_week.get(source)
        if rows is None:
            frames["weight"].loc[key], frames["multiplier"].loc[key] = b.to_numpy(), 1.0
            frames["sharpe"].loc[key], frames["qualified"].loc[key] = np.nan, 0.0
            sources[key] = f"baseline (no weights computed for {source})"
            continue
        rows = rows.reindex(strategies)
        frames["weight"].loc[key] = rows["weight"].to_numpy(float)
        frames["multiplier"].loc[key] = rows["multiplier"].to_numpy(float)
        frames["sharpe"].loc[key] = rows["sharpe"].to_numpy(float)
        frames["qualified"].loc[key] = (rows["skip_reason"] == "").to_numpy(float)
        sources[key] = f"dynamic_weights of {source} (recomputed from its stored multipliers)"
    frames["qualified"] = frames["qualified"].astype(bool)
    return frames, sources


@dg.asset(
    **CHAIN,
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
        "and rank IC. Definitions in `core/backtest.py`."
    ),
)
def tilt_backtest(context: dg.AssetExecutionContext, closed_lots: pd.DataFrame, multipliers: pd.DataFrame, settings: WeightingSettings):
    keys = list(context.partition_keys)
    baseline, params = settings.baseline(), settings.params()
    strategies = list(baseline.keys)
    earliest = previous_key(keys[0])
    frames, sources = in_force(multipliers, [earliest, *keys], baseline, params.bounds)
    lots = distinct_lots(closed_lots)  # each lot once (windows overlap in a range)
    realised, closed = weekly_realised_returns(lots, keys, strategies)
    week = lambda f: f.loc[keys]  # noqa: E731
    previous = frames["weight"].loc[earliest]  # in force the week before the first (the baseline if none was computed)
    result = holdout(week(frames["weight"]), pd.Series(baseline.allocations, dtype=float), week(frames["multiplier"]),
                     week(frames["sharpe"]), week(frames["qualified"]), realised, closed, previous_weights=previous)
    add_week_metadata(
        context,
        {
            k: {
                **{c: float(result.loc[k, c]) for c in HOLDOUT_COLUMNS if np.isfinite(result.loc[k, c])},
                "weights_source": sources[k],
                **by_strategy("weight_in_force", {s: float(frames["weight"].loc[k, s]) for s in strategies}),
            }
            for k in keys
        },
    )
    out = result.reset_index()
    out.insert(len(out.columns), "weights_source", [sources[k] for k in keys])
    context.log.info(f"Backtest of {len(keys)} week(s): mean active return {result['active'].mean():+.4%} a week")
    return out
