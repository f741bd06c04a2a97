"""sharpe_ratios: annualised Sharpe per strategy and week, with skip reasons."""

import dagster as dg
import numpy as np
import pandas as pd

from weighting_pipeline.assets.code_versions import CODE_VERSIONS
from weighting_pipeline.assets.common import CHAIN, add_week_metadata, by_strategy
from weighting_pipeline.assets.report import markdown_table
from weighting_pipeline.core.calendar import WeekWindows
from weighting_pipeline.core.chain import WeightingParams
from weighting_pipeline.core.returns import DailyReturns
from weighting_pipeline.core.sharpe import sharpe_ratios as compute_sharpe
from weighting_pipeline.settings import WeightingSettings


def _fmt(x: float) -> str:
    return "-" if not np.isfinite(x) else f"{x:.4f}"


def sharpe_table(week: pd.DataFrame, score: str) -> str:
    score_header = [] if score == "sharpe" else [score.capitalize()]
    return markdown_table(
        [
            "Strategy",
            "Sharpe",
            "SE (Lo)",
            "SE (Mertens)",
            "SE (Newey-West)",
            *score_header,
            "Lots",
            "Close dates",
            "Observations",
            "Skipped because",
        ],
        [
            [
                r.strategy,
                _fmt(r.sharpe),
                _fmt(r.sharpe_se_iid),
                _fmt(r.sharpe_se),
                _fmt(r.sharpe_se_hac),
                *([_fmt(r.score)] if score_header else []),
                r.lots,
                r.days,
                r.observations,
                r.skip_reason or "",
            ]
            for r in week.itertuples()
        ],
        "lrrrr" + "r" * len(score_header) + "rrrl",
    )


def _finite(prefix: str, week: pd.DataFrame, column: str) -> dict:
    return by_strategy(prefix, {str(s): float(v) for s, v in zip(week["strategy"], week[column]) if np.isfinite(v)})


def week_metadata(week: pd.DataFrame, params: WeightingParams) -> dict:
    """One week's Sharpe table, per-strategy numbers (plotted across weeks), the
    Sharpe ratios' standard errors and skip reasons."""
    return {
        "sharpe_table": dg.MetadataValue.md(sharpe_table(week, params.score)),
        "qualified": int((week["skip_reason"] == "").sum()),
        "score": params.score,
        "missing_days": params.missing_days,
        "skipped": dg.MetadataValue.json({str(r.strategy): r.skip_reason for r in week.itertuples() if r.skip_reason}),
        **_finite("sharpe", week, "sharpe"),
        **(_finite(params.score, week, "score") if params.score != "sharpe" else {}),
        **_finite("sharpe_se", week, "sharpe_se"),
        **_finite("sharpe_se_iid", week, "sharpe_se_iid"),
        **_finite("sharpe_se_hac", week, "sharpe_se_hac"),
        **by_strategy("lots", {str(r.strategy): int(r.lots) for r in week.itertuples()}),
        **by_strategy("days", {str(r.strategy): int(r.days) for r in week.itertuples()}),
        **by_strategy("observations", {str(r.strategy): int(r.observations) for r in week.itertuples()}),
    }


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
            f"Sharpe ratio for {row.strategy}: {_fmt(row.sharpe)}"
            + (f" (skipped: {row.skip_reason})" if row.skip_reason else "")
        )
    add_week_metadata(
        context, {str(k): week_metadata(rows, params) for k, rows in frame.groupby("partition_key", observed=True)}
    )
    return dg.Output(frame, metadata={"weeks": len(keys)})
