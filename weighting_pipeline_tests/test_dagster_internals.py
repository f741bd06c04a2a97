"""The private Dagster names the product needs (``weighting_pipeline/dagster_internals.py``)
still exist where it imports them, and nothing else in the product imports private Dagster."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
INTERNALS = REPO / "weighting_pipeline" / "dagster_internals.py"


def private_imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) of each ``from dagster._... import name`` in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.split(".")[0].startswith("dagster")
            and "._" in "." + node.module
        ):
            found += [(node.module, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            found += [(a.name, "") for a in node.names if a.name.startswith("dagster") and "._" in a.name]
    return found


@pytest.mark.parametrize("module, name", private_imports(INTERNALS))
def test_each_private_dagster_name_is_still_where_we_import_it(module, name):
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        pytest.fail(
            f"Dagster moved {module}.{name} ({exc}); update weighting_pipeline/dagster_internals.py, the one place that imports it"
        )
    assert isinstance(found, type)


def test_the_internals_module_is_the_only_product_code_that_imports_private_dagster():
    product = [p for p in (REPO / "weighting_pipeline").rglob("*.py") if p != INTERNALS]
    offenders = {str(p.relative_to(REPO)): private_imports(p) for p in product if private_imports(p)}
    assert private_imports(INTERNALS) and not offenders, offenders
    for config in (REPO / "deploy").rglob("*.yaml"):
        assert "dagster._" not in config.read_text(), f"{config.relative_to(REPO)} names a private Dagster module"


@pytest.mark.parametrize("storage", ["PostgresRunStorage", "PostgresEventLogStorage", "PostgresScheduleStorage"])
def test_dagster_postgres_storages_still_keep_their_engine_where_the_pool_replaces_it(storage):
    import inspect

    import dagster_postgres

    from weighting_pipeline.dagster_internals import POSTGRES_ENGINE_ATTRIBUTE

    source = inspect.getsource(getattr(dagster_postgres, storage))
    assert (
        f"self.{POSTGRES_ENGINE_ATTRIBUTE} = " in source
        and f"create_pg_connection(self.{POSTGRES_ENGINE_ATTRIBUTE})" in source.replace("\n", "")
    ), (
        f"dagster_postgres.{storage} no longer keeps its engine in {POSTGRES_ENGINE_ATTRIBUTE}: "
        "update POSTGRES_ENGINE_ATTRIBUTE in weighting_pipeline/dagster_internals.py and production/pg_storage.py"
    )


def test_dagster_still_reads_the_event_batch_size_variable():
    import inspect

    import dagster as dg

    from weighting_pipeline.dagster_internals import EVENT_BATCH_SIZE_ENV

    module = inspect.getsource(inspect.getmodule(dg.DagsterInstance.handle_new_event))
    assert f'"{EVENT_BATCH_SIZE_ENV}"' in module, (
        f"Dagster's handle_new_event no longer reads {EVENT_BATCH_SIZE_ENV}: runs write one insert per event again; "
        "find the new switch and update weighting_pipeline/dagster_internals.py"
    )


def test_event_batching_is_on_unless_the_deployment_says_otherwise():
    from weighting_pipeline.dagster_internals import EVENT_BATCH_SIZE, EVENT_BATCH_SIZE_ENV, enable_event_batching

    unset, off = {}, {EVENT_BATCH_SIZE_ENV: "0"}
    enable_event_batching(unset)
    enable_event_batching(off)
    assert unset == {EVENT_BATCH_SIZE_ENV: str(EVENT_BATCH_SIZE)} and off == {EVENT_BATCH_SIZE_ENV: "0"}


@pytest.mark.parametrize("pool", [{"pool_size": 1}, {"max_overflow": -1}, {"pool_recycle": 0}])
def test_a_pool_that_cannot_serve_a_run_is_refused_naming_the_setting(pool):
    from weighting_pipeline.production.pg_storage import PooledPostgresStorage

    with pytest.raises(ValueError, match="storage pool in dagster.yaml: pool_size must be >= 2"):
        PooledPostgresStorage("postgresql+psycopg2://nobody@127.0.0.1:1/none", pool=pool)


def test_dagster_postgres_storage_still_holds_its_three_storages_where_the_pool_replaces_their_engines():
    import inspect

    import dagster_postgres

    from weighting_pipeline.dagster_internals import POSTGRES_STORAGES

    source = inspect.getsource(dagster_postgres.DagsterPostgresStorage.__init__)
    missing = [name for name in POSTGRES_STORAGES if f"self.{name} = " not in source]
    assert not missing, (
        f"DagsterPostgresStorage no longer sets {missing}: update POSTGRES_STORAGES in "
        "weighting_pipeline/dagster_internals.py"
    )


def test_the_event_log_still_indexes_each_partitions_newest_event(instance):
    """history.latest_materializations reads one record per week through it."""
    import dagster as dg

    from weighting_pipeline.dagster_internals import latest_storage_ids_by_partition

    @dg.asset(partitions_def=dg.StaticPartitionsDefinition(["a", "b"]))
    def thing():
        return 1

    for key in ("a", "a", "b"):
        assert dg.materialize([thing], partition_key=key, instance=instance).success
    records = instance.fetch_materializations(dg.AssetKey("thing"), limit=10).records
    newest = {p: max(r.storage_id for r in records if r.partition_key == p) for p in ("a", "b")}
    found = latest_storage_ids_by_partition(
        instance, dg.AssetKey("thing"), dg.DagsterEventType.ASSET_MATERIALIZATION, {"a", "b"}
    )
    assert found == newest


@pytest.mark.parametrize("method", ["get_latest_storage_id_by_partition", "get_latest_asset_check_execution_by_key"])
def test_the_event_log_methods_the_internals_call_are_still_there(instance, method):
    assert callable(getattr(instance.event_log_storage, method, None)), (
        f"Dagster's event log storage has no {method} any more: update weighting_pipeline/dagster_internals.py"
    )


def test_the_instance_still_keeps_cursors_the_scheduled_task_stores(instance):
    """ops.scheduled keeps the live-week alert's cursor there between weekly tasks."""
    from weighting_pipeline.dagster_internals import get_cursor_value, set_cursor_value

    assert get_cursor_value(instance, "weighting_pipeline/test") is None
    set_cursor_value(instance, "weighting_pipeline/test", '{"after": 7}')
    set_cursor_value(instance, "weighting_pipeline/test", '{"after": 9}')
    assert get_cursor_value(instance, "weighting_pipeline/test") == '{"after": 9}'
