"""Each week's materialization carries the same metadata whether it ran alone or in a range.

Read back from the instance, as the UI reads it: a range once attached
per-strategy numbers only to single-week runs, so the plot of a strategy's
weight across weeks had holes wherever weeks were backfilled.
"""

import re

import dagster as dg
import pandas as pd
import pytest

from weighting_pipeline.core.calendar import WeekWindows
from weighting_pipeline.core.lots import in_window
from weighting_pipeline_devtools.demo_ledger import synthetic_ledger, synthetic_lots
from weighting_pipeline_tests.conftest import run_chain_in_dagster, temp_instance

WEEKS = ["2026-02-22", "2026-03-01", "2026-03-08"]
CHAIN = ["closed_lots", "daily_returns", "sharpe_ratios", "multipliers", "dynamic_weights", "tilt_backtest"]
# Facts of the run, not of a week: the one ledger read, the writes, the run's size and id,
# and where its intermediates are (each instance here has its own folder).
RUN_ID = r"\(run [0-9a-f-]+\)"
RUN_LEVEL = {
    "closed_lots": {
        "weeks",
        "rows",
        "items_read",
        "items_returned",
        "items_skipped",
        "read_amplification",
        "query_pages",
        "query_retries",
        "read_seconds",
        "skipped_items",
        "ignored_ledger_strategies",
        "stored_under",
    },
    "daily_returns": {"weeks", "rows", "stored_under"},
    "sharpe_ratios": {"weeks", "stored_under"},
    "multipliers": {"weeks", "stored_under"},
    "dynamic_weights": {
        "weeks",
        "table",
        "items_written",
        "items_superseded",
        "write_requests",
        "request_retries",
        "run_started_at",
        "ttl_days",
        "run_id",
    },
    "tilt_backtest": {"stored_under"},
}


def week_metadata(instance, asset, week):
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[week]), limit=1
    ).records
    assert records, (asset, week)
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}


_RECORDED: list[tuple[dict, dict]] = []  # the fixture's runs, made once per module: the tests only read them


@pytest.fixture
def ranged_and_single(tables, baseline, instance, tmp_path):
    """Each asset's per-week metadata as a range run recorded it, and as single-week runs did."""
    if not _RECORDED:
        tables.read_only_ledger(synthetic_ledger(baseline.keys, "2025-10-01", "2026-03-31", 1.0, seed=4))
        assert run_chain_in_dagster(instance, partition_range=(WEEKS[0], WEEKS[-1])).success
        with temp_instance(tmp_path / "singles_home") as singles:
            for week in WEEKS:
                assert run_chain_in_dagster(singles, partition_key=week).success
            _RECORDED.append(
                (
                    {(a, w): week_metadata(instance, a, w) for a in CHAIN for w in WEEKS},
                    {(a, w): week_metadata(singles, a, w) for a in CHAIN for w in WEEKS},
                )
            )
    return _RECORDED[0]


def test_range_and_single_week_runs_record_the_same_metadata_per_week(ranged_and_single):
    ranged, single = ranged_and_single
    for (asset, week), meta in ranged.items():
        per_week = {k: v for k, v in meta.items() if k not in RUN_LEVEL[asset]}
        expected = {k: v for k, v in single[(asset, week)].items() if k not in RUN_LEVEL[asset]}
        assert per_week.keys() == expected.keys(), (asset, week)
        for key in per_week:
            if key == "weights_source":  # names the run that published the week before: each instance has its own
                assert re.sub(RUN_ID, "(run R)", per_week[key]) == re.sub(RUN_ID, "(run R)", expected[key]), (
                    asset,
                    week,
                )
                continue
            assert per_week[key] == expected[key], (asset, week, key)


def test_every_week_of_a_range_has_its_own_numbers_to_plot(ranged_and_single, baseline):
    ranged, _ = ranged_and_single
    for strategy in baseline.keys:
        weights = [ranged[("dynamic_weights", w)][f"weight/{strategy}"] for w in WEEKS]
        multipliers = [ranged[("multipliers", w)][f"multiplier/{strategy}"] for w in WEEKS]
        lots = [ranged[("closed_lots", w)][f"lots/{strategy}"] for w in WEEKS]
        assert len(weights) == len(multipliers) == len(lots) == 3
    assert (
        len({ranged[("dynamic_weights", w)]["weight/ftlt/tqqq_ftlt.clj"] for w in WEEKS}) == 3
    )  # not one week's value copied
    lots = synthetic_lots(baseline.keys, "2025-10-01", "2026-03-31", 1.0, seed=4)  # the seeded ledger
    windows = WeekWindows.for_keys(WEEKS, 90)
    for i, week in enumerate(WEEKS):
        inside = lots[in_window(lots, windows.window_starts[i], windows.ends[i])]
        counts = inside["strategy"].astype(str).value_counts()
        assert ranged[("closed_lots", week)]["lots_in_window"] == len(inside)
        assert {s: ranged[("closed_lots", week)][f"lots/{s}"] for s in baseline.keys} == {
            s: int(counts.get(s, 0)) for s in baseline.keys
        }
    first = ranged[("dynamic_weights", WEEKS[0])]
    assert "turnover" not in first and 0 < ranged[("dynamic_weights", WEEKS[1])]["turnover"] < 1
    assert sum(first[f"weight/{s}"] for s in baseline.keys) == pytest.approx(1, abs=1e-12)
    assert "| total |" in first["weights_table"] and first["qualified"] == len(baseline.keys)
    sharpe = ranged[("sharpe_ratios", WEEKS[2])]
    assert "Skipped because" in sharpe["sharpe_table"] and sharpe["qualified"] == len(baseline.keys)
    assert all(f"days/{s}" in sharpe and f"lots/{s}" in sharpe for s in baseline.keys)
    window = ranged[("closed_lots", WEEKS[1])]

    def ny(t):
        return pd.Timestamp(t, unit="s", tz="UTC").tz_convert("America/New_York")

    assert (ny(window["window_start"]), ny(window["window_end"])) == (
        pd.Timestamp("2025-12-08 18:00", tz="America/New_York"),  # 90 calendar days, across the DST change
        pd.Timestamp("2026-03-08 18:00", tz="America/New_York"),
    )
