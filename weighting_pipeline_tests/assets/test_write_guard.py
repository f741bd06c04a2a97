"""A week that breaks an invariant never reaches DynamoDB, and the last good week stays."""

import time

import dagster as dg
import pandas as pd
import pytest

from weighting_pipeline.core.chain import WeightingParams, run_chain
from weighting_pipeline.publication.provenance import WeeklyWeights
from weighting_pipeline.resources.dynamodb import DynamoDBResource
from weighting_pipeline.resources.publication_log import PublicationLog
from weighting_pipeline.resources.weights_io_manager import DynamoDBWeightsIOManager, WeightsRejected
from weighting_pipeline.resources.weights_table import WeightsTable
from weighting_pipeline_devtools.demo_ledger import synthetic_ledger, synthetic_lots
from weighting_pipeline_tests.conftest import run_chain_in_dagster
from weighting_pipeline_tests.stored_weeks import intermediate_file

KEY = "2026-03-01"


def table(tables):
    return WeightsTable(dynamodb=DynamoDBResource(), table_name=tables["weights"])


def test_failing_blocking_check_publishes_nothing(tables, instance, baseline, monkeypatch, tmp_path):
    tables.read_only_ledger(synthetic_ledger(baseline.keys, "2025-10-01", "2026-03-31", 1.0, seed=4))
    store = tmp_path / "store"
    monkeypatch.setenv("INTERMEDIATES__BASE_PATH", str(store))
    assert run_chain_in_dagster(
        instance, partition_key=KEY, selection=["closed_lots", "daily_returns", "sharpe_ratios", "multipliers"]
    ).success
    # Corrupt the stored multipliers for this week: one strategy at 3x, past the 2x bound.
    path = intermediate_file(store, "multipliers", KEY)
    frame = pd.read_parquet(path)
    frame.loc[frame["strategy"] == "gold.clj", "multiplier"] = 3.0
    frame.to_parquet(path)

    result = run_chain_in_dagster(instance, partition_key=KEY, selection=["dynamic_weights"])
    assert not result.success
    failed = {e.check_name for e in result.get_asset_check_evaluations() if not e.passed}
    assert "multipliers_within_bounds" in failed
    assert table(tables).get_week(KEY) is None
    assert not result.asset_materializations_for_node("dynamic_weights")


def weekly(frame, baseline):
    return WeeklyWeights.build(
        frame, baseline, WeightingParams(), run_id="r", run_started_at=time.time(), code_version="test", ledger_index={}
    )


def test_io_manager_refuses_bad_weights_and_keeps_the_last_good_week(tables, baseline, tmp_path):
    lots = synthetic_lots(baseline.keys, "2025-10-01", "2026-03-31", 1.0, seed=4)
    good = run_chain(lots, [KEY], baseline.allocations)["dynamic_weights"]
    log = PublicationLog(base_path=str(tmp_path / "log")).open()
    manager = DynamoDBWeightsIOManager(table=table(tables), log=log)
    context = dg.build_output_context(asset_key="dynamic_weights", partition_key=KEY, run_id="good-run")
    manager.handle_output(context, weekly(good, baseline))
    kept = table(tables).get_week(KEY)
    assert kept is not None

    for corrupt in (
        lambda f: f.assign(weight=f["weight"] * 1.01),  # sums to 1.01
        lambda f: f.assign(weight=f["weight"].where(f["strategy"] != "gold.clj", float("nan"))),
        lambda f: f[f["strategy"] != "gold.clj"],  # a strategy missing
        lambda f: f.assign(baseline=f["baseline"][::-1].to_numpy()),  # not the configured baseline
    ):
        context = dg.build_output_context(asset_key="dynamic_weights", partition_key=KEY, run_id="bad-run")
        with pytest.raises(WeightsRejected, match="refusing to publish"):
            manager.handle_output(context, weekly(corrupt(good.copy()), baseline))
        assert table(tables).get_week(KEY) == kept
    # Only the good week reached the publication log: a refused output logs nothing.
    [logged] = log.refs()
    assert (logged.week, logged.action, logged.ident) == (KEY, "published", "r")

    # Provenance that does not describe these weights is refused too.
    context = dg.build_output_context(asset_key="dynamic_weights", partition_key=KEY, run_id="bad-run")
    other = weekly(good.assign(weight=good["weight"][::-1].to_numpy()), baseline)
    mismatched = WeeklyWeights(good, baseline, WeightingParams(), other.provenance, other.run_started_at)
    with pytest.raises(WeightsRejected, match="weights_sha256 differs"):
        manager.handle_output(context, mismatched)
    assert table(tables).get_week(KEY) == kept


def test_an_item_trading_would_refuse_is_not_written(baseline):
    """The writer runs the reader's own check on each item as it will be stored."""
    from decimal import Decimal

    from weighting_pipeline.resources.weights_io_manager import as_trading_reads
    from weighting_pipeline_tests.stored_weeks import items_for

    lots = synthetic_lots(baseline.keys, "2025-10-01", "2026-03-31", 1.0, seed=4)
    frame = run_chain(lots, [KEY], baseline.allocations)["dynamic_weights"]
    [item] = items_for(frame, [KEY], baseline, pd.Timestamp("2026-03-09", tz="UTC"))
    as_trading_reads([item], baseline.allocations)  # a computed week passes
    item["weights"]["gold.clj"] += Decimal("0.001")
    with pytest.raises(WeightsRejected, match=f"trading.s reader would refuse: item for {KEY} weights sum to 1.000999"):
        as_trading_reads([item], baseline.allocations)
    item["weights"]["gold.clj"] -= Decimal("0.001")
    moved = baseline.allocations.copy()
    moved["gold.clj"] += 0.01
    with pytest.raises(WeightsRejected, match="computed from another baseline"):
        as_trading_reads([item], moved)


def test_a_publication_log_that_cannot_be_written_fails_the_output_naming_both_places(tables, baseline, tmp_path):
    from weighting_pipeline.resources.weights_io_manager import PublicationNotLogged

    lots = synthetic_lots(baseline.keys, "2025-10-01", "2026-03-31", 1.0, seed=4)
    good = run_chain(lots, [KEY], baseline.allocations)["dynamic_weights"]
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the log's folder should be")
    manager = DynamoDBWeightsIOManager(table=table(tables), log=PublicationLog(base_path=str(blocked)).open())
    context = dg.build_output_context(asset_key="dynamic_weights", partition_key=KEY, run_id="good-run")
    with pytest.raises(PublicationNotLogged) as failed:
        manager.handle_output(context, weekly(good, baseline))
    message = str(failed.value)
    assert f"weeks {KEY} were written to {tables['weights']}" in message
    assert f"the publication log at {blocked} could not record weeks {KEY}" in message
    assert "run these weeks again" in message
    assert table(tables).get_week(KEY) is not None  # the table took it: the message says so
