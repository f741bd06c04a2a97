"""tilt_report: does the tilt pay? The verdict over every week that has a backtest.

Unpartitioned and outside the weekly job: materialise it from the UI (or
``dg.materialize``) after a backfill or a week. It reads every stored week of
``tilt_backtest``, judges the weekly active return (tilt - baseline) with
``core.analytics`` and attaches the numbers, a table and a matplotlib chart to
its materialization. Formulas and sources: ``docs/analytics.md``.
"""

import dagster as dg
import numpy as np
import pandas as pd

from weighting_pipeline.assets import report
from weighting_pipeline.assets.charts import markdown_image, tilt_chart
from weighting_pipeline.assets.code_versions import REPORT_CODE_VERSION
from weighting_pipeline.assets.common import ANALYSIS_GROUP, OWNER
from weighting_pipeline.assets.report import markdown_table
from weighting_pipeline.core import analytics
from weighting_pipeline.resources.ledger_reader import LedgerReader
from weighting_pipeline.settings import WeightingSettings

ASSET = "tilt_report"
LEG_COLUMNS = {"tilt": "r_tilt", "baseline": "r_base", "naive": "r_naive"}


def policy_comparison(
    context: dg.AssetExecutionContext, keys: list[str], settings: WeightingSettings, ledger: LedgerReader
) -> dict:
    """``COMPARE_POLICIES``: the named designs through one backtest of the report's weeks
    (``core.sweep``, one ledger read), as a table and numbers (``policies/<name>/...``)."""
    from weighting_pipeline.core.calendar import WeekWindows
    from weighting_pipeline.core.chain import POLICIES
    from weighting_pipeline.core.sweep import sweep, weight_keys

    params, baseline = settings.params(), settings.baseline()
    names = [p.strip() for p in settings.compare_policies.split(",") if p.strip()]
    base = params if params.return_basis != "market" else params.replace(return_basis="lot")  # the sweep reads no bars
    lookback = max(
        [params.lookback_days, *(int(POLICIES[n].get("lookback_days", params.lookback_days)) for n in names)]
    )
    start = WeekWindows.for_keys(weight_keys(keys), lookback).window_starts.min()
    end = WeekWindows.for_keys(keys, 7).ends.max()
    read = ledger.read_lots(baseline.stems, start, end, positions=base.return_basis == "deployed")
    rows = read.bookings(base.pnl_date, base.return_basis)
    b = pd.Series(baseline.allocations, dtype=float).reindex(baseline.keys)
    result = sweep(rows, keys, b, {"policy": names}, base)
    table = result.table
    md = markdown_table(
        [
            "Policy",
            "IR",
            "SE (Newey-West)",
            "t (Newey-West)",
            f"Active after {base.cost_bps:g} bp, a year",
            "Max drawdown",
            "Turnover a week",
        ],
        [
            [
                r["policy"],
                f"{r['information_ratio']:.2f}",
                f"{r['ir_standard_error_hac']:.2f}",
                f"{r['t_statistic_hac']:.2f}",
                f"{100 * r['active_after_costs']:.2f}%",
                f"{100 * r['max_drawdown']:.1f}%",
                f"{100 * r['mean_turnover']:.2f}%",
            ]
            for _, r in table.iterrows()
        ],
        "lrrrrrr",
    )
    note = (
        f"Best: {result.best['policy']}; deflated Sharpe ratio {result.deflated_ratio:.3f} over {result.effective_trials:.1f} "
        f"effective trials of {len(table)} ({base.return_basis} basis{', the sweep reads no bars' if base is not params else ''})."
    )
    numbers = {
        f"policies/{r['policy']}/{c}": float(r[c])
        for _, r in table.iterrows()
        for c in (
            "information_ratio",
            "ir_standard_error_hac",
            "t_statistic_hac",
            "active_after_costs",
            "mean_turnover",
        )
        if np.isfinite(r[c])
    }
    return {
        "policies": dg.MetadataValue.md(f"{md}\n\n{note}"),
        "policies/deflated_ratio": float(result.deflated_ratio),
        "policies/effective_trials": float(result.effective_trials),
        **numbers,
    }


def missing_weeks(keys: list[str]) -> int:
    """Weeks without a backtest between the first and the last one that has one."""
    if len(keys) < 2:
        return 0
    span = (pd.Timestamp(keys[-1]) - pd.Timestamp(keys[0])).days // 7 + 1
    return span - len(keys)


