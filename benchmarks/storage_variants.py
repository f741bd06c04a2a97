"""The same backfill on each Dagster storage set-up, to choose between them with numbers.

    python -m benchmarks.storage_variants [--strategies 50] [--weeks 104] [--lots 120000]
        [--variants plain,pooled,pooled-batch,pooled-batch-subset,sqlite,sqlite-batch] [--repeats 2]

One ledger in DynamoDB Local and one Debian PostgreSQL on 127.0.0.1 serve every
variant; each variant gets its own ``DAGSTER_HOME`` and runs the documented
command (``dagster asset materialize ... --partition-range``) as a whole process,
then one week alone. Variants (names combine):

* ``plain``: dagster-postgres as it ships (``storage: postgres``, NullPool);
* ``pooled``: ``deploy/dagster.yaml``'s storage (``production.pg_storage``);
* ``sqlite``: Dagster's default instance (no ``dagster.yaml``);
* ``batch``: ``DAGSTER_EVENT_BATCH_SIZE=500`` (without it, ``0``: off);
* ``subset``: ``DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true`` (one planned
  event per asset instead of one per asset and week).

Connections are counted by PostgreSQL (``pg_stat_database.sessions``, which counts
a session when it ends: a pooled run's last few are still open when it is read).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from weighting_pipeline_devtools.processes import materialize_command

REPO = Path(__file__).resolve().parent.parent


def _materialize(env: dict, *args: str) -> float:
    t = time.perf_counter()
    done = subprocess.run(
        materialize_command("group:weighting", *args),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strategies", type=int, default=50)
    parser.add_argument("--weeks", type=int, default=104)
    parser.add_argument("--lots", type=int, default=120_000)
    parser.add_argument("--variants", default="plain,pooled,pooled-batch,pooled-batch-subset,sqlite,sqlite-batch")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    import psycopg2

    from benchmarks.ledgers import generated, seeded_environment
    from weighting_pipeline_devtools.postgres import USER, LocalPostgres

    synthetic, keys, names = generated(args.strategies, args.weeks, args.lots, seed=3)
    deploy = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())["storage"]
    pooled = {"storage": deploy, "telemetry": {"enabled": False}}
    plain = {
        "storage": {"postgres": {"postgres_db": deploy["custom"]["config"]["postgres_db"]}},
        "telemetry": {"enabled": False},
    }
    print(
        f"| variant | {args.weeks} weeks, s | one week, s | ratio | connections (range run) |\n|---|---:|---:|---:|---:|"
    )
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        seeded, _, _ = seeded_environment(stack, tmp, synthetic, names, "variants")
        pg = stack.enter_context(LocalPostgres())
        base = {**os.environ, **seeded, **pg.env()}
        # Not the connection's own context manager: that opens a transaction, and PostgreSQL then
        # serves the statistics views from one snapshot until it ends.
        conn = stack.enter_context(
            contextlib.closing(psycopg2.connect(host="127.0.0.1", port=pg.port, user=USER, dbname="postgres"))
        )
        conn.autocommit = True
        cur = conn.cursor()

        def sessions() -> int:
            cur.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", (base["DAGSTER_PG_DB"],))
            return int(cur.fetchone()[0])

        for variant in args.variants.split(","):
            home = tmp / f"home-{variant}"
            home.mkdir()
            if not variant.startswith("sqlite"):
                (home / "dagster.yaml").write_text(yaml.safe_dump(pooled if variant.startswith("pooled") else plain))
            env = {**base, "DAGSTER_HOME": str(home), "DAGSTER_EVENT_BATCH_SIZE": "500" if "batch" in variant else "0"}
            if "subset" in variant:
                env["DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"] = "true"
            ranged, single, opened = [], [], []
            for _ in range(args.repeats):
                before = sessions()
                ranged.append(_materialize(env, "--partition-range", f"{keys[0]}...{keys[-1]}"))
                time.sleep(0.5)
                opened.append(sessions() - before)
                single.append(_materialize(env, "--partition", keys[-1]))
            r, s = min(ranged), min(single)
            print(
                f"| {variant} | {' / '.join(f'{x:.1f}' for x in ranged)} | {' / '.join(f'{x:.1f}' for x in single)} | "
                f"{s * args.weeks / r:.0f}x | {max(opened)} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
