"""``weighting-pipeline sweep``, run as a user would, against DynamoDB Local:
one ledger read, every setting, and the default setting's numbers equal to what the
Dagster chain's tilt_backtest recorded for the same weeks."""

import csv
import os
import re
import subprocess

import dagster as dg
import pytest

from weighting_pipeline.core import analytics
from weighting_pipeline.ops.audit import weeks_in
from weighting_pipeline_tests.conftest import CLI, run_chain_in_dagster

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRST, LAST = "2026-01-11", "2026-03-15"  # backtested; the chain also runs the week before FIRST


def sweep(*args, timeout=300):
    return subprocess.run(
        [*CLI, "sweep", *args], cwd=REPO, env=dict(os.environ), capture_output=True, text=True, timeout=timeout
    )


def test_the_sweep_prints_every_setting_and_its_default_row_is_the_pipelines_backtest(
    ledger, tables, instance, tmp_path
):
    assert run_chain_in_dagster(instance, partition_range=("2026-01-04", LAST)).success
    out_csv = tmp_path / "sweep.csv"
    done = sweep(
        "--range",
        f"{FIRST}...{LAST}",
        "--lookback",
        "60,90",
        "--max-multiplier",
        "1.5,2.0,3.0",
        "--score",
        "sharpe,sortino",
        "--csv",
        str(out_csv),
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "Read " in done.stdout and "exit records of 16 strategies once from " + tables["ledger"] in done.stdout
    assert "sweep: 100%" in done.stderr and "12/12" in done.stderr  # the progress bar
    table = [line for line in done.stdout.splitlines() if line[2:4] in ("60", "90")]
    assert len(table) == 12 and sum(line.startswith("* ") for line in table) == 1
    assert re.search(
        r"Deflated Sharpe ratio of the best, 12 setting\(s\) tried, worth \d+\.\d independent ones", done.stdout
    )
    rows = list(csv.DictReader(out_csv.open()))
    assert [(r["lookback_days"], r["max_multiplier"], r["score"]) for r in rows[:3]] == [
        ("60", "1.5", "sharpe"),
        ("60", "1.5", "sortino"),
        ("60", "2.0", "sharpe"),
    ]
    assert all(r["weeks"] == "10" for r in rows)

    # The configured setting (90 days, 2.0x, sharpe) is what the pipeline ran: its information
    # ratio equals the one computed from the active returns the instance recorded per week.
    actives = []
    for week in weeks_in(f"{FIRST}...{LAST}"):
        [record] = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("tilt_backtest"), asset_partitions=[week]), limit=1
        ).records
        actives.append(record.asset_materialization.metadata["active"].value)
    [default] = [r for r in rows if (r["lookback_days"], r["max_multiplier"], r["score"]) == ("90", "2.0", "sharpe")]
    assert len(actives) == 10
    assert float(default["information_ratio"]) == pytest.approx(analytics.information_ratio(actives), rel=1e-12)
    assert float(default["ir_standard_error"]) == pytest.approx(analytics.ratio_standard_error(actives), rel=1e-12)


def test_a_bad_sweep_option_is_refused_by_name_and_one_week_is_no_error(ledger, tables):
    bad = sweep("--range", f"{FIRST}...{LAST}", "--lookback", "60,0", "--no-progress", timeout=120)
    assert (
        bad.returncode == 2 and "--lookback '60,0': '0' is not usable" in bad.stderr and "lookback_days" in bad.stderr
    )
    bad = sweep("--range", f"{FIRST}...{LAST}", "--score", "sharpe,omega", timeout=120)
    assert bad.returncode == 2 and "--score 'sharpe,omega': 'omega' is not usable" in bad.stderr
    bad = sweep("--range", f"{FIRST}...{LAST}", "--pnl-date", "close,fill", timeout=120)
    assert (
        bad.returncode == 2
        and "--pnl-date 'close,fill': 'fill' is not usable" in bad.stderr
        and "close, exit" in bad.stderr
    )
    bad = sweep("--range", f"{FIRST}...{LAST}", "--return-basis", "lot,deployed", timeout=120)  # PNL_DATE is close
    assert bad.returncode == 2 and "--return-basis 'lot,deployed': 'deployed' is not usable" in bad.stderr
    assert "return_basis=deployed requires pnl_date=exit" in bad.stderr
    bad = sweep("--range", "2026-01-12...2026-03-15", timeout=120)
    assert bad.returncode == 2 and "'2026-01-12' is not a weekly partition key" in bad.stderr
    # One week has an active return but no information ratio: shown as "-", not a crash.
    one = sweep("--range", f"{LAST}...{LAST}", "--max-multiplier", "1.5,2.0", "--no-progress", timeout=120)
    assert one.returncode == 0, one.stderr[-2000:]
    assert "information ratio - ± -" in one.stdout and "2 setting(s) in" in one.stdout


def test_the_exit_row_of_a_pnl_date_sweep_is_the_backtest_the_pipeline_ran_with_pnl_date_exit(
    ledger, tables, instance, tmp_path
):
    assert run_chain_in_dagster(instance, partition_range=("2026-01-04", LAST), environ={"PNL_DATE": "exit"}).success
    out_csv = tmp_path / "sweep.csv"
    done = sweep("--range", f"{FIRST}...{LAST}", "--pnl-date", "close,exit", "--no-progress", "--csv", str(out_csv))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    rows = {r["pnl_date"]: r for r in csv.DictReader(out_csv.open())}
    assert list(rows) == ["close", "exit"] and rows["close"]["information_ratio"] != rows["exit"]["information_ratio"]
    actives = []
    for week in weeks_in(f"{FIRST}...{LAST}"):
        [record] = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("tilt_backtest"), asset_partitions=[week]), limit=1
        ).records
        actives.append(record.asset_materialization.metadata["active"].value)
    assert float(rows["exit"]["information_ratio"]) == pytest.approx(analytics.information_ratio(actives), rel=1e-12)


def test_the_deployed_row_of_a_return_basis_sweep_is_the_backtest_the_pipeline_ran_on_deployed_notional(
    ledger, tables, instance, tmp_path
):
    deployed = {"PNL_DATE": "exit", "RETURN_BASIS": "deployed"}
    assert run_chain_in_dagster(instance, partition_range=("2026-01-04", LAST), environ=deployed).success
    out_csv = tmp_path / "sweep.csv"
    done = sweep(
        "--range",
        f"{FIRST}...{LAST}",
        "--pnl-date",
        "close,exit",
        "--return-basis",
        "lot,deployed",
        "--no-progress",
        "--csv",
        str(out_csv),
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert (
        "Not run: pnl_date=close, return_basis=deployed: " in done.stdout
        and "lots held of 16 strategies" in done.stdout
    )
    rows = {(r["pnl_date"], r["return_basis"]): r for r in csv.DictReader(out_csv.open())}
    assert list(rows) == [("close", "lot"), ("exit", "lot"), ("exit", "deployed")]
    actives = []
    for week in weeks_in(f"{FIRST}...{LAST}"):
        [record] = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("tilt_backtest"), asset_partitions=[week]), limit=1
        ).records
        actives.append(record.asset_materialization.metadata["active"].value)
    assert float(rows[("exit", "deployed")]["information_ratio"]) == pytest.approx(
        analytics.information_ratio(actives), rel=1e-12
    )
    assert rows[("exit", "deployed")]["information_ratio"] != rows[("exit", "lot")]["information_ratio"]
