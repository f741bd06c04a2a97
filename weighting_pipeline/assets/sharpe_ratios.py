"""sharpe_ratios: annualised Sharpe per strategy and week, with skip reasons."""

import dagster as dg
import numpy as np
import pandas as pd

from weighting_pipeline.assets.common import CHAIN, markdown_table
from weighting_pipeline.core.calendar import WeekWindows
from weighting_pipeline.core.returns import DailyReturns
from weighting_pipeline.core.sharpe import sharpe_ratios as compute_sharpe
from weighting_pipeline.settings import WeightingSettings


def _fmt(x: float) -> str:
    return "-" if not np.isfinite(x) else f"{x:.4f}"


def sharpe_table(week: pd.DataFrame) -> str:
    return markdown_table(
        ["Strategy", "Sharpe", "Lots", "Days", "Skipped because"],
        [[r.strategy, _fmt(r.sharpe), r.lots, r.days, r.skip_reason or ""] for r in week.itertuples()],
    )


@dg.asset(
    **CHAIN,
    kinds={"pandas"},
    io_manager_key="intermediate_io_manager",
    description=(
        "(mean(r)*252 - rf) / (std(r, ddof=1)*sqrt(252)) per strategy and week, rf annual. Strategies with "
        "too few lots or close dates, a non-positive average position or zero volatility are skipped, with the reason."
    ),
)
def sharpe_ratios(context: dg.AssetExecutionContext, daily_returns: pd.DataFrame, settings: WeightingSettings) -> dg.Output[pd.DataFrame]:
    keys = context.partition_keys
    params, baseline = settings.params(), settings.baseline()
    daily = DailyReturns.from_frame(daily_returns, WeekWindows.for_keys(keys, params.lookback_days), baseline.keys)
    frame = compute_sharpe(daily, params.sharpe)
    last = frame[frame["partition_key"] == keys[-1]]
    for row in last.itertuples():
        context.log.info(f"Sharpe ratio for {row.strategy}: {_fmt(row.sharpe)}" + (f" (skipped: {row.skip_reason})" if row.skip_reason else ""))
    qualified = (frame["skip_reason"] == "").groupby(frame["partition_key"], observed=False).sum()
    metadata = {
        "weeks": len(keys),
        "min_qualified_per_week": int(qualified.min()),
        "skipped": dg.MetadataValue.json({str(r.strategy): r.skip_reason for r in last.itertuples() if r.skip_reason}),
    }
    if len(keys) == 1:
        # Per-strategy numbers only for single weeks: a range's metadata is copied to every
        # week in it, which would plot the last week's values for all of them.
        metadata["sharpe_table"] = dg.MetadataValue.md(sharpe_table(last))
        metadata.update({f"sharpe/{r.strategy}": float(r.sharpe) for r in last.itertuples() if np.isfinite(r.sharpe)})
        metadata.update({f"lots/{r.strategy}": int(r.lots) for r in last.itertuples()})
        metadata.update({f"days/{r.strategy}": int(r.days) for r in last.itertuples()})
    else:
        metadata["sharpe_table_last_week"] = dg.MetadataValue.md(f"Week {keys[-1]} (last of the range):\n\n" + sharpe_table(last))
    return dg.Output(frame, metadata=metadata)
