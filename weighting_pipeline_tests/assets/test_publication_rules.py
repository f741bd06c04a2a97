"""Only the right run reaches trading: what the table holds and what the instance recorded
after a range, a what-if, a single-week and a forced run (``core.publication_rules``)."""

from __future__ import annotations

import dagster as dg

from weighting_pipeline.devtools.demo_ledger import synthetic_ledger
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
    live = recorded(instance, LIVE)
    assert live["published"] is False and "trading reads this week now" in live["publication"]

    # The week alone, as the schedule runs it, then publishes it.
    assert run_chain_in_dagster(instance, partition_key=LIVE, now=NOW).success
    item = stored_weeks(tables, [LIVE])[LIVE]
    assert "forced_publication" not in item and recorded(instance, LIVE)["published"] is True


def test_within_the_grace_of_a_late_week_the_week_before_is_protected_too(tables, baseline, instance):
    seeded(tables, baseline)
    assert run_chain_in_dagster(instance, partition_range=(WEEKS[0], LIVE), now="2026-03-16T12:00:00-04:00").success
    assert sorted(stored_weeks(tables, WEEKS)) == WEEKS[:2]  # 03-08 has no item, so trading still reads 03-01


def test_a_what_if_run_writes_nothing_and_a_forced_one_is_recorded(tables, baseline, instance):
    seeded(tables, baseline)
    what_if = {"resources": {"settings": {"config": {"lookback_days": 60}}}}
    assert run_chain_in_dagster(instance, partition_key=WEEKS[0], now=NOW, run_config=what_if).success
    assert stored_weeks(tables, WEEKS) == {}
    meta = recorded(instance, WEEKS[0])
    assert meta["published"] is False and "what-if run" in meta["publication"] and "lookback_days 90 -> 60" in meta["publication"]

    forced = run_chain_in_dagster(instance, partition_range=(WEEKS[2], LIVE), now=NOW, tags={"weighting/publish": "force"})
    assert forced.success
    items = stored_weeks(tables, WEEKS)
    assert sorted(items) == WEEKS[2:]
    assert "forced_publication" not in items[WEEKS[2]]  # force was not needed for it
    assert "protected week in a range run" in items[LIVE]["forced_publication"]
    assert recorded(instance, LIVE)["published"] is True and "forced" in recorded(instance, LIVE)["publication"]
