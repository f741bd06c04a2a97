"""RETURN_BASIS=market through Dagster: the ledger in DynamoDB Local as trading writes it,
the daily bars in S3 (moto's server) as trading's MarketDataStore writes them."""

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from weighting_pipeline.core.calendar import local_day_number
from weighting_pipeline.core.chain import WeightingParams, run_chain
from weighting_pipeline.core.market import Bars, bars_key
from weighting_pipeline_devtools.holding_ledger import holding_ledger, put_bars, write_bars
from weighting_pipeline_tests.assets.test_tilt_report_and_settings import materialize_report, metadata
from weighting_pipeline_tests.conftest import run_chain_in_dagster
from weighting_pipeline_tests.stored_weeks import stored_weeks

WEEKS = ["2026-02-22", "2026-03-01", "2026-03-08"]
MARKET = {"RETURN_BASIS": "market"}


@pytest.fixture
def market(tables, baseline, aws, monkeypatch):
    """A holding ledger of the baseline's strategies in the ledger table, its bars in a fresh bucket."""
    simulated = holding_ledger(baseline.keys, "2025-10-01", "2026-03-31", drift=0.0005, seed=21)
    tables.read_only_ledger(simulated.ledger)
    bucket = "market-data-test"
    etags = write_bars(simulated, bucket)
    monkeypatch.setenv("MARKET_DATA_BUCKET", bucket)
    return simulated, bucket, etags


def test_a_range_publishes_the_weights_the_core_computes_from_the_bars_and_names_them(
    market, tables, instance, baseline
):
    simulated, bucket, etags = market
    result = run_chain_in_dagster(instance, partition_range=(WEEKS[0], WEEKS[-1]), environ=MARKET)
    assert result.success
    bars = Bars.from_frames(
        {s: simulated.bars(s) for s in simulated.symbols},
        local_day_number("2025-09-01"),
        local_day_number("2026-03-31"),
    )
    b = pd.Series(baseline.allocations, dtype=float).reindex(baseline.keys)
    expected = run_chain(simulated.ledger.positions, WEEKS, b, WeightingParams(return_basis="market"), bars=bars)[
        "dynamic_weights"
    ]
    items = stored_weeks(tables, WEEKS)
    for week in WEEKS:
        assert items[week]["parameters"]["return_basis"] == "market"
        # The item names the bars the week was marked with: every file held in its window, with its ETag.
        assert items[week]["market_data"] == {"bucket": bucket, "bars": etags}
        assert metadata(instance, "dynamic_weights", week)["market_data"] == {"bucket": bucket, "bars": etags}
        want = expected[expected["partition_key"] == week].set_index("strategy")["weight"]
        got = pd.Series({k: float(v) for k, v in items[week]["weights"].items()})
        np.testing.assert_allclose(got.reindex(want.index).to_numpy(), want.to_numpy(), rtol=0, atol=1e-12)
    for week in WEEKS:
        meta = metadata(instance, "daily_returns", week)
        assert meta["return_basis"] == "market" and meta["market_data_bucket"] == bucket
        assert meta["bars_read"] == etags  # each file the week read, with the ETag S3 gave it
    # Bars rewritten (trading adjusted history): a rerun of a week says what changed.
    symbol = simulated.symbols[0]
    adjusted = simulated.bars(symbol).assign(close=lambda f: f["close"] * 0.98)
    new_etag = put_bars(bucket, symbol, adjusted)
    assert run_chain_in_dagster(
        instance,
        partition_key=WEEKS[0],
        environ=MARKET,
        selection=["closed_lots", "daily_returns", "sharpe_ratios", "multipliers", "dynamic_weights"],
    ).success
    rerun = metadata(instance, "dynamic_weights", WEEKS[0])
    assert rerun["market_data"]["bars"][bars_key(symbol)] == new_etag
    assert "market_data" in rerun["restatement"]
    closed = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("closed_lots")), limit=1
    ).records[0]
    assert closed.asset_materialization.metadata["pnl_date"].value == "none: positions are marked to market"
    # The backtest judges each week on its own sessions, marked to market; the report says so.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RETURN_BASIS", "market")
        assert materialize_report(instance).success
    report = metadata(instance, "tilt_report")
    assert report["return_basis"].startswith("market: returns marked to market from trading's daily closes")
    assert "| Returns marked to market |" in report["report"]


