"""daily_returns: each strategy's simple daily returns inside each window."""

import dagster as dg
import pandas as pd

from weighting_pipeline.assets.common import CHAIN
from weighting_pipeline.core.calendar import WeekWindows
from weighting_pipeline.core.lots import canonical_order
from weighting_pipeline.core.returns import daily_returns as compute_daily_returns
from weighting_pipeline.settings import WeightingSettings


@dg.asset(
    **CHAIN,
    kinds={"pandas"},
    io_manager_key="intermediate_io_manager",
    description=(
        "Per week and strategy: realized P&L of lots closed on each New York date divided by the "
        "window's average position value (mean entry_qty x entry_price). Dates without closes are skipped."
    ),
)
def daily_returns(context: dg.AssetExecutionContext, closed_lots: pd.DataFrame, settings: WeightingSettings) -> dg.Output[pd.DataFrame]:
    params, baseline = settings.params(), settings.baseline()
    weeks = WeekWindows.for_keys(context.partition_keys, params.lookback_days)
    # Windows overlap, so a range holds each lot several times; the kernel wants each once,
    # in canonical order so that float sums are the same as in a single-week run.
    lots = canonical_order(closed_lots.drop(columns="partition_key").drop_duplicates("lot_id"))
    frame = compute_daily_returns(lots, weeks, baseline.keys).to_frame()
    return dg.Output(
        frame,
        metadata={
            "rows": len(frame),
            "weeks": len(weeks),
            "strategy_weeks_with_returns": int(frame.groupby(["partition_key", "strategy"], observed=True).ngroups),
        },
    )
