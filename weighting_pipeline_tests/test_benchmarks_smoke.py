"""The benchmarks still run (tiny sizes). Timings are printed, never asserted."""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
@pytest.mark.dynamodb
@pytest.mark.dagster
def test_benchmarks_smoke_prints_the_table():  # starts its own servers and runs Dagster
    env = {**os.environ, "WEIGHTING_BENCH_BACKEND": os.environ.get("WEIGHTING_TEST_BACKEND", "auto")}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    rows = [
        line
        for line in done.stdout.splitlines()
        if line.startswith(("| kernel", "| ledger page parse", "| backfill", "| sweep"))
    ]
    assert len(rows) == 5, done.stdout
    assert [
        "numbers as S" in rows[1],
        "Dagster on sqlite" in rows[2],
        "Dagster on postgres" in rows[3],
        "settings/s" in rows[4],
    ] == [True] * 4, rows
    assert all("(GSI5" in r.split("|")[-2] for r in rows[2:4]), rows  # read through the real table's index
    assert any(line.startswith("| DynamoDB Local start, bound to 127.0.0.1 |") for line in done.stdout.splitlines()), (
        done.stdout
    )
