"""``audit --against-table``: the weights table and the event log, held against each other."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from unittest.mock import patch

import dagster as dg
from botocore.client import BaseClient
from botocore.exceptions import EndpointConnectionError

from weighting_pipeline.history import Materialization
from weighting_pipeline.ops.audit import compare_week
from weighting_pipeline_devtools.demo_ledger import synthetic_ledger
from weighting_pipeline_tests.conftest import CLI, run_chain_in_dagster
from weighting_pipeline_tests.stored_weeks import stored_weeks

WEEKS = ["2026-01-18", "2026-01-25", "2026-02-01", "2026-02-08"]
NOW = "2026-03-17T12:00:00-04:00"  # all four are past weeks: a range run writes them
FAILING = WEEKS[1]
REPO = Path(__file__).resolve().parent.parent


def audit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, "audit", "--range", f"{WEEKS[0]}...{WEEKS[-1]}", *args],
        cwd=REPO,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )


def lines(done: subprocess.CompletedProcess) -> dict[str, str]:
    return {line.split()[0]: line for line in done.stdout.splitlines() if line[:4].isdigit()}


def test_a_range_write_that_fails_part_way_is_seen_in_the_table_view(tables, baseline, instance):
    tables.read_only_ledger(synthetic_ledger(baseline.keys, "2025-09-01", "2026-03-31", 1.0, seed=4))
    real = BaseClient._make_api_call

    def one_week_unreachable(self, operation, params):  # the fault: one week's PutItem fails after all retries
        if operation == "PutItem" and params.get("Item", {}).get("SK", {}).get("S") == FAILING:
            raise EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")
        return real(self, operation, params)

    with patch.object(BaseClient, "_make_api_call", one_week_unreachable):
        failed = run_chain_in_dagster(instance, partition_range=(WEEKS[0], WEEKS[-1]), now=NOW)
    assert not failed.success
    written = [w for w in WEEKS if w != FAILING]
    assert sorted(stored_weeks(tables, WEEKS)) == written  # the other writes landed
    assert not instance.fetch_materializations(dg.AssetKey("dynamic_weights"), limit=1).records

    # The event log alone calls every week unpublished...
    plain = audit()
    assert plain.returncode == 0, plain.stderr
    assert all("not published" in line for line in lines(plain).values()) and "table:" not in plain.stdout
    # ...the table view shows the weeks trading may read without a record of their run.
    checked = audit("--against-table")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    seen = lines(checked)
    for week in written:
        assert f"table: NO MATERIALIZATION OF ITS RUN run {failed.run_id}" in seen[week]
    assert "table: no item" in seen[FAILING]
    assert f"3 week(s) where the weights table and the event log disagree: {', '.join(written)}" in checked.stderr

    # Re-running the range completes it, and both views then agree.
    assert run_chain_in_dagster(instance, partition_range=(WEEKS[0], WEEKS[-1]), now=NOW).success
    again = audit("--against-table")
    assert again.returncode == 0, again.stdout + again.stderr
    assert all("table: agrees" in line for line in lines(again).values())


def _recorded(sha: str) -> Materialization:
    return Materialization("2026-01-18", "r1", 1, 0.0, {"weights_sha256": sha})


def test_compare_week_names_each_disagreement():
    item = {"run_id": "r1", "weights_sha256": "aaa"}
    assert compare_week("2026-01-18", item, _recorded("aaa")).state == "agrees"
    differs = compare_week("2026-01-18", item, _recorded("bbb"))
    assert differs.disagrees and differs.text() == "table: WEIGHTS_SHA256 DIFFERS run r1 table aaa, event log bbb"
    assert compare_week("2026-01-18", item, None).disagrees
    stone = compare_week("2026-01-18", {"unpublished": {"by": "ops", "at": "t"}}, None)
    assert stone.state == "unpublished" and not stone.disagrees
    assert compare_week("2026-01-18", None, None).state == "no item"
