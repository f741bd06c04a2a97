"""daily_returns: each strategy's simple daily returns inside each window."""

import dagster as dg
import pandas as pd

from weighting_pipeline.assets.code_versions import CODE_VERSIONS
from weighting_pipeline.assets.common import CHAIN, add_week_metadata
from weighting_pipeline.core.calendar import WeekWindows
from weighting_pipeline.core.chain import check_rows
from weighting_pipeline.core.deployed import deployed_grid
from weighting_pipeline.core.lots import distinct_lots
from weighting_pipeline.core.market import MarketDataError, bars_days, market_returns, symbols_of
from weighting_pipeline.core.returns import daily_returns as compute_daily_returns
from weighting_pipeline.resources.market_data import MarketData, bars_metadata
from weighting_pipeline.settings import WeightingSettings


@dg.asset(
    **CHAIN,
    kinds={"pandas"},
    io_manager_key="intermediate_io_manager",
    code_version=CODE_VERSIONS["daily_returns"],
    description=(
        "Per week and strategy: realised P&L booked on each New York date (by `PNL_DATE`: lots fully closed that "
        "date, or exit records of that date) divided, by `RETURN_BASIS`, by the window's average position value "
        "(`lot`: mean `entry_qty * entry_price` over the distinct lots that booked P&L in it) or by the date's deployed "
        "notional (`deployed`: the entry notional still held in the strategy's lots that date). Dates without bookings "
        "are skipped. Under `market`: every held position marked to trading's daily closes (`MARKET_DATA_BUCKET`), "
        "P&L over the value at work, one return per NYSE session with positions."
    ),
)
def daily_returns(
    context: dg.AssetExecutionContext, closed_lots: pd.DataFrame, settings: WeightingSettings, market_data: MarketData
) -> dg.Output[pd.DataFrame]:
    params, baseline = settings.params(), settings.baseline()
    keys = context.partition_keys
    weeks = WeekWindows.for_keys(keys, params.lookback_days)
    check_rows(closed_lots, params)  # the stored rows must be the settings' kind
    rows = distinct_lots(closed_lots)
    extra = {}
    if params.return_basis == "market":
        try:
            bars = market_data.bars(symbols_of(rows), *bars_days(weeks))
            frame = market_returns(rows, weeks, baseline.keys, bars).to_frame()
        except MarketDataError as exc:
            raise dg.Failure(f"daily_returns: {exc}") from None
        extra = bars_metadata(market_data)
    else:
        deployed = deployed_grid(rows, weeks, baseline.keys) if params.return_basis == "deployed" else None
        frame = compute_daily_returns(rows, weeks, baseline.keys, deployed=deployed).to_frame()
    per_week = frame.groupby("partition_key", observed=False)
    held = {str(k): symbols_of(r) for k, r in closed_lots.groupby("partition_key", observed=False)} if extra else {}
    add_week_metadata(
        context,
        {
            str(key): {
                "return_observations": len(rows),
                "strategies_with_returns": int(rows["strategy"].nunique()),
                # The bars this week was marked with: the files of the symbols held in its window.
                **(bars_metadata(market_data, held.get(str(key), [])) if extra else {}),
            }
            for key, rows in per_week
        },
    )
    return dg.Output(
        frame, metadata={"weeks": len(keys), "rows": len(frame), "return_basis": params.return_basis, **extra}
    )
