"""The benchmarks still run (tiny sizes). Timings are printed, never asserted."""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_benchmarks_smoke_prints_the_table():
    env = {**os.environ, "WEIGHTING_BENCH_BACKEND": os.environ.get("WEIGHTING_TEST_BACKEND", "auto")}
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--smoke"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith(("| kernel", "| backfill", "| sweep"))]
    assert len(rows) == 4, done.stdout
    assert ["Dagster on sqlite" in rows[1], "Dagster on postgres" in rows[2], "settings/s" in rows[3]] == [True, True, True], rows
