"""The documented commands, run as a user would, in subprocesses."""

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from weighting_pipeline.resources.dynamodb import DynamoDBResource
from weighting_pipeline.resources.weights_table import WeightsTable
from weighting_pipeline_devtools.demo_ledger import synthetic_ledger
from weighting_pipeline_devtools.processes import is_alive, materialize_command
from weighting_pipeline_tests.conftest import CLI
from weighting_pipeline_tests.listening import assert_listens_on_loopback_only

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_dagster_cli_range_backfill_runs_as_one_run(tables, baseline, tmp_path):
    tables.read_only_ledger(synthetic_ledger(baseline.keys, "2025-10-01", "2026-03-31", 1.0, seed=4))
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    cmd = materialize_command("*", "--partition-range", "2026-02-22...2026-03-08")
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    table = WeightsTable(dynamodb=DynamoDBResource(), table_name=tables["weights"])
    for key in ("2026-02-22", "2026-03-01", "2026-03-08"):
        assert table.get_week(key) is not None, key
    assert "Dynamic weights updated successfully: 3 week(s)" in done.stderr


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory):
    """A folder like a clone's root for the development commands' ``.local/`` state; shared by
    this module's tests, so only the first seeds the demo ledger (the others find it seeded)."""
    root = tmp_path_factory.mktemp("root")
    for name in ("workspace.yaml", "dagster.yaml"):
        shutil.copy(Path(REPO) / name, root / name)
    return root


