"""Publishes ``dynamic_weights`` to DynamoDB: one item per week, guarded.

Before anything is written, every week of the output must pass the blocking
invariants of ``core.invariants`` against the baseline and bounds it was
computed with, and carry provenance whose weights hash matches its weights;
then each item, as it will be stored, must pass the reader's own
``check_weights``, so nothing is published that trading would refuse.
A single violation refuses the whole output, so DynamoDB keeps the last good
weeks.

After writing, it appends what became of each week to the publication log
(``publication.log``), and it reads that log back as ``dynamic_weights``'
input: the published weeks are data that outlives the table's TTL.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd
from pydantic import Field

from weighting_pipeline.assets.common import week_span
from weighting_pipeline.core.calendar import WeekWindows
from weighting_pipeline.core.invariants import blocking_invariants
from weighting_pipeline.publication.item import TOMBSTONE, to_decimal, week_items
from weighting_pipeline.publication.log import PUBLISHED, REFUSED, SUPERSEDED, Entry, EntryRef, allocation_rows
from weighting_pipeline.publication.provenance import WeeklyWeights, week_weights
from weighting_pipeline.publication.weights_hash import weights_sha256_or_none
from weighting_pipeline.resources.publication_log import PublicationLog, PublishedWeeks
from weighting_pipeline.resources.weights_table import WeightsTable, WriteResult, to_wire
from weighting_pipeline_reader.item import ItemError, check_weights


class WeightsRejected(ValueError):
    """The IO manager refused to publish weights that break an invariant."""


class PublicationNotLogged(RuntimeError):
    """The weeks' fate could not be appended to the publication log (after the table was written)."""


def guard(weekly: WeeklyWeights, keys: list[str]) -> None:
    """Raise ``WeightsRejected`` naming every broken rule and week, else return."""
    frame, baseline = weekly.frame, weekly.baseline
    problems = []
    produced = sorted(set(frame["partition_key"].astype(str)))
    if produced != sorted(keys):
        problems.append(f"weeks in output {produced} differ from the run's partitions {sorted(keys)}")
    for rule in blocking_invariants(frame, baseline.keys, weekly.params.bounds):
        problems += [f"{rule.name} [{week}]: {why}" for week, why in rule.failures.items()]
    expected = frame["strategy"].astype(str).map(baseline.allocations)
    off = ~((expected - frame["baseline"]).abs() == 0)
    if off.any():
        weeks = sorted(set(frame.loc[off, "partition_key"].astype(str)))
        problems.append(f"baseline column differs from {baseline.source} in weeks {weeks}")
    for week, weights in week_weights(frame).items():
        recorded = weekly.provenance.get(week)
        if recorded is None:
            problems.append(f"no provenance for week {week}")
        elif recorded.weights_sha256 != weights_sha256_or_none(weights):
            problems.append(f"provenance of week {week} names other weights (weights_sha256 differs)")
    if problems:
        raise WeightsRejected("refusing to publish weights: " + "; ".join(problems))


def as_trading_reads(items: list[dict], baseline_allocations) -> None:
    """Raise ``WeightsRejected`` unless every item passes the reader's ``check_weights``
    against the baseline it was computed from (``baseline_allocations``: key -> float)."""
    wanted = {str(k): to_decimal(v) for k, v in baseline_allocations.items()}
    problems = []
    for item in items:
        try:
            check_weights(to_wire(item), item["partition_key"], wanted)
        except ItemError as exc:
            problems.append(str(exc))
    if problems:
        raise WeightsRejected("refusing to publish weights trading's reader would refuse: " + "; ".join(problems))


