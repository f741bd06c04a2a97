"""The Dagster internals this project needs, in one place, because no public API offers them.

* ``PartitionKeyFilter`` and ``latest_check_executions``: the only way to ask the event
  log for the latest check execution of one partition (``check_statuses`` in
  ``history``), one query per week.
* ``TargetMaterialization``: ties an ``AssetCheckEvaluation`` to the partition's
  materialization, so a check reported for a week of a backfill range is recorded
  against that week (``assets/checks.py``).
* ``POSTGRES_ENGINE_ATTRIBUTE``: where dagster-postgres's run, event-log and
  schedule storages keep their SQLAlchemy engine, which ``production.pg_storage``
  replaces with a pooled one (no public pool setting exists yet).
* ``POSTGRES_STORAGES``: the attributes of ``DagsterPostgresStorage`` holding those three
  storages, whose engines the pool replaces.
* ``latest_storage_ids_by_partition``: the event log's index of each partition's newest
  event of a kind (``EventLogStorage.get_latest_storage_id_by_partition``), which lets
  ``history.latest_materializations`` fetch one record per week instead of every one.
* ``get_cursor_value`` and ``set_cursor_value``: the instance's key-value store that the
  daemon keeps its cursors in (``RunStorage.get_cursor_values``); the scheduled
  runtime's task, which has no sensor to hold a cursor, keeps the live-week alert's there.
* ``EVENT_BATCH_SIZE_ENV``: the environment variable that makes a run write a
  range's materializations of one output as batches (one multi-row insert on
  Postgres) instead of one insert each; undocumented, read by Dagster at each
  event. ``enable_event_batching`` sets it where it is unset.

``weighting_pipeline_tests/test_dagster_internals.py`` checks each and fails
naming the one a Dagster upgrade moved; fix it here, nowhere else.
"""

from __future__ import annotations

import os

from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData as TargetMaterialization,
)
from dagster._core.event_api import PartitionKeyFilter

POSTGRES_ENGINE_ATTRIBUTE = "_engine"
POSTGRES_STORAGES = ("_run_storage", "_event_log_storage", "_schedule_storage")
EVENT_BATCH_SIZE_ENV = "DAGSTER_EVENT_BATCH_SIZE"
EVENT_BATCH_SIZE = 500  # events of one output per insert: a 261-week range writes each asset's weeks in one


def enable_event_batching(environ=os.environ) -> None:
    """Batch each output's per-week materializations, unless the deployment set
    ``DAGSTER_EVENT_BATCH_SIZE`` itself (``0`` turns batching off)."""
    environ.setdefault(EVENT_BATCH_SIZE_ENV, str(EVENT_BATCH_SIZE))


def latest_check_executions(instance, check_keys, week: str) -> dict:
    """Check key -> its latest execution record for partition ``week``
    (``EventLogStorage.get_latest_asset_check_execution_by_key``)."""
    return instance.event_log_storage.get_latest_asset_check_execution_by_key(
        list(check_keys), partition_filter=PartitionKeyFilter(key=week)
    )


def latest_storage_ids_by_partition(instance, asset_key, event_type, partitions: set[str]) -> dict[str, int]:
    """Partition -> the storage id of its newest ``event_type`` event of ``asset_key``."""
    return instance.event_log_storage.get_latest_storage_id_by_partition(asset_key, event_type, partitions)


def get_cursor_value(instance, key: str) -> str | None:
    """The value stored under ``key`` in the instance's cursor store, or None."""
    return instance.run_storage.get_cursor_values({key}).get(key)


def set_cursor_value(instance, key: str, value: str) -> None:
    """Store ``value`` under ``key`` in the instance's cursor store (replacing any)."""
    instance.run_storage.set_cursor_values({key: value})


__all__ = [
    "EVENT_BATCH_SIZE_ENV",
    "POSTGRES_ENGINE_ATTRIBUTE",
    "POSTGRES_STORAGES",
    "PartitionKeyFilter",
    "TargetMaterialization",
    "enable_event_batching",
    "get_cursor_value",
    "latest_check_executions",
    "latest_storage_ids_by_partition",
    "set_cursor_value",
]
