"""tilt_backtest through Dagster: point in time, the same in a range as week by week,
and independent of the DynamoDB items (which expire)."""

import re

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from weighting_pipeline.core.attribution import entry_attribution
from weighting_pipeline.core.backtest import weekly_realised_returns
from weighting_pipeline.core.calendar import previous_key
from weighting_pipeline.publication.log import UNPUBLISHED, Entry, EntryRef
from weighting_pipeline.resources.publication_log import publication_log_from_env
from weighting_pipeline_tests.conftest import run_chain_in_dagster, temp_instance
from weighting_pipeline_tests.stored_weeks import stored_weeks

WEEKS = ["2026-02-22", "2026-03-01", "2026-03-08"]
NUMBERS = ["r_tilt", "r_base", "r_naive", "active", "turnover", "active_share", "coverage"]


def attributed(ledger, week, in_force: dict, strategies) -> float:
    """A week's weighted return under entry attribution (core.attribution), each lot
    booked in it weighed with ``in_force[entry week]`` (a Series; weeks not in it: KeyError)."""
    att = entry_attribution(ledger, [week], strategies)
    by_entry = np.array([in_force[e].reindex(strategies).to_numpy(float) for e in att.entry_keys])
    return float(att.cells(by_entry).sum())


def week_metadata(instance, week):
    """The week's numbers, and its computation key (not where the instance stores it)."""
    [record] = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("tilt_backtest"), asset_partitions=[week]), limit=1
    ).records
    return {k: v.value for k, v in record.asset_materialization.metadata.items() if k != "stored_under"}


def test_each_week_is_scored_with_the_weights_published_a_week_earlier(ledger, tables, instance, baseline):
    ranged = run_chain_in_dagster(instance, partition_range=(WEEKS[0], WEEKS[-1]))
    assert ranged.success
    ranged_run = ranged.run_id
    items = stored_weeks(tables, WEEKS)
    realised, closed = weekly_realised_returns(ledger, WEEKS, baseline.keys)
    first = week_metadata(instance, WEEKS[0])
    assert first["weights_source"] == "baseline: 2026-02-15 was never computed, and 2026-02-08 was never computed"
    base = pd.Series(baseline.allocations, dtype=float)
    assert first["r_tilt"] == pytest.approx(float(realised.loc[WEEKS[0]] @ base)) and first["active"] == 0.0
    published_weights = {w: pd.Series({k: float(v) for k, v in items[w]["weights"].items()}) for w in WEEKS}
    for before, week in zip(WEEKS, WEEKS[1:]):
        meta = week_metadata(instance, week)
        # Each lot booked in the week, weighed with what trading read when it was entered: the
        # weights published for the week before its entry week, or the baseline before any was.
        in_force = {
            e: published_weights.get(previous_key(e), base)
            for e in entry_attribution(ledger, [week], baseline.keys).entry_keys
        }
        # What trading read: the week before as published, by this very run (the range).
        assert meta["weights_source"] == f"dynamic_weights of {before} as published (run {ranged_run})"
        published = pd.Series({k: float(v) for k, v in items[before]["weights"].items()})
        assert {s: meta[f"weight_in_force/{s}"] for s in baseline.keys} == pytest.approx(published.to_dict(), abs=1e-12)
        assert meta["r_tilt"] == pytest.approx(attributed(ledger, week, in_force, baseline.keys), abs=1e-12)
        assert meta["r_base"] == pytest.approx(float(realised.loc[week] @ base), abs=1e-12)
        assert meta["active"] == pytest.approx(meta["r_tilt"] - meta["r_base"], abs=1e-15)
        assert 0 <= meta["coverage"] <= 1 and meta["turnover"] >= 0


