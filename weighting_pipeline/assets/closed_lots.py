"""closed_lots: the ledger's closed lots inside each week's lookback window."""

import dagster as dg

from weighting_pipeline.assets.checks import check_spec, emit, per_week
from weighting_pipeline.assets.code_versions import CODE_VERSIONS
from weighting_pipeline.assets.common import CHAIN, add_week_metadata, by_strategy, week_span
from weighting_pipeline.assets.report import markdown_table
from weighting_pipeline.assets.week_metadata import ledger_read_metadata
from weighting_pipeline.core.calendar import WeekWindows
from weighting_pipeline.core.deployed import held_by_week
from weighting_pipeline.core.invariants import Invariant
from weighting_pipeline.core.lots import lots_by_week, open_lot_exits
from weighting_pipeline.resources.ledger_items import skips_by_week
from weighting_pipeline.resources.ledger_reader import LedgerRead, LedgerReader
from weighting_pipeline.settings import WeightingSettings

LEDGER_CHECK = "ledger_items_valid"


@dg.asset(
    **CHAIN,
    kinds={"dynamodb", "pandas"},
    io_manager_key="intermediate_io_manager",
    code_version=CODE_VERSIONS["closed_lots"],
    check_specs=[
        check_spec(
            LEDGER_CHECK,
            "closed_lots",
            "Every ledger item in the week's window was usable; skipped items are counted by reason (WARN).",
            blocking=False,
        )
    ],
    description=(
        "The rows that book each week's realised P&L inside its lookback window `[week end - lookback, week end)`, "
        "by `PNL_DATE`: `close` (default), the lots of the baseline strategies fully closed in it; `exit`, the exit "
        "records in it, of open lots too; under `RETURN_BASIS=deployed` or `market`, the positions of every lot held in it "
        "(one entry row per lot, and its exit records before the week's end). Read from the trade ledger by index Query (GSI5; GSI7 on close time "
        "where the table has it; never Scan). A row appears once per week whose window holds it. Metadata shows, "
        "per strategy, the lots still open at the week's end with exits in the window (what `close` leaves out)."
    ),
)
def closed_lots(context: dg.AssetExecutionContext, ledger: LedgerReader, settings: WeightingSettings):
    keys = context.partition_keys
    context.log.info(f"Strategy weighting invoked: run {context.run.run_id}, weeks {week_span(keys)}")
    params, baseline = settings.params(), settings.baseline()
    weeks = WeekWindows.for_keys(keys, params.lookback_days)
    start, end = weeks.union_bounds()
    deployed = params.return_basis in ("deployed", "market")  # both compute from every lot held
    read = ledger.read_lots(baseline.stems, start, end, positions=deployed)
    rows = read.bookings(params.pnl_date, params.return_basis)
    frame = held_by_week(rows, weeks) if deployed else lots_by_week(rows, weeks)
    open_count, open_pnl = open_lot_exits(lots_by_week(read.exits, weeks), weeks, list(baseline.keys))
    if read.report.skipped:
        context.log.warning(f"Skipped {read.report.skipped_total} ledger items: {dict(read.report.skipped)}")

    closed = lots_by_week(read.lots, weeks)
    counts = closed.groupby(["partition_key", "strategy"], observed=False).size().unstack("strategy")
    counts = counts.reindex(index=keys, columns=baseline.keys, fill_value=0)
    add_week_metadata(
        context,
        {
            key: {
                "window_start": dg.MetadataValue.timestamp(weeks.window_starts[i]),
                "window_end": dg.MetadataValue.timestamp(weeks.ends[i]),
                "lots_in_window": int(counts.loc[key].sum()),
                **by_strategy("lots", {s: int(n) for s, n in counts.loc[key].items()}),
                **by_strategy("open_lots_with_exits", {s: int(n) for s, n in open_count.loc[key].items()}),
                **by_strategy("open_lots_realized_pnl", {s: float(x) for s, x in open_pnl.loc[key].items()}),
            }
            for i, key in enumerate(keys)
        },
    )
    pnl_date = "none: positions are marked to market" if params.return_basis == "market" else params.pnl_date
    yield dg.Output(
        frame,
        metadata={
            "pnl_date": pnl_date,
            "return_basis": params.return_basis,
            **ledger_read_metadata(read, len(keys), len(frame)),
        },
    )
    yield from emit(context, ledger_checks(read, weeks))


def ledger_checks(read: LedgerRead, weeks: WeekWindows):
    """``ledger_items_valid`` per week: the skipped items whose close time falls in its window."""
    parts = dict(zip(weeks.keys, skips_by_week(read.report, weeks)))
    rule = Invariant(
        LEDGER_CHECK,
        "every ledger item in the week's lookback window was usable",
        {
            k: f"{p.total} ledger item(s) skipped: " + ", ".join(f"{r} ({n})" for r, n in p.counts.most_common())
            for k, p in parts.items()
            if p.total
        },
        {k: {"items_skipped": p.total} for k, p in parts.items()},
        {k: "skipped: " + ", ".join(sorted(p.counts)) for k, p in parts.items() if p.total},
    )
    extra = {
        k: {
            **{f"skipped: {r}": n for r, n in p.counts.most_common()},
            **(
                {
                    "examples": dg.MetadataValue.md(
                        markdown_table(
                            ["reason", "example lot ids"],
                            [[r, ", ".join(p.examples[r])] for r, _ in p.counts.most_common()],
                        )
                    )
                }
                if p.total
                else {}
            ),
        }
        for k, p in parts.items()
    }
    return per_week(rule, "closed_lots", list(weeks.keys), blocking=False, extra=extra)
