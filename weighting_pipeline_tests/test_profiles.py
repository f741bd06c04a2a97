"""The trading reader: dynamic when all is well, baseline (with a reason) otherwise.

The weeks are in 2040 on purpose: DynamoDB Local really deletes items whose
``ttl`` has passed on the wall clock, so stored items must expire in the future.
"""

import json
import logging
from decimal import Decimal
from types import SimpleNamespace

import pandas as pd
import pytest

from weighting_pipeline import get_strategy_profile
from weighting_pipeline.core.baseline import load_baseline, packaged_config_path
from weighting_pipeline.core.calendar import FIRST_WEEK
from weighting_pipeline.core.chain import run_chain
from weighting_pipeline.partitions import weekly_partitions
from weighting_pipeline.publication.item import tombstone
from weighting_pipeline.resources.dynamodb import DynamoDBResource
from weighting_pipeline.resources.weights_table import WeightsTable
from weighting_pipeline_devtools.demo_ledger import synthetic_lots
from weighting_pipeline_tests.stored_weeks import items_for

KEY = "2040-02-19"  # ends 2040-02-26 18:00 EST, valid until 2040-03-04 18:00
PREVIOUS = "2040-02-12"
NOW = pd.Timestamp("2040-02-28 12:00", tz="America/New_York")
BASELINE = load_baseline(packaged_config_path("prod"))
TRADING = json.loads(packaged_config_path("prod").read_text())  # trading's strategy.prod.json, as its file holds it


@pytest.fixture(scope="module")
def frames(baseline):
    lots = synthetic_lots(baseline.keys, "2039-10-01", "2040-03-10", 1.0, seed=2)
    return run_chain(lots, [PREVIOUS, KEY], baseline.allocations)["dynamic_weights"]


def store(tables, frames, key, written_at=NOW, mutate=None):
    item = items_for(frames, [key], BASELINE, written_at)[0]
    if mutate:
        mutate(item)
    WeightsTable(dynamodb=DynamoDBResource(), table_name=tables["weights"]).put_weeks([item])
    return item


def test_the_readers_first_week_is_the_first_partition():
    assert weekly_partitions.get_first_partition_key() == FIRST_WEEK


def test_uses_the_current_weeks_weights(tables, frames, baseline):
    item = store(tables, frames, KEY)
    profile = get_strategy_profile(TRADING, now=NOW)
    assert profile.is_dynamic and profile.source == KEY
    assert profile.allocations == item["weights"]
    assert set(profile.allocations) == set(baseline.keys)
    assert abs(sum(profile.allocations.values()) - 1) <= Decimal("1e-9")


def test_a_trading_process_reading_its_weights_never_loads_dagster(tables, frames):
    """The reader's first real call once built its client through the Dagster resource
    module, which imports dagster_aws: a trading process loaded Dagster on its first read."""
    import subprocess
    import sys

    store(tables, frames, KEY)
    code = (
        "import sys, pandas as pd\n"
        "from weighting_pipeline import get_strategy_profile\n"
        f"profile = get_strategy_profile({TRADING!r}, now=pd.Timestamp('{NOW.isoformat()}'))\n"
        "assert profile.is_dynamic, profile.source\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dagster', 'dagster_aws', 'sqlalchemy', 'alembic')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_late_run_uses_last_weeks_item_within_grace(tables, frames, caplog):
    store(tables, frames, PREVIOUS)  # valid until 2040-02-26 18:00; the current week's item is missing
    within = get_strategy_profile(TRADING, now=pd.Timestamp("2040-02-26 23:00", tz="America/New_York"))
    assert within.is_dynamic and within.source == PREVIOUS
    with caplog.at_level(logging.WARNING, logger="weighting_pipeline_reader"):
        after = get_strategy_profile(TRADING, now=pd.Timestamp("2040-02-27 18:01", tz="America/New_York"))
    assert not after.is_dynamic and "no longer valid" in after.source
    assert "Using baseline allocations" in caplog.text


def test_an_unpublished_week_reads_as_missing(tables, frames, caplog):
    table = WeightsTable(dynamodb=DynamoDBResource(), table_name=tables["weights"])
    store(tables, frames, PREVIOUS)
    store(tables, frames, KEY)
    now = pd.Timestamp("2040-02-26 23:00", tz="America/New_York")
    assert get_strategy_profile(TRADING, now=now).source == KEY
    table.replace_week(
        tombstone(KEY, by="ops", reason="bad fill data", at=now.tz_convert("UTC"), replaced=table.get_week(KEY))
    )
    with caplog.at_level(logging.WARNING, logger="weighting_pipeline_reader"):
        within = get_strategy_profile(TRADING, now=now)  # as a missing item: last week's, within its grace
    assert within.is_dynamic and within.source == PREVIOUS
    assert f"Weights for {KEY} are missing (unpublished)" in caplog.text
    table.replace_week(tombstone(PREVIOUS, by="ops", reason="also bad", at=now.tz_convert("UTC"), replaced=None))
    both = get_strategy_profile(TRADING, now=now)
    assert not both.is_dynamic
    assert both.source == f"baseline: no weights item for {KEY} (unpublished) and none for {PREVIOUS} (unpublished)"


def _set(name, value):
    def mutate(item):
        item[name] = value

    return mutate


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (_set("ttl", int(pd.Timestamp("2040-02-27", tz="UTC").timestamp())), "expired"),  # past for the reader only
        (lambda i: i["weights"].pop("gold.clj"), "other strategies"),
        (lambda i: i["weights"].update({"extra.clj": Decimal(0)}), "other strategies"),
        (lambda i: i["weights"].update({"gold.clj": i["weights"]["gold.clj"] + Decimal("0.01")}), "sum to"),
        (_set("weights", "not a map"), "not a map"),
        (lambda i: i["parameters"].update({"min_multiplier": Decimal("0.9")}), "outside"),
        (_set("partition_key", PREVIOUS), "partition_key"),
    ],
)
def test_broken_items_fall_back_to_baseline(tables, frames, baseline, mutate, reason, caplog):
    store(tables, frames, KEY, mutate=mutate)
    with caplog.at_level(logging.WARNING, logger="weighting_pipeline_reader"):
        profile = get_strategy_profile(TRADING, now=NOW)
    assert not profile.is_dynamic and reason in profile.source, profile.source
    assert {k: float(v) for k, v in profile.allocations.items()} == baseline.allocations.to_dict()
    assert reason in caplog.text


