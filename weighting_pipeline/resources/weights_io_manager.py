"""Publishes ``dynamic_weights`` to DynamoDB: one item per week, guarded.

Before anything is written, every week of the output must pass the blocking
invariants of ``core.invariants`` against the baseline and bounds it was
computed with, and carry provenance whose weights hash matches its weights.
A single violation refuses the whole output, so DynamoDB keeps the last good
weeks.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd
from pydantic import Field

from weighting_pipeline.core.calendar import WeekWindows
from weighting_pipeline.core.invariants import blocking_invariants
from weighting_pipeline.publication.provenance import WeeklyWeights, week_weights
from weighting_pipeline.publication.weights_hash import weights_sha256_or_none
from weighting_pipeline.publication.item import items_to_frame, week_items
from weighting_pipeline.resources.weights_table import WeightsTable


class WeightsRejected(ValueError):
    """The IO manager refused to publish weights that break an invariant."""


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


class DynamoDBWeightsIOManager(dg.ConfigurableIOManager):
    """Writes each week of ``dynamic_weights`` as one DynamoDB item with a TTL.

    ``handle_output`` takes a ``provenance.WeeklyWeights``; ``load_input``
    returns the stored weeks as a weights frame (``core.weights.WEIGHT_COLUMNS``
    without ``naive_weight``).
    """

    table: WeightsTable
    ttl_days: int = Field(default=7, gt=0, description="Days an item outlives max(write time, valid_until).")

    def handle_output(self, context: dg.OutputContext, obj: WeeklyWeights) -> None:
        keys = list(context.asset_partition_keys)
        guard(obj, keys)
        publish = obj.to_publish(keys)
        stats = {"requests": 0, "unprocessed_retries": 0, "request_retries": 0}
        items = []
        if publish:
            weeks = WeekWindows.for_keys(publish, obj.params.lookback_days)
            items = week_items(obj, weeks, written_at=pd.Timestamp.now(tz="UTC"), ttl_days=self.ttl_days)
            stats = self.table.put_weeks(items)
            context.log.info(
                f"Dynamic weights updated successfully: {len(items)} week(s) "
                f"{publish[0]}..{publish[-1]} written to {self.table.table_name} (run {context.run_id})"
            )
        held = [k for k in keys if k not in publish]
        if held:
            context.log.warning(f"Not written to {self.table.table_name}: weeks {held} ({obj.decisions[held[0]].reason})")
        context.add_output_metadata(
            {
                "table": self.table.table_name,
                "items_written": len(items),
                "write_requests": stats["requests"],
                "unprocessed_retries": stats["unprocessed_retries"],
                "request_retries": stats["request_retries"],
                "ttl_days": self.ttl_days,
            }
        )

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        keys = list(context.asset_partition_keys)
        client = self.table.dynamodb.get_client()
        items = [self.table.get_week(k, client) for k in keys]
        missing = [k for k, item in zip(keys, items) if item is None]
        if missing:
            raise KeyError(f"no weights stored in {self.table.table_name} for weeks {missing}")
        return items_to_frame(items)
