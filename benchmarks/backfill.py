"""End-to-end backfill benchmark on DynamoDB Local.

Seeds a synthetic ledger, then times the documented command
``dagster asset materialize -m weighting_pipeline.definitions --select '*'
--partition-range A...B`` as a whole process (Dagster start-up, ledger read,
compute, 1 item per week written), against single-partition runs of the same
command: their median, times the number of weeks, is the one-run-per-partition
estimate.

``storage="sqlite"`` is Dagster's default instance (the demo's);
``storage="postgres"`` is the production instance's storage block, taken from
``deploy/dagster.yaml``, on Debian's PostgreSQL on 127.0.0.1. Only the storage
differs: the run executes in the command's process either way.

The ledger table is the trading system's (GSI1..GSI5, read through GSI5);
``close_date_index=True`` adds the proposed GSI7 and its keys on the items,
to measure what that proposal would save.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from weighting_pipeline_devtools.processes import materialize_command

REPO = Path(__file__).resolve().parent.parent


def _materialize(args: list[str], env: dict) -> float:
    cmd = materialize_command("group:weighting", *args)
    t = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-4000:]}")
    return elapsed


def production_storage_yaml() -> str:
    """deploy/dagster.yaml's ``storage`` block alone (no run launcher: nothing is launched)."""
    import yaml

    config = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    return yaml.safe_dump({"storage": config["storage"], "telemetry": {"enabled": False}})


def run(
    n_strategies: int,
    n_weeks: int,
    n_lots: int,
    repeats: int = 3,
    singles: int = 10,
    close_date_index: bool = False,
    storage: str = "sqlite",
) -> dict:
    import contextlib

    import dagster as dg

    from benchmarks.ledgers import generated, seeded_environment
    from weighting_pipeline.resources.dynamodb import DynamoDBResource
    from weighting_pipeline_devtools.postgres import LocalPostgres

    synthetic, keys, names = generated(n_strategies, n_weeks, n_lots, seed=3)
    lots = synthetic.lots
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        seeded, seed_s, db = seeded_environment(stack, tmp, synthetic, names, "bench", close_date_index)
        postgres = stack.enter_context(LocalPostgres()) if storage == "postgres" else None
        env = {**os.environ, **seeded, "DAGSTER_HOME": str(Path(tmp) / "dagster_home")}
        Path(env["DAGSTER_HOME"]).mkdir()
        if postgres is not None:
            env.update(postgres.env())
            (Path(env["DAGSTER_HOME"]) / "dagster.yaml").write_text(production_storage_yaml())
        client = DynamoDBResource().get_client()

        ranged = [_materialize(["--partition-range", f"{keys[0]}...{keys[-1]}"], env) for _ in range(repeats)]
        if postgres is not None:
            os.environ.update(postgres.env())  # the instance below reads DAGSTER_PG_* too
        with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
            event = instance.get_latest_materialization_event(dg.AssetKey("closed_lots"))
            meta = event.asset_materialization.metadata  # the last range run's read
        written = sum(
            page["Count"]
            for page in client.get_paginator("query").paginate(
                TableName=env["STRATEGY_WEIGHTS__TABLE_NAME"],
                KeyConditionExpression="PK = :pk",
                ExpressionAttributeValues={":pk": {"S": "WEIGHTS#WEEK"}},
                Select="COUNT",
            )
        )
        step = max(1, len(keys) // singles)
        single = [_materialize(["--partition", k], env) for k in keys[::step][:singles]]
        with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
            event = instance.get_latest_materialization_event(dg.AssetKey("closed_lots"))
            week_meta = event.asset_materialization.metadata  # the last single week's read
    per_partition = statistics.median(single) * n_weeks
    return {
        "strategies": n_strategies,
        "weeks": n_weeks,
        "lots": int(len(lots)),
        "backend": db.kind,
        "storage": storage,
        "seed_s": seed_s,
        "median_s": statistics.median(ranged),
        "min_s": min(ranged),
        "max_s": max(ranged),
        "single_median_s": statistics.median(single),
        "singles_measured": len(single),
        "per_partition_estimate_s": per_partition,
        "ratio": per_partition / statistics.median(ranged),
        "read_amplification": meta["read_amplification"].value,
        "ledger_index": meta["ledger_index"].value,
        "read_s": meta["read_seconds"].value,
        "week_read_amplification": week_meta["read_amplification"].value,
        "week_items_read": week_meta["items_read"].value,
        "week_read_s": week_meta["read_seconds"].value,
        "items_written": written,
    }