def test_missing_items_fall_back(tables):
    profile = get_strategy_profile(TRADING, now=NOW)
    assert not profile.is_dynamic and "no weights item" in profile.source


def test_unset_table_falls_back(monkeypatch):
    monkeypatch.delenv("STRATEGY_WEIGHTS__TABLE_NAME", raising=False)
    profile = get_strategy_profile(TRADING, now=NOW)
    assert not profile.is_dynamic and "STRATEGY_WEIGHTS__TABLE_NAME" in profile.source


def test_unreachable_table_falls_back(monkeypatch):
    from weighting_pipeline_devtools.dynamodb_local import free_port

    monkeypatch.setenv("STRATEGY_WEIGHTS__TABLE_NAME", "strategy-weights")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{free_port()}")  # nothing listens
    profile = get_strategy_profile(TRADING, now=NOW)
    assert not profile.is_dynamic and "unreachable" in profile.source


def test_missing_table_falls_back(monkeypatch):
    monkeypatch.setenv("STRATEGY_WEIGHTS__TABLE_NAME", "no-such-table")
    profile = get_strategy_profile(TRADING, now=NOW)
    assert not profile.is_dynamic and "unreachable" in profile.source


def test_called_as_the_patched_coordinator_calls_it(tables, frames, baseline):
    """Trading passes its Settings().strategy (dsl_files, dsl_allocations as floats); the
    profile is the design's dataclass, files in trading's order, folder keys kept."""
    from dataclasses import fields

    from weighting_pipeline_reader import StrategyProfile

    assert [f.name for f in fields(StrategyProfile)][:3] == ["files", "allocations", "is_dynamic"]
    assert StrategyProfile(["gold.clj"], {"gold.clj": Decimal(1)}).is_dynamic is False
    item = store(tables, frames, KEY)
    settings = SimpleNamespace(
        dsl_files=list(TRADING["files"]), dsl_allocations={k: float(v) for k, v in TRADING["allocations"].items()}
    )
    profile = get_strategy_profile(settings, now=NOW)
    assert profile.is_dynamic and profile.allocations == item["weights"]
    assert profile.files == TRADING["files"] and list(profile.allocations) == TRADING["files"]
    assert "ftlt/holy_grail.clj" in profile.files
    # What trading's orchestrator does with it (functions/strategy_orchestrator/lambda_handler.py)
    configs = [(f, profile.allocations[f]) for f in profile.files]
    assert abs(sum(a for _, a in configs) - 1) <= Decimal("1e-9")


def test_a_week_computed_from_another_baseline_is_not_served(tables, frames, caplog):
    """Trading rewrote its baseline after the week was published: trading's new baseline, and why."""
    store(tables, frames, KEY)
    moved = json.loads(json.dumps(TRADING))
    moved["allocations"]["gold.clj"] += 0.01
    moved["allocations"]["defence.clj"] -= 0.01
    with caplog.at_level(logging.WARNING, logger="weighting_pipeline_reader"):
        profile = get_strategy_profile(moved, now=NOW)
    assert not profile.is_dynamic and "computed from another baseline" in profile.source, profile.source
    assert "gold.clj" in profile.source and "defence.clj" in profile.source
    assert profile.allocations == {k: Decimal(str(v)) for k, v in moved["allocations"].items()}
    assert "Using baseline allocations" in caplog.text
    fewer = {
        "files": TRADING["files"][:-1],
        "allocations": {k: TRADING["allocations"][k] for k in TRADING["files"][:-1]},
    }
    assert "computed from another baseline" in get_strategy_profile(fewer, now=NOW).source


def test_use_dynamic_false_returns_the_baseline_without_touching_dynamodb(tables, frames, monkeypatch):
    from weighting_pipeline_devtools.dynamodb_local import free_port

    store(tables, frames, KEY)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{free_port()}")  # any call would fail
    profile = get_strategy_profile(TRADING, False, now=NOW)
    assert not profile.is_dynamic and profile.source == "baseline: use_dynamic=False"
    assert profile.allocations == {k: Decimal(repr(v)) for k, v in BASELINE.allocations.items()}
    assert profile.files == BASELINE.keys


def test_the_client_is_kept_per_process_and_per_endpoint(tables, monkeypatch):
    from weighting_pipeline_reader import profile as reader

    assert reader._client() is reader._client()
    here = reader._client()
    with monkeypatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:1")
        assert reader._client() is not here  # another endpoint, another client
    assert reader._client() is here
