"""sharpe_ratios: annualised Sharpe per strategy and week, with skip reasons."""

import dagster as dg
import pandas as pd

from weighting_pipeline.assets.code_versions import CODE_VERSIONS
from weighting_pipeline.assets.common import CHAIN, add_week_metadata
from weighting_pipeline.assets.week_metadata import fmt, sharpe_week_metadata
from weighting_pipeline.core.calendar import WeekWindows
from weighting_pipeline.core.returns import DailyReturns
from weighting_pipeline.core.sharpe import sharpe_ratios as compute_sharpe
from weighting_pipeline.settings import WeightingSettings


@dg.asset(
    **CHAIN,
    kinds={"pandas"},
    io_manager_key="intermediate_io_manager",
    code_version=CODE_VERSIONS["sharpe_ratios"],
    description=(
        "`(mean(r) * 252 - rf) / (std(r, ddof=1) * sqrt(252))` per strategy and week, `rf` annual. Strategies with "
        "too few lots or close dates, a non-positive average position or zero volatility are skipped, with the reason. "
        "Also the score the multipliers map (`SCORE`), the observations (`MISSING_DAYS`: close dates, or every NYSE "
        "trading day) and the Sharpe ratio's standard errors (Lo; Mertens/Opdyke)."
    ),
)
def sharpe_ratios(
    context: dg.AssetExecutionContext, daily_returns: pd.DataFrame, settings: WeightingSettings
) -> dg.Output[pd.DataFrame]:
    keys = context.partition_keys
    params, baseline = settings.params(), settings.baseline()
    daily = DailyReturns.from_frame(
        daily_returns,
        WeekWindows.for_keys(keys, params.lookback_days),
        baseline.keys,
        params.pnl_date,
        params.return_basis,
    )
    frame = compute_sharpe(daily, params.sharpe)
    for row in frame[frame["partition_key"] == keys[-1]].itertuples():
        context.log.info(
            f"Sharpe ratio for {row.strategy}: {fmt(row.sharpe)}"
            + (f" (skipped: {row.skip_reason})" if row.skip_reason else "")
        )
    add_week_metadata(
        context,
        {str(k): sharpe_week_metadata(rows, params) for k, rows in frame.groupby("partition_key", observed=True)},
    )
    return dg.Output(frame, metadata={"weeks": len(keys)})