def report_metadata(
    backtest: pd.DataFrame,
    risk_free: float,
    score: str = "sharpe",
    cost_bps: float = 0.0,
    return_basis: str = "lot",
    scored_on: str | None = None,
) -> dict:
    """The materialization's metadata from the stored backtest rows (one per week);
    ``score`` names what the multipliers mapped (and what ``rank_ic`` ranks);
    ``cost_bps`` is what the rows' net returns paid (``core.backtest``);
    ``return_basis`` what their returns are per (the basis they were judged on);
    ``scored_on`` the basis that scored the weights, when another."""
    frame = backtest.assign(partition_key=backtest["partition_key"].astype(str)).sort_values("partition_key")
    keys = list(frame["partition_key"])
    summary = analytics.tilt_summary(
        frame["r_tilt"],
        frame["r_base"],
        frame["r_naive"],
        frame["turnover"],
        frame["active_share"],
        frame["rank_ic"],
        risk_free,
    )
    growth = {leg: analytics.cumulative_growth(frame[col].to_numpy(float)) for leg, col in LEG_COLUMNS.items()}
    png = tilt_chart(pd.DatetimeIndex(keys), growth, frame["active"].to_numpy(float))
    after = analytics.verdict(frame["active_net"].to_numpy(float))  # tilt net of costs - baseline
    summary["active_after_costs"] = {name: float(v) for name, v in after.__dict__.items()}
    numbers = {f"{group}/{name}": value for group, stats in summary.items() for name, value in stats.items()}
    line = report.verdict_line(summary, keys, after, cost_bps, return_basis)
    if scored_on and scored_on != return_basis:
        line += (
            f"; the weights were scored on the {scored_on} basis (RETURN_BASIS={scored_on}) and judged on these returns"
        )
    scored = f"Weights tilted on the {report.SCORE_TITLES.get(score, score)} score (`SCORE={score}`); rank IC ranks that score."
    return {
        "verdict": line,
        "score": score,
        "return_basis": f"{return_basis}: {report.BASIS_LABELS[return_basis]}",
        "cost_bps": float(cost_bps),
        "weeks": len(keys),
        "first_week": keys[0],
        "last_week": keys[-1],
        "weeks_missing_inside": missing_weeks(keys),
        **{k: float(v) for k, v in numbers.items() if np.isfinite(v)},
        "report": dg.MetadataValue.md(
            f"**{line}**\n\n{scored}\n\n{markdown_image(png, 'cumulative growth and weekly active return')}\n\n{report.verdict_tables(summary, return_basis)}"
        ),
    }


@dg.asset(
    group_name=ANALYSIS_GROUP,
    owners=[OWNER],
    # Lets `dagster asset materialize --select '*' --partition-range ...` (one run for the
    # range) include the report; unpartitioned, it is materialised once in that run anyway.
    backfill_policy=dg.BackfillPolicy.single_run(),
    kinds={"pandas", "matplotlib"},
    code_version=REPORT_CODE_VERSION,
    ins={"tilt_backtest": dg.AssetIn(metadata={"allow_missing": True})},
    description=(
        "The tilt's verdict over every week with a backtest: growth of 1, annual return, volatility, Sharpe, "
        "drawdown and Calmar of tilt, baseline and naive; tracking error, information ratio with its Lo and "
        "Mertens/Opdyke standard errors, P(IR > 0), hit rate, t-statistic, turnover, active share, rank IC; a chart."
    ),
)
def tilt_report(
    context: dg.AssetExecutionContext, tilt_backtest: pd.DataFrame, settings: WeightingSettings, ledger: LedgerReader
) -> dg.MaterializeResult:
    if tilt_backtest.empty or "active" not in tilt_backtest:
        raise dg.Failure(
            f"{ASSET}: no week of tilt_backtest is stored yet; materialise the weekly chain for some weeks first"
        )
    params = settings.params()
    judged = sorted(set(tilt_backtest["judged_on"].dropna().astype(str))) if "judged_on" in tilt_backtest else []
    scored = sorted(set(tilt_backtest["scored_on"].dropna().astype(str))) if "scored_on" in tilt_backtest else []
    if len(judged) > 1:
        raise dg.Failure(
            f"{ASSET}: the stored weeks of tilt_backtest were judged on different return bases ({', '.join(judged)}); "
            "rematerialise tilt_backtest over them with one setting"
        )
    basis = judged[0] if judged else params.return_basis
    scored_on = ", ".join(scored) if scored else params.return_basis
    metadata = report_metadata(tilt_backtest, params.risk_free_rate, params.score, params.cost_bps, basis, scored_on)
    metadata["scored_on"] = scored_on
    if settings.compare_policies:
        metadata.update(
            policy_comparison(context, sorted(set(tilt_backtest["partition_key"].astype(str))), settings, ledger)
        )
    context.log.info(metadata["verdict"])
    return dg.MaterializeResult(metadata=metadata)
