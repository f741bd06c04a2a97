"""The settings sweep: each row is exactly that setting's backtest; the best is deflated."""

import numpy as np
import pandas as pd
import pytest

from weighting_pipeline.core import analytics
from weighting_pipeline.core.backtest import weekly_realised_returns
from weighting_pipeline.core.chain import WeightingParams
from weighting_pipeline.core.sweep import setting_holdout, sweep, weight_keys
from weighting_pipeline_devtools.demo_ledger import synthetic_lots

KEYS = [str(d.date()) for d in pd.date_range("2025-06-01", periods=30, freq="7D")]
BASELINE = pd.Series({"a.clj": 0.4, "b.clj": 0.3, "c.clj": 0.2, "d.clj": 0.1})
GRID = {
    "lookback_days": [60, 90],
    "max_multiplier": [1.5, 3.0],
    "score": ["sharpe", "sortino", "calmar"],
    "missing_days": ["skip", "zero"],
}


@pytest.fixture(scope="module")
def lots():
    return synthetic_lots(list(BASELINE.index), "2025-01-01", "2026-01-15", 1.2, seed=9)


@pytest.fixture(scope="module")
def result(lots):
    seen = []
    out = sweep(lots, KEYS, BASELINE, GRID, progress=lambda d, t: seen.append((d, t)))
    return out, seen


def test_every_setting_is_run_in_grid_order_with_progress(result):
    out, seen = result
    assert seen == [(i, 24) for i in range(1, 25)]
    assert out.table[list(GRID)].iloc[[0, 1, 23]].values.tolist() == [
        [60, 1.5, "sharpe", "skip"],
        [60, 1.5, "sharpe", "zero"],
        [90, 3.0, "calmar", "zero"],
    ]
    assert (out.table["weeks"] == len(KEYS)).all()


def test_each_row_equals_that_settings_backtest_through_the_frames_bit_for_bit(lots, result):
    """The sweep shares stages between settings and keeps weights as arrays; the
    reference path builds every frame as the assets do (run_chain, then score)."""
    out, _ = result
    realised, closed = weekly_realised_returns(lots, KEYS, list(BASELINE.index))
    for i in (0, 5, 10, 17, 23):
        row = out.table.iloc[i]
        params = WeightingParams(**{k: (row[k].item() if hasattr(row[k], "item") else row[k]) for k in GRID})
        reference = setting_holdout(lots, KEYS, BASELINE, params, realised, closed)
        assert reference.index.tolist() == KEYS
        np.testing.assert_array_equal(out.actives[i].to_numpy(), reference["active"].to_numpy())
        assert row["information_ratio"] == analytics.information_ratio(reference["active"])
        assert row["mean_turnover"] == pytest.approx(reference["turnover"].mean(), abs=1e-15)
    # The settings do matter: not every row scores the same.
    assert out.table["information_ratio"].nunique() > 12


def test_the_best_is_deflated_for_the_number_of_settings_tried(result):
    out, _ = result
    assert out.best["information_ratio"] == out.table["information_ratio"].max()
    best = out.actives[int(out.table["information_ratio"].idxmax())]
    plain = analytics.probabilistic_ratio(best)
    # The 24 settings' active returns are strongly correlated: together they are worth a
    # couple of independent trials, and that is what raises the bar above 0.
    assert 1 < out.effective_trials < 24
    assert 0 <= out.deflated_ratio < plain
    assert out.deflated_ratio > analytics.deflated_ratio(
        best, out.table["information_ratio"].to_numpy()
    )  # 24 counted as independent


def test_the_first_week_is_scored_with_weights_computed_the_week_before(lots):
    realised, closed = weekly_realised_returns(lots, KEYS, list(BASELINE.index))
    whole = setting_holdout(lots, KEYS, BASELINE, WeightingParams(), realised, closed)
    assert weight_keys(KEYS)[:2] == ["2025-05-25", KEYS[0]]
    # Later lots cannot change an earlier week: cut the ledger at the end of week 10.
    cut = lots[
        lots["fully_closed_at"]
        < pd.Timestamp(KEYS[10], tz="America/New_York").tz_convert("UTC") + pd.Timedelta(days=7, hours=18)
    ]
    r2, c2 = weekly_realised_returns(cut, KEYS[:11], list(BASELINE.index))
    part = setting_holdout(cut, KEYS[:11], BASELINE, WeightingParams(), r2, c2)
    np.testing.assert_array_equal(part["active"].to_numpy(), whole["active"].iloc[:11].to_numpy())


def test_a_single_week_has_no_information_ratio_and_the_first_row_stands_as_best(lots):
    out = sweep(lots, KEYS[-1:], BASELINE, {"max_multiplier": [1.5, 2.0]})
    assert out.table["information_ratio"].isna().all() and out.best_row == 0 and np.isnan(out.deflated_ratio)
    assert np.isfinite(out.actives[0].to_numpy()).all()