def test_a_range_equals_single_week_runs_and_expired_items_do_not_matter(ledger, tables, instance, tmp_path, client):
    assert run_chain_in_dagster(instance, partition_range=(WEEKS[0], WEEKS[-1])).success
    ranged = {w: week_metadata(instance, w) for w in WEEKS}
    with temp_instance(tmp_path / "singles") as singles:
        for week in WEEKS:
            assert run_chain_in_dagster(singles, partition_key=week).success
        for week in WEEKS:  # the same, but for the run that published the week before
            single = week_metadata(singles, week)
            source = re.sub(r"\(run [0-9a-f-]+\)", "(run R)", single.pop("weights_source"))
            assert source == re.sub(r"\(run [0-9a-f-]+\)", "(run R)", ranged[week]["weights_source"])
            assert single == pytest.approx({k: v for k, v in ranged[week].items() if k != "weights_source"}), week
    # The item of the week before has expired (deleted): the backtest recomputes the same.
    client.delete_item(TableName=tables["weights"], Key={"PK": {"S": "WEIGHTS#WEEK"}, "SK": {"S": WEEKS[1]}})
    assert run_chain_in_dagster(instance, partition_key=WEEKS[2], selection=["tilt_backtest"]).success
    again = week_metadata(instance, WEEKS[2])
    assert {k: again[k] for k in NUMBERS} == pytest.approx({k: ranged[WEEKS[2]][k] for k in NUMBERS}, abs=0)
    assert np.isfinite(again["r_tilt"])


def test_a_refused_or_unpublished_predecessor_is_not_what_trading_read(ledger, tables, instance, baseline):
    a, b, c = ["2026-02-22", "2026-03-01", "2026-03-08"]
    # Each week is run five minutes after it ends (18:00 New York), as the schedule runs it.
    first = run_chain_in_dagster(instance, partition_key=a, now="2026-03-01T23:05:00+00:00")
    assert first.success
    what_if = {"resources": {"settings": {"config": {"lookback_days": 60}}}}
    refused = run_chain_in_dagster(instance, partition_key=b, run_config=what_if, now="2026-03-08T22:05:00+00:00")
    assert refused.success  # b: computed, refused
    # c's backtest: b was never published, so trading read a's weights for the grace's first 24 h.
    assert run_chain_in_dagster(instance, partition_key=c, now="2026-03-15T22:05:00+00:00").success
    meta = week_metadata(instance, c)
    assert meta["weights_source"] == (
        f"2026-03-01 was computed but not published, so dynamic_weights of {a} as published "
        f"(run {first.run_id}): the reader's grace (24 h) after its validity covered the start "
        f"of {c}; the baseline after it (noted, not split)"
    )
    published_a = {k: float(v) for k, v in stored_weeks(tables, [a])[a]["weights"].items()}
    assert {s: meta[f"weight_in_force/{s}"] for s in baseline.keys} == pytest.approx(published_a, abs=1e-12)

    # a unpublished during b, before c began, as `weighting-pipeline unpublish` logs it:
    # trading read nothing of a during c, and b was refused: the baseline.
    gone = "2026-03-05T12:00:00+00:00"
    publication_log_from_env().open(instance).append(
        [Entry(EntryRef(a, pd.Timestamp(gone), UNPUBLISHED, "ops1"), note={"by": "ops", "reason": "test"})]
    )
    assert run_chain_in_dagster(instance, partition_key=c, selection=["tilt_backtest"]).success
    meta = week_metadata(instance, c)
    assert meta["weights_source"] == (
        f"baseline: {b} was computed but not published, and {a} was unpublished at 2026-03-05T12:00:00+00:00"
    )
    base = pd.Series(baseline.allocations, dtype=float)
    assert {s: meta[f"weight_in_force/{s}"] for s in baseline.keys} == pytest.approx(base.to_dict(), abs=0)
    # Its lots entered during b were sized with a's weights (a was unpublished during b: noted,
    # not split); those entered during a and c with the baseline.
    weights_a = pd.Series(published_a)
    in_force = {"2026-02-08": base, "2026-02-15": base, a: base, b: weights_a, c: base}
    assert meta["r_tilt"] == pytest.approx(attributed(ledger, c, in_force, baseline.keys), abs=1e-12)
    assert meta["r_base"] == pytest.approx(
        float(weekly_realised_returns(ledger, [c], baseline.keys)[0].loc[c] @ base), abs=1e-12
    )


