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
import json
import os
import statistics
import tempfile
import time
from pathlib import Path


def run(n_strategies: int = 50, repeats: int = 5) -> dict:
    import dagster as dg

    from benchmarks.backfill import production_storage_yaml
    from benchmarks.ledgers import generated
    from weighting_pipeline.assets import CHAIN_ASSETS
    from weighting_pipeline.definitions import build_resources
    from weighting_pipeline.devtools.demo_ledger import seed_ledger
    from weighting_pipeline.devtools.dynamodb_local import LocalDynamoDB
    from weighting_pipeline.devtools.postgres import LocalPostgres
    from weighting_pipeline.ops.tables import create_tables
    from weighting_pipeline.resources.dynamodb import DynamoDBResource
    from weighting_pipeline.settings import WeightingSettings

    synthetic, keys, names = generated(n_strategies, 4, 2_000 * n_strategies // 50, seed=5)
    week = keys[-1]
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        db = stack.enter_context(LocalDynamoDB(quiet=True))
        pg = stack.enter_context(LocalPostgres())
        config = tmp / "strategy.json"
        config.write_text(json.dumps({"files": names, "allocations": {n: 1.0 / n_strategies for n in names}}))
        env = {"AWS_ENDPOINT_URL_DYNAMODB": db.endpoint, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench",
               "AWS_SECRET_ACCESS_KEY": "bench", "TRADE_LEDGER__TABLE_NAME": "trade-ledger-weekly",
               "STRATEGY_WEIGHTS__TABLE_NAME": "strategy-weights-weekly", "STRATEGY_CONFIG__PATH": str(config),
               "INTERMEDIATES__BASE_PATH": str(tmp / "intermediates"), **pg.env()}
        stack.enter_context(_environ(env))
        create_tables(DynamoDBResource().get_client(), env["TRADE_LEDGER__TABLE_NAME"], env["STRATEGY_WEIGHTS__TABLE_NAME"])
        seed_ledger(env["TRADE_LEDGER__TABLE_NAME"], synthetic)
        home = tmp / "home"
        home.mkdir()
        (home / "dagster.yaml").write_text(production_storage_yaml())
        resources = build_resources(WeightingSettings.from_env())
        with counting_connections() as opened_total:

            def once(open_instance) -> float:
                # A run worker opens the instance (and so its connections) for each run: timed too.
                t = time.perf_counter()
                with open_instance() as instance:
                    result = dg.materialize(CHAIN_ASSETS, partition_key=week, instance=instance, resources=resources, raise_on_error=True)
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
    return {"strategies": n_strategies, "week": week, "memory_median_s": memory_s, "median_s": postgres_s,
            "min_s": min(timings["postgres"]), "max_s": max(timings["postgres"]), "overhead_s": postgres_s - memory_s,
            "connections_opened": statistics.median(opened), "events": events[0]}


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


@contextlib.contextmanager
def _environ(values: dict[str, str]):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
