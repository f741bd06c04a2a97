"""A weekly run's storage overhead on the production instance, apart from imports.

One process, imports warm: the same one-week run of the chain (``dg.materialize``,
the deployment's resources) alternately on an in-memory instance (nothing stored
anywhere) and on the production storage (``deploy/dagster.yaml``'s ``storage``
block on Debian's PostgreSQL on 127.0.0.1). The difference of the medians is what
storing the run, its events and its per-week records costs; connections opened
are counted as SQLAlchemy opens them.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock


def run(n_strategies: int = 50, repeats: int = 5) -> dict:
    import dagster as dg

    from benchmarks.backfill import production_storage_yaml
    from benchmarks.ledgers import generated, seeded_environment
    from weighting_pipeline.assets import CHAIN_ASSETS
    from weighting_pipeline.deployments import build_resources
    from weighting_pipeline.settings import WeightingSettings
    from weighting_pipeline_devtools.postgres import LocalPostgres

    synthetic, keys, names = generated(n_strategies, 4, 2_000 * n_strategies // 50, seed=5)
    week = keys[-1]
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        seeded, _, _ = seeded_environment(stack, tmp, synthetic, names, "weekly")
        pg = stack.enter_context(LocalPostgres())
        # The settings and instance read the process environment: set for this run only.
        stack.enter_context(
            mock.patch.dict(os.environ, {**seeded, "INTERMEDIATES__BASE_PATH": str(tmp / "intermediates"), **pg.env()})
        )
        home = tmp / "home"
        home.mkdir()
        (home / "dagster.yaml").write_text(production_storage_yaml())
        resources = build_resources(WeightingSettings.from_env())
        with counting_connections() as opened_total:

            def once(open_instance) -> float:
                # A run worker opens the instance (and so its connections) for each run: timed too.
                t = time.perf_counter()
                with open_instance() as instance:
                    result = dg.materialize(
                        CHAIN_ASSETS, partition_key=week, instance=instance, resources=resources, raise_on_error=True
                    )
                    assert result.success
                    events[0] = len(instance.all_logs(result.run_id))
                return time.perf_counter() - t

            memory, production = dg.DagsterInstance.ephemeral, lambda: dg.DagsterInstance.from_config(str(home))
            events = [0]
            once(memory), once(production)  # warm: imports, the tables, the Parquet folders
            timings: dict[str, list[float]] = {"memory": [], "postgres": []}
            opened = []
            for _ in range(repeats):
                timings["memory"].append(once(memory))
                before = opened_total[0]
                timings["postgres"].append(once(production))
                opened.append(opened_total[0] - before)
    memory_s, postgres_s = statistics.median(timings["memory"]), statistics.median(timings["postgres"])
    return {
        "strategies": n_strategies,
        "week": week,
        "memory_median_s": memory_s,
        "median_s": postgres_s,
        "min_s": min(timings["postgres"]),
        "max_s": max(timings["postgres"]),
        "overhead_s": postgres_s - memory_s,
        "connections_opened": statistics.median(opened),
        "events": events[0],
    }


@contextlib.contextmanager
def counting_connections():
    """A one-item list counting every database connection SQLAlchemy opens in this process meanwhile."""
    from sqlalchemy import event
    from sqlalchemy.pool import Pool

    count = [0]

    def opened(*_):
        count[0] += 1

    event.listen(Pool, "connect", opened)
    try:
        yield count
    finally:
        event.remove(Pool, "connect", opened)
