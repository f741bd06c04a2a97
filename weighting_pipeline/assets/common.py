"""What every asset in the chain shares: partitions, backfill policy, owner, per-week metadata."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

from weighting_pipeline.partitions import weekly_partitions

OWNER = "team:quant-platform"
GROUP = "weighting"
ANALYSIS_GROUP = "analysis"  # the backtest and its report: their own job, after each publication

CHAIN = dict(
    partitions_def=weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name=GROUP,
    owners=[OWNER],
)


def week_span(keys: list[str]) -> str:
    """``2026-03-01`` or ``2026-03-01..2026-03-15 (3 weeks)`` for logs and metadata."""
    return keys[0] if len(keys) == 1 else f"{keys[0]}..{keys[-1]} ({len(keys)} weeks)"


def add_week_metadata(context: dg.AssetExecutionContext, per_week: Mapping[str, Mapping[str, Any]]) -> None:
    """Attach each week's own metadata to that week's materialization.

    Metadata given to ``Output`` is copied onto every week of a range; this is
    how a backfilled week gets its own numbers, exactly as a single-week run
    does. Call it before yielding the ``Output``.
    """
    for week, metadata in per_week.items():
        context.add_asset_metadata(dict(metadata), partition_key=week)


def by_strategy(prefix: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """``{"<prefix>/<strategy>": value}``: one numeric entry per strategy, which the UI plots across weeks."""
    return {f"{prefix}/{s}": v for s, v in values.items()}
