"""What Dagster recorded for each week: materializations and check executions.

The audit trail, the alerts and the analysis after a publication read what
Dagster recorded of runs here; what was published each week, which the
backtest and the weights' checks need, is data in the publication log
(``publication.log``). Every lookup here is one query for a whole range of
weeks, not one per week.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg

from weighting_pipeline.dagster_internals import latest_check_executions, latest_storage_ids_by_partition

WEIGHT_ENTRY = "weight"  # dynamic_weights' metadata holds one "weight/<strategy>" entry per strategy


@dataclass(frozen=True)
class Materialization:
    """One week's materialization as the event log holds it."""

    week: str
    run_id: str
    storage_id: int
    timestamp: float
    metadata: Mapping[str, Any]  # entry -> plain value (numbers, text, dicts for JSON)


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
