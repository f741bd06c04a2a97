"""The benchmarks still run (tiny sizes). Timings are printed, never asserted."""

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
@pytest.mark.dynamodb
@pytest.mark.dagster
def test_benchmarks_smoke_measures_what_they_say(tmp_path):  # starts its own servers and runs Dagster
    """Every benchmark runs at tiny sizes and measures the thing it names (read from its JSON results,
    not its printed labels). Timings are never asserted."""
    env = {**os.environ, "WEIGHTING_BENCH_BACKEND": os.environ.get("WEIGHTING_TEST_BACKEND", "auto")}
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--json", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    results = json.loads(out.read_text())
    [kernel] = results["kernel"]
    assert kernel["max_abs_diff_vs_loop"] <= 1e-9 and kernel["median_s"] > 0
    assert results["parse"][0]["lots"] > 0 and results["parse"][0]["ratio"] > 0  # numbers as S against as N
    backfills = results["backfill"]
    assert sorted(r["storage"] for r in backfills) == ["postgres", "sqlite"]
    for r in backfills:
        assert r["items_written"] == r["weeks"] and r["ledger_index"].startswith("GSI5"), r  # the real table's index
    assert results["sweep"][0]["settings_per_s"] > 0
    assert results["writes"][0]["weeks"] > 0
    [log] = results["publication-log"]  # every week appended was read back (asserted inside), on both stores
    assert log["weeks"] > 0 and log["entry_bytes"] > 0 and log["s3_read_median_s"] > 0 < log["disk_read_median_s"]
    [reader] = results["reader"]
    assert 0 < reader["reader_bytes"] < 1_000_000 < reader["pipeline_env_bytes"]
    assert {row["basis"] for row in results["calibration"]} == {"market", "lot", "deployed"}
    assert results["dynamodb-start"][0]["repeats"] >= 1