def test_on_deployed_notional_each_week_is_scored_as_the_core_scores_the_ledgers_positions(
    ledger, tables, instance, baseline, tmp_path
):
    from weighting_pipeline_devtools.demo_ledger import synthetic_ledger
    from weighting_pipeline_tests.assets.test_tilt_report_and_settings import materialize_report, metadata

    deployed = {"PNL_DATE": "exit", "RETURN_BASIS": "deployed"}
    assert run_chain_in_dagster(instance, partition_range=(WEEKS[0], WEEKS[-1]), environ=deployed).success
    positions = synthetic_ledger(
        baseline.keys, "2025-10-01", "2026-03-31", 1.0, seed=4
    ).positions  # the seeded ledger's
    realised, _ = weekly_realised_returns(positions, WEEKS, baseline.keys, "deployed")
    lot_basis, _ = weekly_realised_returns(ledger, WEEKS, baseline.keys)
    base = pd.Series(baseline.allocations, dtype=float)
    ranged = {w: week_metadata(instance, w) for w in WEEKS}
    for week in WEEKS:
        assert ranged[week]["r_base"] == pytest.approx(float(realised.loc[week] @ base), rel=1e-12)
        assert ranged[week]["r_base"] != pytest.approx(float(lot_basis.loc[week] @ base), rel=1e-3)  # the basis matters
    with temp_instance(tmp_path / "single") as single:  # a week alone reads fewer lots, to the same numbers
        assert run_chain_in_dagster(single, partition_key=WEEKS[0], environ=deployed).success
        alone = week_metadata(single, WEEKS[0])
        assert {k: alone[k] for k in NUMBERS} == {k: ranged[WEEKS[0]][k] for k in NUMBERS}
    with pytest.MonkeyPatch.context() as env:
        for name, value in deployed.items():
            env.setenv(name, value)
        assert materialize_report(instance).success
    report = metadata(instance, "tilt_report")
    assert report["return_basis"].startswith("deployed: returns per deployed notional")
    assert report["verdict"].endswith("summed over the week), not per unit of total capital")
    assert "| Returns per deployed notional |" in report["report"]


def test_a_strategy_that_left_the_baseline_stays_in_the_history(tables, instance, baseline, tmp_path):
    import json

    from weighting_pipeline_devtools.holding_ledger import holding_ledger

    before = {**{k: float(v) * 0.9 for k, v in baseline.allocations.items()}, "retired.clj": 0.1}
    names = [*baseline.keys, "retired.clj"]
    simulated = holding_ledger(names, "2025-10-01", "2026-03-31", drift=0.0005, seed=5)
    tables.read_only_ledger(simulated.ledger)
    old, new = tmp_path / "strategy.old.json", tmp_path / "strategy.new.json"
    old.write_text(json.dumps({"files": names, "allocations": before}))
    new.write_text(
        json.dumps(
            {"files": list(baseline.keys), "allocations": {k: float(v) for k, v in baseline.allocations.items()}}
        )
    )
    a, b, c = WEEKS
    assert run_chain_in_dagster(instance, partition_range=(a, b), environ={"STRATEGY_CONFIG__PATH": str(old)}).success
    # Trading rewrote its baseline without retired.clj; week c is computed and backtested from it.
    assert run_chain_in_dagster(instance, partition_key=c, environ={"STRATEGY_CONFIG__PATH": str(new)}).success
    items = stored_weeks(tables, [a, b, c])
    assert "retired.clj" in items[b]["weights"] and "retired.clj" not in items[c]["weights"]
    meta = week_metadata(instance, c)
    # b's weights were in force during c, retired.clj's among them, and its lots booked in c count.
    assert meta["weight_in_force/retired.clj"] == pytest.approx(float(items[b]["weights"]["retired.clj"]), abs=1e-12)
    lots = simulated.ledger.lots
    published = {w: pd.Series({k: float(v) for k, v in items[w]["weights"].items()}) for w in (a, b)}
    today = pd.Series(baseline.allocations, dtype=float)
    att = entry_attribution(lots, [c], names)
    in_force = {e: published.get(previous_key(e), today).reindex(names).fillna(0.0) for e in att.entry_keys}
    assert meta["r_tilt"] == pytest.approx(attributed(lots, c, in_force, names), abs=1e-12)
    retired_part = entry_attribution(lots[lots["strategy"] == "retired.clj"], [c], names)
    assert (
        abs(
            attributed(
                lots[lots["strategy"] == "retired.clj"], c, {e: in_force[e] for e in retired_part.entry_keys}, names
            )
        )
        > 0
    )
