"""daily_returns: each strategy's simple daily returns inside each window."""

import dagster as dg
import pandas as pd

from weighting_pipeline.assets.code_versions import CODE_VERSIONS
from weighting_pipeline.assets.common import CHAIN, add_week_metadata
from weighting_pipeline.core.calendar import WeekWindows
from weighting_pipeline.core.chain import check_pnl_date
from weighting_pipeline.core.lots import distinct_lots
from weighting_pipeline.core.returns import daily_returns as compute_daily_returns
from weighting_pipeline.settings import WeightingSettings


@dg.asset(
    **CHAIN,
    kinds={"pandas"},
    io_manager_key="intermediate_io_manager",
    code_version=CODE_VERSIONS["daily_returns"],
    description=(
        "Per week and strategy: realised P&L booked on each New York date (by `PNL_DATE`: lots fully closed that "
        "date, or exit records of that date) divided by the window's average position value (mean "
        "`entry_qty * entry_price` over the distinct lots that booked P&L in it). Dates without bookings are skipped."
    ),
)
def daily_returns(context: dg.AssetExecutionContext, closed_lots: pd.DataFrame, settings: WeightingSettings) -> dg.Output[pd.DataFrame]:
    params, baseline = settings.params(), settings.baseline()
    keys = context.partition_keys
    weeks = WeekWindows.for_keys(keys, params.lookback_days)
    check_pnl_date(closed_lots, params.pnl_date)  # the stored rows must be the rule's, if PNL_DATE changed since
    frame = compute_daily_returns(distinct_lots(closed_lots), weeks, baseline.keys).to_frame()
    per_week = frame.groupby("partition_key", observed=False)
    add_week_metadata(
        context,
        {
            str(key): {"return_observations": len(rows), "strategies_with_returns": int(rows["strategy"].nunique())}
            for key, rows in per_week
        },
    )
    return dg.Output(frame, metadata={"weeks": len(keys), "rows": len(frame)})
