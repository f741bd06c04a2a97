"""Every check of every asset has its own record for each week, in single-week runs and in ranges.

Read from what the instance records (what the UI shows), never from the run's
return value: a range run once stored its results with no partition, and each
week's checks stayed PLANNED (the UI's "skipped") although they had run.
"""

import dagster as dg
import pandas as pd
import pytest

# Test-only internal: the status of a check execution record, which Dagster does not export.
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus as Status

from weighting_pipeline.assets import CHAIN_ASSETS
from weighting_pipeline.dagster_internals import (
    PartitionKeyFilter,  # no public way to filter the event log by partition
)
from weighting_pipeline_devtools.demo_ledger import synthetic_ledger
from weighting_pipeline_tests.conftest import run_chain_in_dagster, seed_ledger, temp_instance
from weighting_pipeline_tests.real_lot import raw_item
from weighting_pipeline_tests.stored_weeks import intermediate_file, stored_weeks

WEEKS = ["2026-02-22", "2026-03-01", "2026-03-08"]
CHECK_KEYS = sorted((k for a in CHAIN_ASSETS for k in a.check_keys), key=lambda k: k.to_user_string())


def recorded(instance, weeks=WEEKS):
    """(week, check) -> (status, the evaluation's metadata) as the instance holds them."""
    out = {}
    for week in weeks:
        records = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            CHECK_KEYS, partition_filter=PartitionKeyFilter(key=week)
        )
        for key in CHECK_KEYS:
            record = records.get(key)
            evaluation = record.event.dagster_event.event_specific_data if record and record.event else None
            metadata = (
                {k: v.value for k, v in evaluation.metadata.items()}
                if isinstance(evaluation, dg.AssetCheckEvaluation)
                else {}
            )
            out[(week, key.to_user_string())] = (record.status if record else None, metadata)
    return out


@pytest.fixture
def ledger(tables, baseline):
    ledger = synthetic_ledger(baseline.keys, "2025-10-01", "2026-03-31", 1.0, seed=4)
    # One bad item whose close time lies only in the first week's window [2025-12-01 18:00, 2025-12-08 18:00) New York.
    closed = "2025-12-05T15:00:00Z"
    bad = raw_item("zero-qty", entry_qty="0", fully_closed_at=closed)
    seed_ledger(tables["ledger"], ledger, [bad])
    return ledger.lots


def test_a_range_run_records_each_weeks_checks_as_single_week_runs_do(ledger, tables, instance, tmp_path):
    assert run_chain_in_dagster(instance, partition_range=(WEEKS[0], WEEKS[-1])).success
    ranged = recorded(instance)
    assert len(ranged) == len(WEEKS) * len(CHECK_KEYS) == 33
    assert all(status in (Status.SUCCEEDED, Status.FAILED) for status, _ in ranged.values()), (
        ranged
    )  # none left PLANNED
    assert {s for (w, k), (s, _) in ranged.items() if k.startswith("dynamic_weights") and "turnover" not in k} == {
        Status.SUCCEEDED
    }

    # The bad ledger item counts against the one week whose window holds it.
    ledger_check = {w: ranged[(w, "closed_lots:ledger_items_valid")] for w in WEEKS}
    assert [s for s, _ in ledger_check.values()] == [Status.FAILED, Status.SUCCEEDED, Status.SUCCEEDED]
    assert ledger_check[WEEKS[0]][1]["items_skipped"] == 1
    assert ledger_check[WEEKS[0]][1]["skipped: entry_qty and entry_price must be finite and > 0"] == 1
    assert ledger_check[WEEKS[1]][1]["items_skipped"] == 0
    # Each week's numbers are its own: the first week has no earlier week, the others have a turnover.
    turnover = {w: ranged[(w, "dynamic_weights:turnover_below_threshold")][1] for w in WEEKS}
    assert "turnover" not in turnover[WEEKS[0]] and turnover[WEEKS[1]]["turnover"] != turnover[WEEKS[2]]["turnover"]

    with temp_instance(tmp_path / "singles_home") as singles:
        for week in WEEKS:
            assert run_chain_in_dagster(singles, partition_key=week).success
        single = recorded(singles)
    assert {k: s for k, (s, _) in single.items()} == {k: s for k, (s, _) in ranged.items()}
    volatile = {"earlier_run_id"}
    assert {k: {n: v for n, v in m.items() if n not in volatile} for k, (_, m) in single.items()} == {
        k: {n: v for n, v in m.items() if n not in volatile} for k, (_, m) in ranged.items()
    }


def test_each_check_evaluation_points_at_the_runs_materialization_of_its_week(ledger, tables, instance):
    result = run_chain_in_dagster(instance, partition_range=(WEEKS[0], WEEKS[-1]))
    assert result.success
    run_id = result.run_id
    key = dg.AssetCheckKey(dg.AssetKey("dynamic_weights"), "weights_sum_to_one")
    for week in WEEKS:
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [key], partition_filter=PartitionKeyFilter(key=week)
        )[key]
        target = record.event.dagster_event.event_specific_data.target_materialization_data
        mat = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("dynamic_weights"), asset_partitions=[week]), limit=1
        ).records[0]
        assert (target.storage_id, target.run_id) == (mat.storage_id, run_id)


def test_a_range_with_one_bad_week_fails_that_week_and_publishes_none(ledger, tables, instance, monkeypatch, tmp_path):
    store = tmp_path / "store"
    monkeypatch.setenv("INTERMEDIATES__BASE_PATH", str(store))
    upstream = ["closed_lots", "daily_returns", "sharpe_ratios", "multipliers"]
    assert run_chain_in_dagster(instance, partition_range=(WEEKS[0], WEEKS[-1]), selection=upstream).success
    path = intermediate_file(store, "multipliers", WEEKS[1])  # the middle week: one multiplier past the 2x bound
    frame = pd.read_parquet(path)
    frame.loc[frame["strategy"] == "gold.clj", "multiplier"] = 3.0
    frame.to_parquet(path)

    result = run_chain_in_dagster(instance, partition_range=(WEEKS[0], WEEKS[-1]), selection=["dynamic_weights"])
    assert not result.success
    got = recorded(instance)
    bounds = {w: got[(w, "dynamic_weights:multipliers_within_bounds")] for w in WEEKS}
    assert [s for s, _ in bounds.values()] == [Status.SUCCEEDED, Status.FAILED, Status.SUCCEEDED]
    assert "gold.clj=3.0" in bounds[WEEKS[1]][1]["problem"]
    assert got[(WEEKS[1], "dynamic_weights:weights_sum_to_one")][0] == Status.SUCCEEDED  # each rule is its own row
    assert stored_weeks(tables, WEEKS) == {}  # no week of the run was published
    assert not instance.fetch_materializations(dg.AssetKey("dynamic_weights"), limit=1).records
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "blocking asset check" in failure.step_failure_data.error.message
