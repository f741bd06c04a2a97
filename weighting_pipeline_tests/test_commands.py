"""The documented commands, run as a user would, in subprocesses."""

import os
import subprocess
import sys

from weighting_pipeline.local.demo_ledger import synthetic_lots
from weighting_pipeline.resources.dynamodb import DynamoDBResource
from weighting_pipeline.resources.weights_table import WeightsTable
from weighting_pipeline_tests.conftest import seed_ledger

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_dagster_cli_range_backfill_runs_as_one_run(tables, baseline, tmp_path):
    seed_ledger(tables["ledger"], synthetic_lots(baseline.keys, "2025-10-01", "2026-03-31", 1.0, seed=4))
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    cmd = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "weighting_pipeline.definitions",
           "--select", "*", "--partition-range", "2026-02-22...2026-03-08"]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    table = WeightsTable(dynamodb=DynamoDBResource(), table_name=tables["weights"])
    for key in ("2026-02-22", "2026-03-01", "2026-03-08"):
        assert table.get_week(key) is not None, key
    assert "Dynamic weights updated successfully: 3 week(s)" in done.stderr


def test_demo_command_prints_the_weights_table(tmp_path):
    env = {**os.environ, "WEIGHTING_LOCAL_ROOT": str(tmp_path)}
    env.pop("STRATEGY_WEIGHTS__TABLE_NAME", None)
    env.pop("TRADE_LEDGER__TABLE_NAME", None)
    backend = os.environ.get("WEIGHTING_TEST_BACKEND", "auto")
    done = subprocess.run([sys.executable, "-m", "weighting_pipeline.local", "demo", "--backend", backend],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    out = done.stdout
    assert "Strategy" in out and "Sharpe" in out and "Baseline" in out and "Dynamic" in out and "Change" in out
    total = [line for line in out.splitlines() if line.startswith("total")]
    assert total and total[0].split()[1:3] == ["100.00%", "100.00%"]
    assert "beam_chain.clj" in out