class DynamoDBWeightsIOManager(dg.ConfigurableIOManager):
    """Writes each week of ``dynamic_weights`` as one DynamoDB item with a TTL.

    ``handle_output`` takes a ``provenance.WeeklyWeights`` and appends each week's
    fate to ``log``; ``load_input`` gives the log (``PublishedWeeks``), whatever weeks
    the partition mapping asked for, since the backtest also reads its lots' entry weeks.
    """

    table: WeightsTable
    log: PublicationLog
    ttl_days: int = Field(default=7, gt=0, description="Days an item outlives max(write time, valid_until).")

    def handle_output(self, context: dg.OutputContext, obj: WeeklyWeights) -> None:
        keys = list(context.asset_partition_keys)
        guard(obj, keys)
        publish = obj.to_publish(keys)
        result = WriteResult()
        if publish:
            weeks = WeekWindows.for_keys(publish, obj.params.lookback_days)
            items = week_items(obj, weeks, written_at=pd.Timestamp.now(tz="UTC"), ttl_days=self.ttl_days)
            as_trading_reads(items, obj.baseline.allocations)
            result = self.table.put_weeks(items)
            if result.written:
                context.log.info(
                    f"Dynamic weights updated successfully: {len(result.written)} week(s) "
                    f"{week_span(result.written)} written to {self.table.table_name} (run {context.run_id})"
                )
        for week, winner in result.superseded.items():
            context.log_event(superseded(context, week, winner, obj.run_started_at, self.table.table_name))
        if result.superseded:
            context.log.warning(
                f"Not written to {self.table.table_name}, superseded by a later run or an unpublish: "
                f"weeks {sorted(result.superseded)}"
            )
        held = [k for k in keys if k not in publish]
        try:
            self.log.append(log_entries(obj, keys, result, obj.decided_at or pd.Timestamp.now(tz="UTC")))
        except Exception as exc:
            raise PublicationNotLogged(
                f"weeks {week_span(result.written) if result.written else '(none)'} were written to "
                f"{self.table.table_name}, but the publication log at {self.log.location} could not record "
                f"weeks {week_span(keys)} ({type(exc).__name__}: {exc}); the backtest and the checks read earlier "
                "weeks there: run these weeks again once it is writable"
            ) from exc
        if held:
            context.log.warning(
                f"Not written to {self.table.table_name}: weeks {held} ({obj.decisions[held[0]].reason})"
            )
        context.add_output_metadata(
            {
                "table": self.table.table_name,
                "items_written": len(result.written),
                "items_superseded": len(result.superseded),
                "write_requests": result.requests,
                "request_retries": result.request_retries,
                "run_started_at": dg.MetadataValue.timestamp(obj.run_started_at),
                "ttl_days": self.ttl_days,
            }
        )

    def load_input(self, context: dg.InputContext) -> PublishedWeeks:
        return self.log.weeks()


def log_entries(weekly: WeeklyWeights, keys: list[str], result: WriteResult, at: pd.Timestamp) -> list[Entry]:
    """One publication-log entry per week of ``keys``: ``published`` if the table took it,
    ``superseded`` if a later run or an unpublish held the item, ``refused`` if the
    publication rules held it back; each with the week's allocation and provenance."""
    by_week = {str(k): rows for k, rows in weekly.frame.groupby("partition_key", observed=True)}
    written = set(result.written)
    out = []
    for week in keys:
        decision = weekly.decisions.get(week)
        if week in written:
            action, note = PUBLISHED, {}
        elif week in result.superseded:
            action, note = SUPERSEDED, {"reason": "a later run or an unpublish holds the item"}
        else:
            action, note = REFUSED, {"reason": decision.reason if decision else "not written"}
        ref = EntryRef(week, at, action, weekly.provenance[week].run_id)
        out.append(Entry(ref, allocation_rows(by_week[week]), weekly.provenance[week].as_dict(), note))
    return out


def superseded(context: dg.OutputContext, week: str, winner: dict, mine: float, table: str) -> dg.AssetObservation:
    """The observation on ``week`` saying this run's write lost to ``winner`` (the stored item)."""
    unpublished = winner.get(TOMBSTONE)
    metadata = {
        "action": SUPERSEDED,
        "run_started_at": dg.MetadataValue.timestamp(mine),
        "superseded_by_run_id": "" if unpublished else str(winner.get("run_id", "")),
        "superseded_by_run_started_at": dg.MetadataValue.timestamp(float(winner.get("run_started_at", 0))),
        "weights_table": table,
        "reason": (
            f"the week was unpublished by {unpublished.get('by')} at {unpublished.get('at')}: {unpublished.get('reason')}"
            if unpublished
            else f"run {winner.get('run_id')} started later and wrote the week first"
        ),
    }
    return dg.AssetObservation(asset_key=context.asset_key, partition=week, metadata=metadata)