@pytest.mark.slow
@pytest.mark.dynamodb
@pytest.mark.dagster
def test_demo_command_prints_the_weights_table(demo_root):  # starts its own servers and runs Dagster
    env = {**os.environ, "WEIGHTING_LOCAL_ROOT": str(demo_root)}
    env.pop("STRATEGY_WEIGHTS__TABLE_NAME", None)
    env.pop("TRADE_LEDGER__TABLE_NAME", None)
    backend = os.environ.get("WEIGHTING_TEST_BACKEND", "auto")
    done = subprocess.run(
        [*CLI, "demo", "--backend", backend], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    out = done.stdout
    assert "Strategy" in out and "Sharpe" in out and "Baseline" in out and "Dynamic" in out and "Change" in out
    total = [line for line in out.splitlines() if line.startswith("total")]
    assert total and total[0].split()[1:3] == ["100.00%", "100.00%"]
    assert "ftlt/holy_grail.clj" in out and len(re.findall(r"^\S+\.clj ", out, re.M)) == 16  # the 16 real strategies
    # The demo ends with the tilt's verdict over the weeks it materialised.
    verdict = [line for line in out.splitlines() if line.startswith("Tilt vs baseline over 18 weeks")]
    assert verdict and re.search(
        r"information ratio -?\d+\.\d\d ± \d+\.\d\d .*growth of 1: tilt \d\.\d{4} vs baseline \d\.\d{4}", verdict[0]
    )
    # On the market basis, from bars written as trading's MarketDataStore writes them, and it says so.
    assert "(Newey-West SE)" in verdict[0] and "returns marked to market from trading's daily closes" in verdict[0]
    assert "daily bars: 16 symbols written to s3://market-data-local" in out
    # The step log at INFO, not Dagster's DEBUG events (one flag away: --debug).
    log = done.stdout + done.stderr
    assert " - DEBUG - " not in log
    for line in (
        "Strategy weighting invoked",
        "Sharpe ratio for ftlt/holy_grail.clj",
        "Dynamic weights updated successfully",
    ):
        assert line in log, line
    assert len(log.splitlines()) < 80, log  # 16 strategies: one table row each


def test_audit_command_prints_each_week_and_writes_the_csv_without_dynamodb(tables, baseline, tmp_path):
    import csv

    import dagster as dg

    from weighting_pipeline_tests.conftest import run_chain_in_dagster

    weeks = ["2026-02-22", "2026-03-01", "2026-03-08"]
    tables.read_only_ledger(synthetic_ledger(baseline.keys, "2025-10-01", "2026-03-31", 1.0, seed=4))
    home = tmp_path / "dagster_home"
    with dg.DagsterInstance.from_config(str(home)) as instance:
        result = run_chain_in_dagster(instance, partition_range=(weeks[0], weeks[-1]))
        assert result.success
        mats = {
            w: {
                k: v.value
                for k, v in instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=dg.AssetKey("dynamic_weights"), asset_partitions=[w]), limit=1
                )
                .records[0]
                .asset_materialization.metadata.items()
            }
            for w in weeks
        }
    # Nothing listens here: the audit must not need DynamoDB.
    env = {**os.environ, "DAGSTER_HOME": str(home), "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9"}
    out_csv = tmp_path / "audit.csv"
    cmd = [*CLI, "audit", "--range", "2026-02-15...2026-03-08", "--csv", str(out_csv)]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line[:4] == "2026"]
    assert [line.split()[0] for line in lines] == ["2026-02-15", *weeks]
    assert "not published" in lines[0]
    for line, week in zip(lines[1:], weeks):
        assert f"weights {mats[week]['weights_sha256']}" in line
        # On the default (lot) basis the noise check says every week that it has no calibrated test.
        assert (
            "checks 10/11 passed, failed: multipliers.tilt_exceeds_noise" in line
            and "restatement: first publication" in line
        )
        assert (
            f"code {mats[week]['code_version']}" in line
            and f"run {result.run_id}" in line
            and "lookback_days=90" in line
        )
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == len(weeks) * len(baseline.keys)
    assert list(rows[0])[:9] == [
        "week",
        "strategy",
        "baseline",
        "sharpe",
        "multiplier",
        "weight",
        "parameters",
        "code_version",
        "run_id",
    ]
    for row in rows:
        meta = mats[row["week"]]
        assert float(row["weight"]) == meta[f"weight/{row['strategy']}"]
        assert float(row["multiplier"]) == meta["allocation"][row["strategy"]]["multiplier"]
        assert row["run_id"] == result.run_id and row["code_version"] == meta["code_version"]
        assert json.loads(row["parameters"])["lookback_days"] == 90
    bad = subprocess.run(
        [*cmd[:4], "--range", "2026-03-02...2026-03-08"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert bad.returncode == 2 and "'2026-03-02' is not a weekly partition key" in bad.stderr


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid``, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return "(gone)"


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
@pytest.mark.dynamodb
@pytest.mark.dagster
# SIGHUP takes SIGTERM's path through exit_on_termination_signals (test_processes.py checks it there).
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_ui_stops_every_server_it_started_on_a_signal(demo_root, sig):
    """SIGTERM or SIGHUP (a closed terminal) used to kill the command on the spot and leave DynamoDB Local
    running; SIGINT did nothing when the command was started with it ignored."""
    from weighting_pipeline_devtools.dynamodb_local import free_port

    root = demo_root
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("STRATEGY_WEIGHTS__TABLE_NAME", "TRADE_LEDGER__TABLE_NAME", "DAGSTER_HOME")
    }
    env["WEIGHTING_LOCAL_ROOT"] = str(root)
    port = free_port()
    backend = os.environ.get("WEIGHTING_TEST_BACKEND", "auto")
    # A background job or nohup starts it with SIGINT ignored; Ctrl-C used to do nothing then.
    ignore_sigint = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sig == signal.SIGINT else None
    ui = subprocess.Popen(
        [*CLI, "ui", "--port", str(port), "--backend", backend],
        preexec_fn=ignore_sigint,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    started: list[int] = []
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(ui.stdout), daemon=True).start()
    try:
        deadline = time.monotonic() + 180
        while not _listening(port) and ui.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _listening(port), "".join(lines)[-3000:]
        dynamodb = int(re.search(r"at http://127\.0\.0\.1:(\d+)", "".join(lines)).group(1))
        assert_listens_on_loopback_only(port)  # the UI, and DynamoDB Local, are reachable from this machine only
        assert_listens_on_loopback_only(dynamodb)
        started = _descendants(ui.pid)
        assert len(started) >= 3  # DynamoDB Local (or moto's threads), dagster dev, its webserver and daemon
        ui.send_signal(sig)
        ui.wait(timeout=120)
    finally:
        if ui.poll() is None:  # it failed to stop: stop what it left, so later tests start clean
            for pid in [ui.pid, *started, *_descendants(ui.pid)]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            ui.wait()
    time.sleep(1)
    assert not _listening(port) and not _listening(dynamodb)
    assert {p: _cmdline(p) for p in started if is_alive(p)} == {}