def test_a_bar_missing_inside_a_held_period_fails_the_week_and_names_it(market, tables, instance, baseline):
    simulated, bucket, _ = market
    symbol = simulated.symbols[3]
    bars = simulated.bars(symbol)
    put_bars(
        bucket, symbol, bars[bars["timestamp"].dt.tz_convert("America/New_York").dt.date.astype(str) != "2026-02-10"]
    )
    result = run_chain_in_dagster(instance, partition_key=WEEKS[0], environ=MARKET)
    assert not result.success
    failure = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"][0]
    assert f"daily bars of {symbol} lack the session" in failure.step_failure_data.error.message
    assert "2026-02-10" in failure.step_failure_data.error.message
    assert stored_weeks(tables, [WEEKS[0]]) == {}  # nothing published


def test_the_market_basis_without_a_bucket_is_a_clear_error(tables, instance, baseline, monkeypatch):
    monkeypatch.delenv("MARKET_DATA_BUCKET", raising=False)
    simulated = holding_ledger(baseline.keys, "2025-10-01", "2026-03-31", seed=3)
    tables.read_only_ledger(simulated.ledger)
    result = run_chain_in_dagster(instance, partition_key=WEEKS[0], environ=MARKET)
    assert not result.success
    failure = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"][0]
    assert "MARKET_DATA_BUCKET is not set" in failure.step_failure_data.error.message


def test_with_bars_available_weights_scored_on_lots_are_judged_on_market_returns(market, tables, instance, baseline):
    from weighting_pipeline.core.backtest import weekly_realised_returns

    simulated, bucket, _ = market  # MARKET_DATA_BUCKET is set; RETURN_BASIS stays the default (lot)
    assert run_chain_in_dagster(instance, partition_range=(WEEKS[0], WEEKS[-1])).success
    items = stored_weeks(tables, WEEKS)
    assert all(items[w]["parameters"]["return_basis"] == "lot" and "market_data" not in items[w] for w in WEEKS)
    bars = Bars.from_frames(
        {s: simulated.bars(s) for s in simulated.symbols},
        local_day_number("2025-09-01"),
        local_day_number("2026-03-31"),
    )
    realised, _ = weekly_realised_returns(simulated.ledger.positions, WEEKS, baseline.keys, "market", bars)
    for before, week in zip(WEEKS, WEEKS[1:]):
        meta = metadata(instance, "tilt_backtest", week)
        assert (meta["scored_on"], meta["judged_on"]) == ("lot", "market")
        published = pd.Series({k: float(v) for k, v in items[before]["weights"].items()})
        assert meta["r_tilt"] == pytest.approx(float((published * realised.loc[week]).sum()), abs=1e-12)
    assert materialize_report(instance).success
    report = metadata(instance, "tilt_report")
    assert report["scored_on"] == "lot" and report["return_basis"].startswith("market: ")
    assert report["verdict"].endswith(
        "the weights were scored on the lot basis (RETURN_BASIS=lot) and judged on these returns"
    )


def test_james_stein_shrinkage_on_the_market_basis_is_recorded_and_published(market, tables, instance, baseline):
    simulated, _, _ = market
    environ = {**MARKET, "SCORE_SHRINKAGE": "james_stein", "MAPPING": "median_power"}
    assert run_chain_in_dagster(instance, partition_key=WEEKS[-1], environ=environ).success
    item = stored_weeks(tables, [WEEKS[-1]])[WEEKS[-1]]
    assert item["parameters"]["score_shrinkage"] == "james_stein" and item["parameters"]["mapping"] == "median_power"
    factor = metadata(instance, "multipliers", WEEKS[-1])["shrinkage_factor"]
    assert 0 <= factor <= 1
    bars = Bars.from_frames(
        {s: simulated.bars(s) for s in simulated.symbols},
        local_day_number("2025-09-01"),
        local_day_number("2026-03-31"),
    )
    b = pd.Series(baseline.allocations, dtype=float).reindex(baseline.keys)
    params = WeightingParams(return_basis="market", score_shrinkage="james_stein", mapping="median_power")
    expected = run_chain(simulated.ledger.positions, [WEEKS[-1]], b, params, bars=bars)["dynamic_weights"].set_index(
        "strategy"
    )["weight"]
    got = pd.Series({k: float(v) for k, v in item["weights"].items()})
    np.testing.assert_allclose(got.reindex(expected.index).to_numpy(), expected.to_numpy(), rtol=0, atol=1e-12)
