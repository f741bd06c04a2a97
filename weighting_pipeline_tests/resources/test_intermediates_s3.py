"""Intermediates on S3 (moto's server on 127.0.0.1): one object per asset, computation
and week, and a new container re-materialises ``dynamic_weights`` alone from them."""

import os
import subprocess
from pathlib import Path

import boto3
import dagster as dg
import pytest

from weighting_pipeline.assets.code_versions import CODE_VERSIONS
from weighting_pipeline.core.chain import WeightingParams
from weighting_pipeline.resources.parquet_io_manager import PartitionedParquetIOManager, computation_key
from weighting_pipeline.settings import WeightingSettings
from weighting_pipeline_devtools.processes import materialize_command
from weighting_pipeline_tests.conftest import run_chain_in_dagster
from weighting_pipeline_tests.stored_weeks import content, stored_weeks

WEEKS = ["2026-02-22", "2026-03-01", "2026-03-08"]
INTERMEDIATE_ASSETS = ["closed_lots", "daily_returns", "sharpe_ratios", "multipliers", "tilt_backtest"]


def objects(uri: str) -> list[str]:
    bucket, prefix = uri.removeprefix("s3://").split("/", 1)
    listed = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket=bucket, Prefix=prefix + "/")
    return sorted(o["Key"].removeprefix(prefix + "/") for o in listed.get("Contents", []))


def test_a_range_run_stores_one_object_per_asset_and_week(ledger, tables, instance, s3_intermediates, baseline):
    assert run_chain_in_dagster(instance, partition_range=(WEEKS[0], WEEKS[-1])).success
    # Under the computation key each materialization shows in the UI, which is the hash of
    # what it was computed with.
    shown = {a: materialized_metadata(instance, a) for a in INTERMEDIATE_ASSETS}
    for a, meta in shown.items():
        assert meta["computation_key"] == computation_key(
            WeightingParams().as_dict(), baseline.sha256, CODE_VERSIONS[a]
        )
        assert meta["stored_under"] == f"{s3_intermediates}/{a}/{meta['computation_key']}"
    assert objects(s3_intermediates) == sorted(
        f"{a}/{shown[a]['computation_key']}/{w}.parquet" for a in INTERMEDIATE_ASSETS for w in WEEKS
    )
    assert sorted(stored_weeks(tables, WEEKS)) == WEEKS
    assert not any(Path(os.environ["DAGSTER_HOME"]).rglob("*.parquet")), "nothing may land on local disk"
    # The publication log: one entry per published week, beside the intermediates, never on local disk.
    logged = objects(os.environ["PUBLICATION_LOG__BASE_PATH"])
    assert [name.split("/")[0] for name in logged] == WEEKS
    assert all(name.endswith(f"-published-{run_of(instance)}.json") for name in logged)
    assert not any(Path(os.environ["DAGSTER_HOME"]).rglob("*.json")), "nothing may land on local disk"


def test_a_new_container_rematerialises_dynamic_weights_alone_from_s3(
    ledger, tables, instance, s3_intermediates, tmp_path, client
):
    assert run_chain_in_dagster(instance, partition_range=(WEEKS[0], WEEKS[-1])).success
    first = stored_weeks(tables, WEEKS)
    shown_before = week_of(instance, "dynamic_weights", WEEKS[1])
    backtest_before = week_of(instance, "tilt_backtest", WEEKS[2])
    for key in WEEKS:
        client.delete_item(TableName=tables["weights"], Key={"PK": {"S": "WEIGHTS#WEEK"}, "SK": {"S": key}})

    # What a new ECS task is: another working directory and another, empty DAGSTER_HOME.
    elsewhere = tmp_path / "new_task"
    (elsewhere / "home").mkdir(parents=True)
    env = {**os.environ, "DAGSTER_HOME": str(elsewhere / "home")}
    cmd = materialize_command("dynamic_weights", "--partition", WEEKS[1])
    done = subprocess.run(cmd, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    again = stored_weeks(tables, WEEKS)
    assert sorted(again) == [WEEKS[1]]
    # Same numbers and provenance from another run. The ledger index is read from the
    # instance's record of closed_lots, which this empty instance never saw (in
    # production every task shares the Postgres instance).
    assert again[WEEKS[1]]["ledger_index"] == "unknown"
    assert content(again[WEEKS[1]]) | {"ledger_index": None} == content(first[WEEKS[1]]) | {"ledger_index": None}
    assert again[WEEKS[1]]["run_id"] != first[WEEKS[1]]["run_id"]
    with dg.DagsterInstance.from_config(str(elsewhere / "home")) as fresh:
        weights = materialized_metadata(fresh, "dynamic_weights")
    # Its turnover and restatement compare with the weeks the first task published (the
    # publication log on S3), though this instance never saw them.
    assert weights["turnover"] == pytest.approx(shown_before["turnover"], abs=1e-15)
    # (the ledger index differs only as "unknown": read from closed_lots' record in an instance)
    assert weights["restatement"] == f"identical to run {first[WEEKS[1]]['run_id']} (though ledger_index differ)"

    # The backtest in yet another new task: what trading read comes from the publication
    # log, not from any instance's event log, so the week scores as it did in the first.
    other = tmp_path / "another_task"
    (other / "home").mkdir(parents=True)
    cmd = materialize_command("tilt_backtest", "--partition", WEEKS[2])
    env = {**os.environ, "DAGSTER_HOME": str(other / "home")}
    done = subprocess.run(cmd, cwd=other, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with dg.DagsterInstance.from_config(str(other / "home")) as fresh:
        scored = materialized_metadata(fresh, "tilt_backtest")
    assert scored["weights_source"] == f"dynamic_weights of {WEEKS[1]} as published (run {again[WEEKS[1]]['run_id']})"
    numbers = ["r_tilt", "r_base", "active", "turnover", "active_share", "coverage"]
    assert {k: scored[k] for k in numbers} == {k: backtest_before[k] for k in numbers}


def test_a_week_missing_from_s3_is_named_with_the_bucket(ledger, tables, instance, s3_intermediates):
    result = run_chain_in_dagster(instance, partition_key=WEEKS[0], selection=["dynamic_weights"])
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    message = (
        failure.event_specific_data.error.cause.message
        if failure.event_specific_data.error.cause
        else failure.event_specific_data.error.message
    )
    assert f"no stored data for weeks ['{WEEKS[0]}']" in message and s3_intermediates.removeprefix("s3://") in message


def week_of(instance, asset: str, week: str) -> dict:
    [record] = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[week]), limit=1
    ).records
    return {k: v.value for k, v in record.asset_materialization.metadata.items()}


def run_of(instance) -> str:
    [record] = instance.fetch_materializations(dg.AssetKey("dynamic_weights"), limit=1).records
    return record.run_id


def materialized_metadata(instance, asset: str) -> dict:
    [record] = instance.fetch_materializations(dg.AssetKey(asset), limit=1).records
    return {k: v.value for k, v in record.asset_materialization.metadata.items()}


def test_an_unusable_base_path_names_the_variable():
    manager = PartitionedParquetIOManager(base_path="nosuchscheme://bucket/prefix", settings=WeightingSettings())
    with pytest.raises(ValueError, match=r"INTERMEDIATES__BASE_PATH='nosuchscheme://bucket/prefix' cannot be opened"):
        with dg.build_init_resource_context() as context:
            manager.setup_for_execution(context)
