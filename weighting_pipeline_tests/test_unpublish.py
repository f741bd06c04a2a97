"""Rolling a week back to the baseline: ``weighting-pipeline unpublish``."""

import os
import subprocess
from pathlib import Path

import dagster as dg
import pandas as pd

from weighting_pipeline.ops.unpublish import latest_unpublish
from weighting_pipeline.resources.publication_log import publication_log_from_env
from weighting_pipeline_devtools.demo_ledger import synthetic_ledger
from weighting_pipeline_reader import get_strategy_profile
from weighting_pipeline_tests.conftest import CLI, run_chain_in_dagster
from weighting_pipeline_tests.stored_weeks import stored_weeks

REPO = Path(__file__).resolve().parent.parent
WEEK = "2026-03-08"


def cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    return subprocess.run([*CLI, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_unpublish_leaves_a_tombstone_and_records_who_and_why_for_the_auditor(tables, baseline, tmp_path):
    tables.read_only_ledger(synthetic_ledger(baseline.keys, "2025-10-01", "2026-03-31", 1.0, seed=4))
    home = tmp_path / "dagster_home"
    with dg.DagsterInstance.from_config(str(home)) as instance:
        result = run_chain_in_dagster(instance, partition_key=WEEK)
        assert result.success
    published = stored_weeks(tables, [WEEK])[WEEK]
    trading_baseline = {"files": baseline.keys, "allocations": baseline.allocations.to_dict()}
    in_force = pd.Timestamp(published["valid_from"]) + pd.Timedelta(hours=30)  # past any grace of an earlier week
    assert get_strategy_profile(trading_baseline, now=in_force).source == WEEK

    done = cli(home, "unpublish", "--week", WEEK, "--reason", "ledger restated by the exchange", "--by", "alice")
    assert done.returncode == 0, done.stderr[-3000:]
    assert (
        f"Week {WEEK} unpublished by alice" in done.stdout and f"removed the item of run {result.run_id}" in done.stdout
    )
    stone = stored_weeks(tables, [WEEK])[WEEK]
    assert "weights" not in stone and stone["unpublished"]["by"] == "alice"
    assert (
        stone["unpublished"]["reason"] == "ledger restated by the exchange"
        and stone["unpublished"]["replaced_run_id"] == result.run_id
    )
    assert get_strategy_profile(trading_baseline, now=in_force).source.startswith("baseline: ")

    with dg.DagsterInstance.from_config(str(home)) as instance:
        record = latest_unpublish(instance, WEEK)
        # The week's publication stays in the event log: history is not rewritten.
        assert instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("dynamic_weights"), asset_partitions=[WEEK]), limit=1
        ).records
    assert record["by"] == "alice" and record["reason"] == "ledger restated by the exchange"
    assert record["deleted_run_id"] == result.run_id and record["deleted_weights_sha256"] == published["weights_sha256"]
    # The publication log, where the backtest reads what trading had, holds the rollback after the publication.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        logged = publication_log_from_env().open(instance).weeks().record(WEEK)
    assert logged.state == "published" and logged.published.ident == result.run_id
    assert logged.unpublished_at == pd.Timestamp(record["at"])

    audit = cli(home, "audit", "--range", WEEK)
    [line] = [x for x in audit.stdout.splitlines() if x.startswith(WEEK)]
    assert (
        f"UNPUBLISHED at {record['at']} by alice (trading uses the baseline): ledger restated by the exchange" in line
    )
    assert f"was: weights {published['weights_sha256']}" in line

    # Published again later: the audit shows the new publication, not the old rollback.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert run_chain_in_dagster(instance, partition_key=WEEK).success
    assert "unpublished" not in stored_weeks(tables, [WEEK])[WEEK]  # a run started after the unpublish wins
    again = cli(home, "audit", "--range", WEEK)
    assert "UNPUBLISHED" not in again.stdout and f"{WEEK}  weights " in again.stdout
    with dg.DagsterInstance.from_config(str(home)) as instance:
        logged = publication_log_from_env().open(instance).weeks().record(WEEK)
    assert logged.published.ident != result.run_id and logged.unpublished_at is None  # the newer publication counts

    # Without --by, the operator's login name is recorded.
    import getpass

    assert cli(home, "unpublish", "--week", WEEK, "--reason", "again").returncode == 0
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert latest_unpublish(instance, WEEK)["by"] == getpass.getuser()
    assert stored_weeks(tables, [WEEK])[WEEK]["unpublished"]["by"] == getpass.getuser()


def test_unpublish_refuses_a_missing_reason_or_a_wrong_week_by_name(tables, tmp_path):
    home = tmp_path / "dagster_home"  # the autouse fixture made it
    empty = cli(home, "unpublish", "--week", WEEK, "--reason", "  ")
    assert empty.returncode == 2 and "--reason is required" in empty.stderr
    wrong = cli(home, "unpublish", "--week", "2026-03-09", "--reason", "test")
    assert wrong.returncode == 2 and "--week '2026-03-09' is not a weekly partition key" in wrong.stderr
    missing = subprocess.run([*CLI, "unpublish", "--week", WEEK], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "--reason" in missing.stderr
