"""Dagster's Postgres storage with a connection pool, for run workers and the daemon.

dagster-postgres builds its run, event-log and schedule storages on SQLAlchemy
engines with ``NullPool``: every statement outside the webserver opens a new
connection (a TCP and, on RDS, a TLS handshake and an authentication), so a
backfill that records each week's checks and metadata spends much of its time
connecting (docs/performance.md). Upstream has no pool setting yet (the pull
request dagster-io/dagster#33936 is open). This storage is
``DagsterPostgresStorage`` with one change: each of the three storages gets a
``QueuePool`` engine, with pre-ping (a connection RDS dropped is replaced, not
used) and recycle (none outlives RDS's idle limits). It is configured under
``storage: custom:`` in ``deploy/dagster.yaml``::

    storage:
      custom:
        module: weighting_pipeline.production.pg_storage
        class: PooledPostgresStorage
        config:
          postgres_db: {...}            # exactly dagster-postgres's block
          pool: {pool_size: 2, max_overflow: 3, pool_recycle: 1800}

Each process holds at most ``3 x (pool_size + max_overflow)`` connections
(three storages); a run worker needs two per storage at once (the
materialization path checks a second connection out while it holds one).
The webserver keeps dagster-postgres's own one-connection pool
(``optimize_for_webserver``), which replaces this one there.

Opening this storage also turns on Dagster's event batching in the process
(``dagster_internals.enable_event_batching``, unless ``DAGSTER_EVENT_BATCH_SIZE``
is set; ``0`` turns it off): a range's materializations of one asset are then
written as one multi-row insert per 500 weeks, not one each. Check evaluations
are never batched by Dagster 1.13.

The engines are replaced through the storages' ``_engine`` attribute, the one
private name this relies on (``dagster_internals.POSTGRES_ENGINE_ATTRIBUTE``);
``weighting_pipeline_tests/test_dagster_internals.py`` fails naming it if an
upgrade moves it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
import sqlalchemy.pool as db_pool
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_config, pg_url_from_config

from weighting_pipeline.dagster_internals import POSTGRES_ENGINE_ATTRIBUTE, POSTGRES_STORAGES, enable_event_batching

POOL_DEFAULTS = {"pool_size": 2, "max_overflow": 3, "pool_recycle": 1800}


def pool_config() -> dict:
    """The ``pool`` block: SQLAlchemy ``QueuePool`` sizes per storage engine, and seconds before a connection is replaced."""
    return {
        "pool_size": dg.Field(
            dg.IntSource,
            is_required=False,
            default_value=POOL_DEFAULTS["pool_size"],
            description="Connections each storage keeps open (run, event log, schedule: three storages).",
        ),
        "max_overflow": dg.Field(
            dg.IntSource,
            is_required=False,
            default_value=POOL_DEFAULTS["max_overflow"],
            description="Extra connections each storage may open under load, closed when returned.",
        ),
        "pool_recycle": dg.Field(
            dg.IntSource,
            is_required=False,
            default_value=POOL_DEFAULTS["pool_recycle"],
            description="Seconds after which a connection is replaced on checkout.",
        ),
    }


def pooled_engine(storage: Any, postgres_url: str, token_provider: Any, pool: Mapping[str, int]) -> None:
    """Replace ``storage``'s NullPool engine with a pooled one (pre-ping, recycle)."""
    old = getattr(storage, POSTGRES_ENGINE_ATTRIBUTE)
    setattr(
        storage,
        POSTGRES_ENGINE_ATTRIBUTE,
        create_pg_engine(
            postgres_url,
            token_provider,
            isolation_level="AUTOCOMMIT",
            poolclass=db_pool.QueuePool,
            pool_size=pool["pool_size"],
            max_overflow=pool["max_overflow"],
            pool_recycle=pool["pool_recycle"],
            pool_pre_ping=True,
        ),
    )
    old.dispose()


class PooledPostgresStorage(DagsterPostgresStorage):
    """``DagsterPostgresStorage`` whose run, event-log and schedule storages pool their connections."""

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: Any = None,
        token_provider: Any = None,
        pool: Mapping[str, int] | None = None,
    ):
        self.pool = {**POOL_DEFAULTS, **(pool or {})}
        if self.pool["pool_size"] < 2 or self.pool["max_overflow"] < 0 or self.pool["pool_recycle"] <= 0:
            raise ValueError(
                f"storage pool in dagster.yaml: pool_size must be >= 2 (a run worker holds two connections of a "
                f"storage at once), max_overflow >= 0 and pool_recycle > 0 seconds; got {self.pool}"
            )
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        # Runs on this storage write each output's per-week materializations as one multi-row
        # insert per batch (not on SQLite, where batches cost more than they save).
        enable_event_batching()
        for storage in (getattr(self, name) for name in POSTGRES_STORAGES):
            pooled_engine(storage, postgres_url, token_provider, self.pool)

    @classmethod
    def config_type(cls) -> dict:
        return {**pg_config(), "pool": dg.Field(pool_config(), is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Mapping[str, Any]) -> PooledPostgresStorage:
        return cls(
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            inst_data=inst_data,
            token_provider=get_token_provider_from_config(config_value),
            pool=config_value.get("pool"),
        )
