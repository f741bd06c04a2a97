"""Only the right run reaches trading: what the table holds and what the instance recorded
after a range, a what-if, a single-week and a forced run (``core.publication_rules``)."""

from __future__ import annotations

from decimal import Decimal

import dagster as dg
import pandas as pd

from weighting_pipeline.publication.item import is_tombstone, tombstone
from weighting_pipeline.resources.dynamodb import DynamoDBResource
from weighting_pipeline.resources.publication_log import publication_log_from_env
from weighting_pipeline.resources.weights_table import WeightsTable
from weighting_pipeline_devtools.demo_ledger import synthetic_ledger
from weighting_pipeline_tests.conftest import run_chain_in_dagster
from weighting_pipeline_tests.stored_weeks import stored_weeks

WEEKS = ["2026-02-15", "2026-02-22", "2026-03-01", "2026-03-08"]
LIVE = WEEKS[-1]
# 42 h after the week of 03-08 ended: trading reads 03-08, and 03-01 is past its grace.
NOW = "2026-03-17T12:00:00-04:00"


def recorded(instance, week: str) -> dict:
    """The latest dynamic_weights materialization of ``week``, as the UI shows it."""
    [record] = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("dynamic_weights"), asset_partitions=[week]), limit=1
    ).records
    return {k: v.value for k, v in record.asset_materialization.metadata.items()}


def seeded(tables, baseline):
    tables.read_only_ledger(synthetic_ledger(baseline.keys, "2025-10-01", "2026-03-31", 1.0, seed=4))


def test_a_range_over_the_last_four_weeks_writes_the_three_past_ones_and_not_the_live_one(tables, baseline, instance):
    seeded(tables, baseline)
    assert run_chain_in_dagster(instance, partition_range=(WEEKS[0], LIVE), now=NOW).success
    assert sorted(stored_weeks(tables, WEEKS)) == WEEKS[:3]
    for week in WEEKS[:3]:
        assert recorded(instance, week)["published"] is True and recorded(instance, week)["publication"] == "published"
        assert recorded(instance, week)["protected"] is False
    live = recorded(instance, LIVE)
    assert (
        live["published"] is False
        and "trading reads this week now" in live["publication"]
        and live["protected"] is True
    )

    # The week alone, as the schedule runs it, then publishes it.
    assert run_chain_in_dagster(instance, partition_key=LIVE, now=NOW).success
    item = stored_weeks(tables, [LIVE])[LIVE]
    assert "forced_publication" not in item and recorded(instance, LIVE)["published"] is True
    assert recorded(instance, LIVE)["protected"] is True  # so its WARN checks alert (alerts.sensors)


def test_within_the_grace_of_a_late_week_the_week_before_is_protected_too(tables, baseline, instance):
    seeded(tables, baseline)
    assert run_chain_in_dagster(instance, partition_range=(WEEKS[0], LIVE), now="2026-03-16T12:00:00-04:00").success
    assert sorted(stored_weeks(tables, WEEKS)) == WEEKS[:2]  # 03-08 has no item, so trading still reads 03-01


def test_a_what_if_run_writes_nothing_and_a_forced_one_is_recorded(tables, baseline, instance):
    seeded(tables, baseline)
    what_if = {"resources": {"settings": {"config": {"lookback_days": 60}}}}
    assert run_chain_in_dagster(instance, partition_key=WEEKS[0], now=NOW, run_config=what_if).success
    assert stored_weeks(tables, WEEKS) == {}
    assert [a for a, _ in logged_actions(instance)[WEEKS[0]]] == ["refused"]  # computed, held back
    meta = recorded(instance, WEEKS[0])
    assert (
        meta["published"] is False
        and "what-if run" in meta["publication"]
        and "lookback_days 90 -> 60" in meta["publication"]
    )

    forced = run_chain_in_dagster(
        instance, partition_range=(WEEKS[2], LIVE), now=NOW, tags={"weighting/publish": "force"}
    )
    assert forced.success
    items = stored_weeks(tables, WEEKS)
    assert sorted(items) == WEEKS[2:]
    assert "forced_publication" not in items[WEEKS[2]]  # force was not needed for it
    assert "protected week in a range run" in items[LIVE]["forced_publication"]
    assert recorded(instance, LIVE)["published"] is True and "forced" in recorded(instance, LIVE)["publication"]


