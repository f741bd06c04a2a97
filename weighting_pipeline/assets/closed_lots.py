"""closed_lots: the ledger's closed lots inside each week's lookback window."""

import dagster as dg

from weighting_pipeline.assets.checks import check_spec
from weighting_pipeline.assets.common import CHAIN, markdown_table, week_span
from weighting_pipeline.core.calendar import WeekWindows
from weighting_pipeline.core.lots import lots_by_week
from weighting_pipeline.resources.ledger_reader import LedgerReader
from weighting_pipeline.settings import WeightingSettings


@dg.asset(
    **CHAIN,
    kinds={"dynamodb", "pandas"},
    io_manager_key="intermediate_io_manager",
    check_specs=[
        check_spec(
            "ledger_items_valid", "closed_lots", "Every ledger item read was usable; skipped items are counted by reason (WARN).", blocking=False
        )
    ],
    description=(
        "Lots of the baseline strategies fully closed inside each week's lookback window "
        "[week end - lookback, week end), read from the trade ledger's GSI5 (no Scan). "
        "A lot appears once per week whose window holds it."
    ),
)
def closed_lots(context: dg.AssetExecutionContext, ledger: LedgerReader, settings: WeightingSettings):
    keys = context.partition_keys
    context.log.info(f"Strategy weighting invoked: run {context.run.run_id}, weeks {week_span(keys)}")
    params, baseline = settings.params(), settings.baseline()
    weeks = WeekWindows.for_keys(keys, params.lookback_days)
    start, end = weeks.union_bounds()
    read = ledger.read_closed_lots(baseline.stems, start, end)
    frame = lots_by_week(read.lots, weeks)
    per_week = frame.groupby("partition_key", observed=False).size()
    skipped = read.report.skipped
    if skipped:
        context.log.warning(f"Skipped {read.report.skipped_total} ledger items: {dict(skipped)}")
    yield dg.Output(
        frame,
        metadata={
            "window_start": dg.MetadataValue.timestamp(weeks.window_starts[0]),
            "window_end": dg.MetadataValue.timestamp(weeks.ends[-1]),
            "weeks": len(keys),
            "lots_in_window": len(read.lots),
            "rows": len(frame),
            "min_lots_per_week": int(per_week.min()) if len(per_week) else 0,
            "ledger_index": read.index + (" (close-date BETWEEN)" if read.index.startswith("GSI7") else " + FilterExpression: no close-date index, reads all closed history"),
            "items_read": read.scanned,
            "items_returned": read.report.items,
            "items_skipped": read.report.skipped_total,
            "read_amplification": round(read.read_amplification, 3),
            "query_pages": read.pages,
            "query_retries": read.retries,
            "read_seconds": round(read.seconds, 3),
            "skipped_items": dg.MetadataValue.md(
                markdown_table(
                    ["reason", "count", "example lot ids"],
                    [[r, n, ", ".join(read.report.examples[r])] for r, n in skipped.most_common()],
                )
                if skipped
                else "none"
            ),
            "ignored_ledger_strategies": dg.MetadataValue.json(dict(read.report.foreign_strategies)),
            "lots_per_strategy": dg.MetadataValue.json(
                {k: int(n) for k, n in read.lots["strategy"].value_counts().reindex(baseline.keys, fill_value=0).items()}
            ),
        },
    )
    yield dg.AssetCheckResult(
        check_name="ledger_items_valid",
        passed=not skipped,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{read.report.skipped_total} of {read.report.items} ledger items skipped",
        metadata={
            "items_skipped": read.report.skipped_total,
            **{f"skipped: {reason}": n for reason, n in skipped.most_common()},
        },
    )