def test_pnl_date_is_swept_each_rule_scored_on_its_own_bookings():
    from weighting_pipeline_devtools.demo_ledger import synthetic_ledger

    ledger = synthetic_ledger(list(BASELINE.index), "2025-01-01", "2026-01-15", 1.2, seed=9)
    rows = {"close": ledger.lots, "exit": ledger.exit_records}
    out = sweep(rows, KEYS, BASELINE, {"pnl_date": ["close", "exit"], "lookback_days": [60, 90]})
    assert out.table[["pnl_date", "lookback_days"]].values.tolist() == [
        ["close", 60],
        ["close", 90],
        ["exit", 60],
        ["exit", 90],
    ]
    for i, row in out.table.iterrows():
        params = WeightingParams(pnl_date=row["pnl_date"], lookback_days=int(row["lookback_days"]))
        realised, closed = weekly_realised_returns(rows[params.pnl_date], KEYS, list(BASELINE.index))
        reference = setting_holdout(rows[params.pnl_date], KEYS, BASELINE, params, realised, closed)
        np.testing.assert_array_equal(out.actives[i].to_numpy(), reference["active"].to_numpy())
    assert out.table.loc[0, "information_ratio"] != out.table.loc[2, "information_ratio"]  # the rule matters
    with pytest.raises(
        ValueError, match="exit rows are needed by the grid, but the sweep was given rows for close only"
    ):
        sweep(ledger.lots, KEYS, BASELINE, {"pnl_date": ["close", "exit"]})


def test_return_basis_is_swept_on_positions_and_a_refused_combination_is_not_run():
    from weighting_pipeline.core.sweep import usable_combinations
    from weighting_pipeline_devtools.demo_ledger import synthetic_ledger

    ledger = synthetic_ledger(list(BASELINE.index), "2025-01-01", "2026-01-15", 1.2, seed=9)
    rows = {"close": ledger.lots, "exit": ledger.exit_records, "deployed": ledger.positions}
    grid = {"pnl_date": ["close", "exit"], "return_basis": ["lot", "deployed"]}
    usable, refused = usable_combinations(grid, WeightingParams())
    assert usable == [("close", "lot"), ("exit", "lot"), ("exit", "deployed")]
    assert refused == [
        (
            ("close", "deployed"),
            "invalid weighting parameters: return_basis=deployed requires pnl_date=exit, got pnl_date=close",
        )
    ]
    out = sweep(rows, KEYS, BASELINE, grid)
    assert out.table[["pnl_date", "return_basis"]].values.tolist() == [list(u) for u in usable]
    for i, row in out.table.iterrows():
        params = WeightingParams(pnl_date=row["pnl_date"], return_basis=row["return_basis"])
        kind = "deployed" if params.return_basis == "deployed" else params.pnl_date
        realised, closed = weekly_realised_returns(rows[kind], KEYS, list(BASELINE.index), params.return_basis)
        reference = setting_holdout(rows[kind], KEYS, BASELINE, params, realised, closed)
        np.testing.assert_array_equal(out.actives[i].to_numpy(), reference["active"].to_numpy())
    assert out.table.loc[1, "information_ratio"] != out.table.loc[2, "information_ratio"]  # the basis matters


def test_mapping_and_sleeves_are_swept_each_row_equal_to_its_backtest(lots):
    baseline = pd.Series({"ftlt/a.clj": 0.2, "ftlt/b.clj": 0.1, "c.clj": 0.4, "d.clj": 0.3})
    rows = lots.assign(
        strategy=lots["strategy"].astype(str).map(dict(zip(BASELINE.index, baseline.index))).astype("category")
    )
    grid = {"mapping": ["minmax", "median_power"], "sleeves": ["none", "folder"]}
    out = sweep(rows, KEYS, baseline, grid)
    realised, closed = weekly_realised_returns(rows, KEYS, list(baseline.index))
    for i in range(4):
        params = WeightingParams(**{k: out.table.iloc[i][k] for k in grid})
        reference = setting_holdout(rows, KEYS, baseline, params, realised, closed)
        np.testing.assert_array_equal(out.actives[i].to_numpy(), reference["active"].to_numpy())
    assert out.table["information_ratio"].nunique() == 4


def test_the_authors_policies_are_compared_on_one_backtest_each_row_equal_to_its_own():
    from weighting_pipeline_devtools.holding_ledger import holding_ledger

    baseline = pd.Series({"ftlt/a.clj": 0.15, "ftlt/b.clj": 0.1, "c.clj": 0.3, "d.clj": 0.25, "e.clj": 0.2})
    drift = np.array([0.002, -0.001, 0.001, 0.0, 0.003])
    lots = holding_ledger(list(baseline.index), "2024-01-02", "2026-01-30", drift=drift, seed=4).ledger.lots
    keys = [str(d.date()) for d in pd.date_range("2025-06-01", periods=26, freq="7D")]
    out = sweep(lots, keys, baseline, {"policy": ["seed", "pr2977", "script"]}, WeightingParams(cost_bps=5.0))
    assert out.table["policy"].tolist() == ["seed", "pr2977", "script"]
    realised, closed = weekly_realised_returns(lots, keys, list(baseline.index))
    from weighting_pipeline.core.chain import POLICIES

    for i, policy in enumerate(["seed", "pr2977", "script"]):
        params = WeightingParams(**{**POLICIES[policy], "policy": policy, "cost_bps": 5.0})
        reference = setting_holdout(lots, keys, baseline, params, realised, closed)
        np.testing.assert_allclose(out.actives[i].to_numpy(), reference["active"].to_numpy(), rtol=0, atol=1e-15)
        assert out.table.iloc[i]["active_after_costs"] == pytest.approx(reference["active_net"].mean() * 52, rel=1e-12)
    assert out.table["mean_turnover"].iloc[1] < out.table["mean_turnover"].iloc[2]  # pr2977's smoothing trades less
    assert 1 < out.effective_trials <= 3 and np.isfinite(out.deflated_ratio)
