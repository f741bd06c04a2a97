"""deploy/dagster.yaml: the production instance, on a real PostgreSQL and moto's ECS."""

import shutil
import uuid
from pathlib import Path

import dagster as dg
import pytest

from weighting_pipeline.dagster_internals import (
    PartitionKeyFilter,  # no public way to filter the event log by partition
)
from weighting_pipeline.production.ecs_launcher import EcsRunLauncher
from weighting_pipeline_devtools.demo_ledger import synthetic_ledger
from weighting_pipeline_devtools.infrastructure import deploy
from weighting_pipeline_tests.conftest import run_chain_in_dagster, seed_ledger, template_with_run_variable_renamed

REPO = Path(__file__).resolve().parents[2]
WEEKS = ["2026-02-22", "2026-03-01", "2026-03-08"]


@pytest.fixture
def production(deployment, postgres_server, aws, dynamodb, monkeypatch, tmp_path):
    """What the template's run task definition gives a run's container (its secrets
    resolved), with a fresh database and a DAGSTER_HOME holding deploy/dagster.yaml."""
    name = f"t{uuid.uuid4().hex[:8]}"
    env = {**deployment.run_container().env(), "DAGSTER_PG_DB": postgres_server.create_database(name)["DAGSTER_PG_DB"]}
    export_as_a_run_container(env, monkeypatch, tmp_path)
    return deployment


def export_as_a_run_container(env: dict[str, str], monkeypatch, tmp_path) -> None:
    """``env`` exported, and DAGSTER_HOME a folder holding deploy/dagster.yaml, as in the image."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    home = tmp_path / "production_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))


def test_the_instance_stores_in_postgres_queues_runs_and_launches_them_on_ecs(production):
    import sqlalchemy.pool as db_pool
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    from weighting_pipeline.production.pg_storage import PooledPostgresStorage

    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        ref = instance.get_ref().storage_data  # what run workers rebuild the instance from
        assert (ref.module_name, ref.class_name) == (PooledPostgresStorage.__module__, PooledPostgresStorage.__name__)
        for storage in (instance.run_storage, instance.event_log_storage, instance.schedule_storage):
            pool = storage._engine.pool
            assert (
                isinstance(pool, db_pool.QueuePool) and pool.size() == 2 and pool._max_overflow == 3 and pool._pre_ping
            )
        assert isinstance(instance.run_coordinator, dg.QueuedRunCoordinator)
        assert instance.get_concurrency_config().run_queue_config.tag_concurrency_limits == [
            {"key": "dagster/backfill", "limit": 1}
        ]
        launcher = instance.run_launcher
        assert isinstance(launcher, EcsRunLauncher) and not launcher.use_current_ecs_task_config
        assert launcher.run_task_kwargs == {
            "cluster": production.cluster,
            "launchType": "FARGATE",
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": [production.subnet],
                    "securityGroups": [production.resource("ServicesSecurityGroup")],
                    "assignPublicIp": "DISABLED",
                }
            },
        }
        assert instance.run_monitoring_enabled and instance.run_retries_enabled
        assert not instance.run_retries_retry_on_asset_or_op_failure  # a failed check is never retried
        assert not instance.telemetry_enabled


def test_subnets_without_a_security_group_are_refused_by_name(production, monkeypatch):
    monkeypatch.delenv("DAGSTER_ECS_SECURITY_GROUPS")
    with pytest.raises(Exception, match="DAGSTER_ECS_SUBNETS is set but DAGSTER_ECS_SECURITY_GROUPS is not"):
        with dg.DagsterInstance.get() as instance:
            instance.run_launcher  # noqa: B018  (loads it)


def test_a_range_run_records_each_week_in_postgres(production, baseline):
    seed_ledger(production.ledger_table, synthetic_ledger(baseline.keys, "2025-10-01", "2026-03-31", 1.0, seed=4))
    from benchmarks.weekly import counting_connections

    with dg.DagsterInstance.get() as instance:  # creating the tables of a new database connects apart
        with counting_connections() as opened:
            result = run_chain_in_dagster(instance, partition_range=(WEEKS[0], WEEKS[-1]))
        assert result.success
        run_id = result.run_id
        events = len(instance.all_logs(run_id))
    # The run's events go through the pool: at most its size, where dagster-postgres alone
    # opens a connection per statement (about three per event).
    assert events > 100 and opened[0] <= 15, (events, opened[0])
    # A second instance object, as the webserver in another container would open it.
    with dg.DagsterInstance.get() as reader:
        assert reader.get_run_by_id(run_id).status == dg.DagsterRunStatus.SUCCESS
        key = dg.AssetCheckKey(dg.AssetKey("dynamic_weights"), "weights_sum_to_one")
        for week in WEEKS:
            [record] = reader.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey("dynamic_weights"), asset_partitions=[week]), limit=1
            ).records
            assert record.run_id == run_id
            check = reader.event_log_storage.get_latest_asset_check_execution_by_key(
                [key], partition_filter=PartitionKeyFilter(key=week)
            )[key]
            assert check.status.value == "SUCCEEDED" and check.run_id == run_id


# Each in a stage of its own (conftest's deployment is prod): the stage names the template's tables, and moto keeps them.
@pytest.mark.parametrize(
    ("variable", "stage"), [("TRADE_LEDGER__TABLE_NAME", "dev"), ("DAGSTER_ECS_CLUSTER", "staging")]
)
def test_a_variable_renamed_in_the_templates_run_task_breaks_the_run_naming_it(
    variable, stage, postgres_server, aws, dynamodb, monkeypatch, tmp_path, baseline
):
    """The environment comes from the deployed template alone: a typo there (here the run task's
    ``variable`` spelt with a trailing S) fails the run worker by name, as it would on ECS."""
    deployment = deploy(
        stage=stage,
        aws_endpoint=aws.endpoint,
        dynamodb_endpoint=dynamodb.endpoint,
        template=template_with_run_variable_renamed(variable, tmp_path),
        database=postgres_server.create_database(f"t{uuid.uuid4().hex[:8]}"),
        stack_name=f"t{uuid.uuid4().hex[:8]}",
    )
    env = deployment.run_container().env()
    assert variable not in env and f"{variable}S" in env
    export_as_a_run_container(env, monkeypatch, tmp_path)
    with pytest.raises(Exception, match=variable):
        with dg.DagsterInstance.get() as instance:
            instance.run_launcher  # noqa: B018  (the run worker loads it)
            run_chain_in_dagster(instance, partition_key=WEEKS[0])