def logged_actions(instance) -> dict[str, list[tuple[str, str]]]:
    """Week -> the publication log's (action, run id) entries for it, oldest first."""
    out: dict[str, list[tuple[str, str]]] = {}
    for ref in sorted(publication_log_from_env().open(instance).refs(), key=lambda r: r.at):
        out.setdefault(ref.week, []).append((ref.action, ref.ident))
    return out


def observations(instance, week: str) -> list[dict]:
    """The dynamic_weights observations of ``week``, newest first, as the UI lists them."""
    records = instance.fetch_observations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("dynamic_weights"), asset_partitions=[week]), limit=10
    ).records
    return [{k: v.value for k, v in r.asset_observation.metadata.items()} | {"run_id": r.run_id} for r in records]


def test_a_later_runs_item_and_a_tombstone_are_left_in_place_and_the_run_says_so(tables, baseline, instance):
    """Newer wins: as if another run started after this one wrote 02-15 first, and an operator
    unpublished 02-22 after this run started; both finish before this run writes."""
    seeded(tables, baseline)
    table = WeightsTable(dynamodb=DynamoDBResource(), table_name=tables["weights"])
    later = pd.Timestamp.now(tz="UTC") + pd.Timedelta(hours=1)
    newer = {
        "PK": "WEIGHTS#WEEK",
        "SK": WEEKS[0],
        "partition_key": WEEKS[0],
        "run_id": "a-newer-run",
        "run_started_at": Decimal(int(later.timestamp())),
        "ttl": 4102444800,
    }
    table.put_weeks([newer])
    table.replace_week(tombstone(WEEKS[1], by="ops", reason="fills were wrong", at=later, replaced=None))

    result = run_chain_in_dagster(instance, partition_range=(WEEKS[0], WEEKS[2]), now=NOW)
    assert result.success
    items = stored_weeks(tables, WEEKS)
    assert items[WEEKS[0]]["run_id"] == "a-newer-run"
    assert is_tombstone(items[WEEKS[1]]) and items[WEEKS[1]]["unpublished"]["by"] == "ops"
    assert items[WEEKS[2]]["run_id"] == result.run_id
    assert (
        float(items[WEEKS[2]]["run_started_at"])
        == instance.get_run_record_by_id(result.run_id).create_timestamp.timestamp()
    )

    meta = recorded(instance, WEEKS[2])
    assert meta["items_written"] == 1 and meta["items_superseded"] == 2
    [lost] = [o for o in observations(instance, WEEKS[0]) if o.get("action") == "superseded"]
    assert lost["run_id"] == result.run_id and lost["superseded_by_run_id"] == "a-newer-run"
    [gone] = [o for o in observations(instance, WEEKS[1]) if o.get("action") == "superseded"]
    assert "unpublished by ops" in gone["reason"] and "fills were wrong" in gone["reason"]
    assert not [o for o in observations(instance, WEEKS[2]) if o.get("action") == "superseded"]
    # The publication log says the same: only WEEKS[2] is this run's publication.
    logged = logged_actions(instance)
    assert [logged[w] for w in WEEKS[:3]] == [
        [("superseded", result.run_id)],
        [("superseded", result.run_id)],
        [("published", result.run_id)],
    ]


def test_a_retry_keeps_its_original_runs_place(tables, baseline, instance):
    """A re-execution carries dagster/root_run_id; its items carry the root run's creation time."""
    seeded(tables, baseline)
    first = run_chain_in_dagster(instance, partition_key=WEEKS[0], now=NOW)
    assert first.success
    retry = run_chain_in_dagster(
        instance,
        partition_key=WEEKS[0],
        now=NOW,
        tags={"dagster/root_run_id": first.run_id, "dagster/parent_run_id": first.run_id},
    )
    assert retry.success
    item = stored_weeks(tables, [WEEKS[0]])[WEEKS[0]]
    assert item["run_id"] == retry.run_id
    assert float(item["run_started_at"]) == instance.get_run_record_by_id(first.run_id).create_timestamp.timestamp()
