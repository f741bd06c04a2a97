"""A run killed mid-backfill, and two runs of one week at once (issue 4, section 3).

Both use the documented CLI in subprocesses, as the scheduler and an operator
would, against DynamoDB Local and one Dagster instance.

Concurrency: no lock. A week is one DynamoDB item written by one conditional
PutItem, which DynamoDB applies atomically, and an item is replaced only by a
run created no earlier than the one that wrote it (``run_started_at``). So two
runs of one week end with the newer run's whole item, whichever finishes last.
Parquet intermediates are written to a temporary name and renamed. The tests
prove it.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from weighting_pipeline_devtools.demo_ledger import synthetic_ledger
from weighting_pipeline_devtools.processes import materialize_command
from weighting_pipeline_tests.fault_proxy import FaultProxy
from weighting_pipeline_tests.stored_weeks import assert_whole, clean_backfill, stored_weeks

REPO = Path(__file__).resolve().parent.parent
WEEKS = [str(d.date()) for d in pd.date_range("2025-01-05", periods=30, freq="7D")]


def cli(args: list[str], tmp_path: Path, endpoint: str | None = None) -> subprocess.Popen:
    cmd = materialize_command("*", *args)
    env = {**os.environ, "INTERMEDIATES__BASE_PATH": str(tmp_path / "intermediates")}
    if endpoint:
        env["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture
def reference(tables, baseline, instance, client):
    """A clean single-run backfill of the 30 weeks; its items, then an empty weights table."""
    ledger = synthetic_ledger(baseline.keys, "2024-09-15", "2025-08-10", 0.8, seed=31)
    return clean_backfill(tables, instance, client, ledger, WEEKS)


def rerun_equals_clean(tables, tmp_path, reference, baseline) -> None:
    """Re-run the whole backfill; every week must then equal the clean run's."""
    rerun = cli(["--partition-range", f"{WEEKS[0]}...{WEEKS[-1]}"], tmp_path)
    out, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, out[-3000:]
    final = stored_weeks(tables, WEEKS)
    assert sorted(final) == WEEKS
    assert_whole(final, reference, baseline)


# The first step (the ledger read and the first intermediates) and the last (the checks and the
# writes); a middle step's kill point adds nothing they do not cover, and 45 s to the suite.
@pytest.mark.parametrize("step, seed", [("closed_lots", 1), ("dynamic_weights", 3)])
def test_a_backfill_killed_at_a_random_point_then_rerun_equals_a_clean_backfill(
    reference, tables, baseline, tmp_path, step, seed
):
    # Kill with SIGKILL (no clean-up) a random 0-0.5 s after the run enters `step`;
    # in dynamic_weights that lands around the checks and the batch writes.
    victim = cli(["--partition-range", f"{WEEKS[0]}...{WEEKS[-1]}"], tmp_path)
    seen = False
    for line in victim.stdout:
        if f"{step} - STEP_START" in line:
            seen = True
            break
    assert seen, "the run ended without entering the step"
    time.sleep(random.Random(seed).uniform(0.0, 0.5))
    assert victim.poll() is None, "the run finished before the kill"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    victim.stdout.close()
    after_crash = stored_weeks(tables, WEEKS)
    assert_whole(after_crash, reference, baseline)  # whatever landed is whole and right
    rerun_equals_clean(tables, tmp_path, reference, baseline)


def test_a_backfill_killed_part_way_through_its_writes_then_rerun_equals_a_clean_backfill(
    reference, tables, baseline, tmp_path, dynamodb
):
    # 30 weeks are 30 PutItems, 8 in flight at a time. Writes go through a proxy that holds
    # each for 1 s before forwarding, so the kill lands after some were applied and
    # before the rest reached DynamoDB.
    with FaultProxy(dynamodb.endpoint, "latency", {"write": 1.0}, latency_s=1.0) as proxy:
        victim = cli(["--partition-range", f"{WEEKS[0]}...{WEEKS[-1]}"], tmp_path, endpoint=proxy.endpoint)
        deadline = time.monotonic() + 120
        while proxy.requests["PutItem"] <= 8 and victim.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proxy.requests["PutItem"] > 8 and victim.poll() is None
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        victim.stdout.close()
        time.sleep(1.5)  # let the proxy finish holding what was in flight (it then drops it)
    after_crash = stored_weeks(tables, WEEKS)
    assert 0 < len(after_crash) < len(WEEKS)  # part of the range written, each week whole
    assert_whole(after_crash, reference, baseline)
    rerun_equals_clean(tables, tmp_path, reference, baseline)


def test_a_scheduled_and_a_manual_run_of_one_week_at_once_leave_the_newer_runs_item(
    reference, tables, baseline, tmp_path, instance
):
    week = WEEKS[-1]
    runs = [cli(["--partition", week], tmp_path), cli(["--partition", week], tmp_path)]
    outputs = [r.communicate(timeout=300)[0] for r in runs]
    assert [r.returncode for r in runs] == [0, 0], [o[-2000:] for o in outputs]
    final = stored_weeks(tables, WEEKS)
    assert list(final) == [week]
    assert_whole(final, reference, baseline)
    # Written by the run created last (by create time, which is not storage order), whichever finished last.
    records = instance.get_run_records(dg.RunsFilter(tags={"dagster/partition": week}), limit=2)
    assert len(records) == 2
    newest = max(r.create_timestamp for r in records)
    assert final[week]["run_id"] in {r.dagster_run.run_id for r in records if r.create_timestamp == newest}
