"""What every asset in the chain shares: partitions, backfill policy, owner."""

import dagster as dg

from weighting_pipeline.partitions import weekly_partitions

OWNER = "team:quant-platform"
GROUP = "weighting"

CHAIN = dict(
    partitions_def=weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name=GROUP,
    owners=[OWNER],
)


def week_span(keys: list[str]) -> str:
    """``2026-03-01`` or ``2026-03-01..2026-03-15 (3 weeks)`` for logs and metadata."""
    return keys[0] if len(keys) == 1 else f"{keys[0]}..{keys[-1]} ({len(keys)} weeks)"


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
