"""What Dagster recorded for each week: materializations and check executions.

The event log outlives the weights table's TTL (it lives in the instance's
storage: SQLite locally, Postgres in production), so it is where earlier
publications, turnover's previous week and the audit trail are read from.
Every lookup here is one query for a whole range of weeks, not one per week.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pandas as pd

from weighting_pipeline.core.backtest import LEGACY, PUBLISHED, REFUSED
from weighting_pipeline.dagster_internals import latest_check_executions, latest_storage_ids_by_partition
from weighting_pipeline.publication.provenance import Provenance

PROVENANCE_FIELDS = tuple(Provenance.__dataclass_fields__)
WEIGHT_ENTRY = "weight"  # dynamic_weights' metadata holds one "weight/<strategy>" entry per strategy


@dataclass(frozen=True)
class Materialization:
    """One week's materialization as the event log holds it."""

    week: str
    run_id: str
    storage_id: int
    timestamp: float
    metadata: Mapping[str, Any]  # entry -> plain value (numbers, text, dicts for JSON)

    def weights(self) -> dict[str, float] | None:
        """Strategy -> weight from the ``weight/<strategy>`` entries, or None if there are none."""
        prefix = WEIGHT_ENTRY + "/"
        found = {k[len(prefix) :]: float(v) for k, v in self.metadata.items() if k.startswith(prefix)}
        return found or None

    def provenance(self) -> dict[str, Any]:
        """The provenance entries recorded with the week (empty for weeks written before they existed)."""
        return {k: v for k, v in self.metadata.items() if k in PROVENANCE_FIELDS}


def latest_materializations(
    instance: dg.DagsterInstance, asset: str, weeks: Iterable[str]
) -> dict[str, Materialization]:
    """The newest materialization of each of ``weeks`` of ``asset`` (weeks without one are absent)."""
    key = dg.AssetKey(asset)
    ids = latest_storage_ids_by_partition(instance, key, dg.DagsterEventType.ASSET_MATERIALIZATION, set(weeks))
    if not ids:
        return {}
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, storage_ids=list(ids.values())), limit=len(ids)
    ).records
    out = {}
    for r in records:
        event = r.asset_materialization
        out[r.partition_key] = Materialization(
            r.partition_key, r.run_id, r.storage_id, r.timestamp, {k: v.value for k, v in event.metadata.items()}
        )
    return out


def materializations_of_runs(
    instance: dg.DagsterInstance, asset: str, run_ids: Iterable[str]
) -> dict[tuple[str, str], Materialization]:
    """(run id, week) -> that run's materialization of that week of ``asset``: one paged
    query per run (a 261-week backfill is one run)."""
    key = dg.AssetKey(asset)
    out: dict[tuple[str, str], Materialization] = {}
    for run_id in sorted(set(run_ids)):
        cursor = None
        while True:
            page = instance.get_records_for_run(
                run_id, cursor=cursor, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=1000
            )
            for r in page.records:
                event = r.asset_materialization
                if event is not None and r.asset_key == key and r.partition_key is not None:
                    out[(run_id, r.partition_key)] = Materialization(
                        r.partition_key,
                        run_id,
                        r.storage_id,
                        r.timestamp,
                        {k: v.value for k, v in event.metadata.items()},
                    )
            if not page.has_more:
                break
            cursor = page.cursor
    return out


def check_statuses(
    instance: dg.DagsterInstance, check_keys: Iterable[dg.AssetCheckKey], week: str
) -> dict[dg.AssetCheckKey, Any]:
    """The latest execution record of each check for ``week`` (checks never run for it are absent).

    A record's ``status`` is PLANNED, SUCCEEDED or FAILED; its ``event`` holds the evaluation.
    """
    return dict(latest_check_executions(instance, check_keys, week))


UNPUBLISH_ACTION = "unpublished"  # the ``action`` of an unpublish observation (``ops.unpublish``)


def _pages(fetch, records_filter: dg.AssetRecordsFilter):
    """Every record ``fetch`` (``instance.fetch_materializations`` or ``fetch_observations``)
    returns for ``records_filter``, newest first, a page of 1000 at a time."""
    cursor = None
    while True:
        page = fetch(records_filter, limit=1000, cursor=cursor)
        yield from page.records
        if not page.has_more:
            return
        cursor = page.cursor


def publications(
    instance: dg.DagsterInstance, asset: str, weeks: Iterable[str]
) -> tuple[dict[str, str], dict[str, Materialization]]:
    """What the event log says of each week's weights: week -> ``PUBLISHED`` (some
    materialization recorded ``published`` true), ``REFUSED`` (materialized, never
    published) or ``LEGACY`` (materialized before ``published`` was recorded; weeks
    never materialized are absent), and week -> the materialization that counts: the
    newest published one, or for a legacy week its newest one."""
    states: dict[str, str] = {}
    chosen: dict[str, Materialization] = {}
    weeks = sorted(set(weeks))
    records = (
        _pages(
            instance.fetch_materializations, dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=weeks)
        )
        if weeks
        else []
    )
    for r in records:  # newest first
        week, metadata = r.partition_key, {k: v.value for k, v in r.asset_materialization.metadata.items()}
        if states.get(week) == PUBLISHED:
            continue
        if metadata.get("published") is True:
            states[week], chosen[week] = PUBLISHED, Materialization(week, r.run_id, r.storage_id, r.timestamp, metadata)
        elif "published" in metadata:
            states[week] = REFUSED
        elif week not in states:
            # The newest lacks "published", so none older records it (the field came later).
            states[week], chosen[week] = LEGACY, Materialization(week, r.run_id, r.storage_id, r.timestamp, metadata)
    return states, {w: m for w, m in chosen.items() if states[w] in (PUBLISHED, LEGACY)}


def unpublished_since(
    instance: dg.DagsterInstance, asset: str, chosen: Mapping[str, Materialization]
) -> dict[str, pd.Timestamp]:
    """Week -> when it was unpublished, for each week of ``chosen`` whose newest unpublish
    observation came after that materialization (``ops.unpublish`` records them)."""
    out: dict[str, pd.Timestamp] = {}
    seen: set[str] = set()
    weeks = sorted(chosen)
    records = (
        _pages(instance.fetch_observations, dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=weeks))
        if weeks
        else []
    )
    for record in records:  # newest first
        metadata = {k: v.value for k, v in record.asset_observation.metadata.items()}
        week = record.partition_key
        if metadata.get("action") != UNPUBLISH_ACTION or week in seen:
            continue
        seen.add(week)
        if record.storage_id > chosen[week].storage_id:
            out[week] = pd.Timestamp(metadata["at"])
    return out
