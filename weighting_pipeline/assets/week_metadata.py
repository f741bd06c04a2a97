"""What each asset shows per week in the UI: tables and plotted numbers.

Presentation only: nothing here changes a number an asset stores or publishes, so
this module is in no code version (``code_versions``), and rewording a table here
leaves every stored week usable.
"""

from __future__ import annotations

import dagster as dg
import numpy as np
import pandas as pd

from weighting_pipeline.assets.common import by_strategy
from weighting_pipeline.assets.report import markdown, markdown_table
from weighting_pipeline.core.chain import WeightingParams
from weighting_pipeline.history import WEIGHT_ENTRY
from weighting_pipeline.publication.provenance import Provenance
from weighting_pipeline.publication.restatement import Restatement
from weighting_pipeline.resources.ledger_reader import LedgerRead
from weighting_pipeline.resources.table_schema import GSI7

LEDGER_INDEX = "ledger_index"  # metadata entry naming the index the week's lots were read through


def ledger_read_metadata(read: LedgerRead, n_weeks: int, rows: int) -> dict:
    """Facts of the run's one ledger read (the same on every week of a range)."""
    report = read.report
    return {
        LEDGER_INDEX: read.index,
        "ledger_plan": "close-date range from the window start"
        if read.index == GSI7
        else "FilterExpression: no close-date index, reads all closed history",
        "weeks": n_weeks,
        "rows": rows,
        "items_read": read.scanned,
        "items_returned": report.items,
        "items_skipped": report.skipped_total,
        "read_amplification": round(read.read_amplification, 3),
        "query_pages": read.pages,
        "query_retries": read.retries,
        "read_seconds": round(read.seconds, 3),
        "skipped_items": dg.MetadataValue.md(
            markdown_table(
                ["reason", "count", "example lot ids"],
                [[r, n, ", ".join(report.examples[r])] for r, n in report.skipped.most_common()],
            )
            if report.skipped
            else "none"
        ),
        "ignored_ledger_strategies": dg.MetadataValue.json(dict(report.foreign_strategies)),
    }


def fmt(x: float) -> str:
    """A ratio for a table or a log line: four decimals, '-' where not finite."""
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
                fmt(r.sharpe),
                fmt(r.sharpe_se_iid),
                fmt(r.sharpe_se),
                fmt(r.sharpe_se_hac),
                *([fmt(r.score)] if score_header else []),
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


def sharpe_week_metadata(week: pd.DataFrame, params: WeightingParams) -> dict:
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


def weights_week_metadata(
    week: pd.DataFrame,
    score: str,
    provenance: Provenance,
    turnover: float | None,
    qualified: int,
    restated: Restatement,
) -> dict:
    """One week's weights table, per-strategy weights (plotted across weeks), the score the
    multipliers mapped (``score``, its name; ``scores``, each qualified strategy's value) and provenance."""
    meta = {
        "weights_table": dg.MetadataValue.md(markdown(week, score)),
        **by_strategy(WEIGHT_ENTRY, {str(r.strategy): float(r.weight) for r in week.itertuples()}),
        "score": score,
        "scores": dg.MetadataValue.json(
            {str(r.strategy): float(r.score) for r in week.itertuples() if r.skip_reason == ""}
        ),
        # The week's weights without smoothing; equal to the weights when SMOOTHING is 1.
        "target_weights": dg.MetadataValue.json({str(r.strategy): float(r.target_weight) for r in week.itertuples()}),
        "qualified": qualified,
        "restatement": restated.summary(),
        "allocation": dg.MetadataValue.json(
            {
                str(r.strategy): {
                    "baseline": float(r.baseline),
                    "sharpe": float(r.sharpe) if np.isfinite(r.sharpe) else None,
                    "score": float(r.score) if np.isfinite(r.score) else None,
                    "multiplier": float(r.multiplier),
                    "weight": float(r.weight),
                    "skip_reason": r.skip_reason,
                }
                for r in week.itertuples()
            }
        ),
    }
    if turnover is not None:
        meta["turnover"] = float(turnover)
    for name, value in provenance.as_dict().items():
        meta[name] = dg.MetadataValue.json(value) if isinstance(value, dict) else str(value)
    return meta
