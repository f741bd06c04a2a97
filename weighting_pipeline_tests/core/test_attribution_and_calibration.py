"""Entry attribution (core.attribution), HAC statistics (core.hac) and the evidence's
calibration on ledgers shaped like the trading system's (devtools.holding_ledger)."""

import math

import numpy as np
import pandas as pd
import pytest

from weighting_pipeline.core import analytics, hac
from weighting_pipeline.core.attribution import entry_attribution, entry_week_keys
from weighting_pipeline.core.backtest import score, weekly_realised_returns
from weighting_pipeline.core.chain import run_chain
from weighting_pipeline.core.invariants import tilt_exceeds_noise
from weighting_pipeline.core.lots import LOT_COLUMNS
from weighting_pipeline.core.sweep import weight_keys
from weighting_pipeline_devtools.holding_ledger import holding_ledger

NY = "America/New_York"


def _lot(lot_id, strategy, entered, closed, qty, price, pnl):
    return {
        "lot_id": lot_id,
        "strategy": strategy,
        "symbol": "SPY",
        "entry_timestamp": pd.Timestamp(entered, tz=NY).tz_convert("UTC"),
        "fully_closed_at": pd.Timestamp(closed, tz=NY).tz_convert("UTC"),
        "entry_qty": qty,
        "entry_price": price,
        "realized_pnl": pnl,
    }


def test_a_lot_belongs_to_the_week_holding_its_entry_from_sunday_1800():
    times = pd.Series(
        pd.to_datetime(["2026-03-01 17:59", "2026-03-01 18:00", "2026-03-08 17:59", "2026-03-08 18:01"])
        .tz_localize(NY)
        .tz_convert("UTC")
    )
    days = entry_week_keys(times)
    keys = [str(np.datetime64("1970-01-01") + np.timedelta64(int(d), "D")) for d in days]
    assert keys == ["2026-02-22", "2026-03-01", "2026-03-01", "2026-03-08"]


# Week J = 2026-03-08 (Sunday 18:00 to 2026-03-15 18:00). Strategy a books two lots in J:
# one entered in week E1 = 2026-02-22, one in E2 = 2026-03-01; b books one entered in J itself.
LOTS = pd.DataFrame(
    [
        _lot("a1", "a.clj", "2026-02-24 10:00", "2026-03-10 15:00", 10, 100.0, 50.0),  # notional 1000
        _lot("a2", "a.clj", "2026-03-03 10:00", "2026-03-12 15:00", 30, 100.0, -30.0),  # notional 3000
        _lot("b1", "b.clj", "2026-03-09 10:00", "2026-03-13 15:00", 20, 50.0, 20.0),  # notional 1000
        _lot(
            "a0", "a.clj", "2026-02-24 10:00", "2026-03-06 15:00", 10, 100.0, 999.0
        ),  # booked the week before: not in J
    ]
).astype(LOT_COLUMNS)
KEYS = ["2026-03-08"]
STRATEGIES = ["a.clj", "b.clj"]


def test_entry_attribution_table_by_hand():
    att = entry_attribution(LOTS, KEYS, STRATEGIES)
    assert att.entry_keys == ("2026-02-22", "2026-03-01", "2026-03-08")
    # a's denominator: the mean entry notional of its lots booked in J, (1000 + 3000) / 2 = 2000.
    np.testing.assert_allclose(att.realised(), [[(50 - 30) / 2000, 20 / 1000]])
    # Weights in force: during E1 a 0.7, during E2 a 0.2, during J b 0.4 (rows are by entry week).
    by_entry = np.array([[0.7, 0.3], [0.2, 0.8], [0.6, 0.4]])
    np.testing.assert_allclose(att.cells(by_entry), [[0.7 * 50 / 2000 + 0.2 * -30 / 2000, 0.4 * 20 / 1000]])
    per_unit, booked = att.per_unit()
    np.testing.assert_allclose(per_unit, [[20 / 4000, 20 / 1000]])
    assert booked.all()


def _weights(rows):
    """A dynamic_weights frame: (computed for week, strategy, weight, baseline, multiplier, score)."""
    frame = pd.DataFrame(rows, columns=["partition_key", "strategy", "weight", "baseline", "multiplier", "score"])
    return frame.assign(sharpe=frame["score"], skip_reason="", naive_weight=np.nan)


def test_the_backtest_weighs_each_lot_with_the_weights_in_force_at_its_entry_and_their_baseline():
    # Weights computed for week K are in force during the week after K.
    weights = _weights(
        [
            ("2026-02-15", "a.clj", 0.7, 0.6, 1.5, 2.0),
            ("2026-02-15", "b.clj", 0.3, 0.4, 0.5, -1.0),  # in force during E1
            ("2026-02-22", "a.clj", 0.2, 0.5, 0.5, -1.0),
            ("2026-02-22", "b.clj", 0.8, 0.5, 1.5, 3.0),  # during E2, other baseline
            ("2026-03-01", "a.clj", 0.6, 0.5, 1.2, 1.0),
            ("2026-03-01", "b.clj", 0.4, 0.5, 0.8, 0.0),  # during J
        ]
    )
    today = pd.Series([0.5, 0.5], index=STRATEGIES)
    realised, closed = weekly_realised_returns(LOTS, KEYS, STRATEGIES)
    result, used, _ = score(
        weights, KEYS, today, realised, closed, attribution=entry_attribution(LOTS, KEYS, STRATEGIES)
    )
    row = result.loc["2026-03-08"]
    assert row["r_tilt"] == pytest.approx(0.7 * 50 / 2000 + 0.2 * -30 / 2000 + 0.4 * 20 / 1000, rel=1e-12)
    # Each lot against the baseline its entry week's weights were computed from: 0.6 in E1, 0.5 in E2 and J.
    assert row["r_base"] == pytest.approx(0.6 * 50 / 2000 + 0.5 * -30 / 2000 + 0.5 * 20 / 1000, rel=1e-12)
    assert row["active"] == pytest.approx(row["r_tilt"] - row["r_base"], rel=1e-12)
    # Turnover and active share read the weights in force during J, against J's own baseline.
    assert row["active_share"] == pytest.approx(0.5 * (0.1 + 0.1))
    assert row["turnover"] == pytest.approx(0.5 * (0.4 + 0.4))
    # Rank IC needs three strategies with a booking and a qualified score.
    assert math.isnan(row["rank_ic"])


def test_the_backtest_without_attribution_keeps_the_weeks_own_weights():
    weights = _weights([("2026-03-01", "a.clj", 0.6, 0.5, 1.2, 1.0), ("2026-03-01", "b.clj", 0.4, 0.5, 0.8, 0.0)])
    realised, closed = weekly_realised_returns(LOTS, KEYS, STRATEGIES)
    result = score(weights, KEYS, pd.Series([0.5, 0.5], index=STRATEGIES), realised, closed)[0]
    assert result.loc["2026-03-08", "r_tilt"] == pytest.approx(0.6 * 20 / 2000 + 0.4 * 20 / 1000, rel=1e-12)


def test_long_run_variance_and_t_by_hand():
    x = np.array([1.0, 2.0, 0.0, 3.0, -1.0, 1.0])  # mean 1
    d = x - 1
    g0, g1 = d @ d / 6, d[1:] @ d[:-1] / 6
    assert hac.long_run_variance(x, lags=0) == pytest.approx(g0)
    assert hac.long_run_variance(x, lags=1) == pytest.approx(g0 + 2 * 0.5 * g1)
    assert hac.t_statistic(x, lags=1) == pytest.approx(1.0 / math.sqrt((g0 + g1) / 6))


def test_with_no_lags_the_ratio_error_is_los_for_normal_returns():
    rng = np.random.default_rng(3)
    x = rng.normal(0.001, 0.01, 20_000)
    sr = x.mean() / x.std(ddof=1)
    assert hac.ratio_standard_error(x, 252, lags=0) == pytest.approx(
        math.sqrt((1 + sr**2 / 2) / x.size) * math.sqrt(252), rel=0.02
    )


def test_autocorrelated_series_get_larger_errors_than_iid():
    rng = np.random.default_rng(4)
    e = rng.normal(0, 1, 400)
    overlapping = np.convolve(e, np.ones(8), mode="valid")  # 8-period holding returns, overlapping
    assert hac.bandwidth(overlapping) >= 5
    assert hac.ratio_standard_error(overlapping, 52) > 2 * analytics.ratio_standard_error_iid(overlapping, 52)


def _run(seed: int, skill: bool, n_weeks: int = 70):
    names = [f"s{i:02d}.clj" for i in range(16)]
    baseline = pd.Series(1 / 16, index=names)
    drift = np.where(np.arange(16) % 2 == 0, 0.003, -0.003) if skill else 0.0
    lots = holding_ledger(names, "2023-09-01", "2025-06-01", drift=drift, seed=seed).ledger.lots
    keys = [str(d.date()) for d in pd.date_range("2024-01-07", periods=n_weeks, freq="7D")]
    out = run_chain(lots, weight_keys(keys), baseline)
    realised, closed = weekly_realised_returns(lots, keys, names)
    result = score(
        out["dynamic_weights"], keys, baseline, realised, closed, attribution=entry_attribution(lots, keys, names)
    )[0]
    noise = tilt_exceeds_noise(out["sharpe_ratios"])
    claims = 1 - len(noise.failures) / len(keys)
    return analytics.verdict(result["active"]), claims


@pytest.mark.parametrize("seed", [101, 202])
def test_a_no_skill_ledger_of_overlapping_lots_is_called_noise(seed):
    verdict, claims = _run(seed, skill=False)
    assert abs(verdict.t_statistic_hac) < 2.5
    assert abs(verdict.information_ratio) < 2.5 * verdict.ir_standard_error_hac
    assert claims <= 0.2


@pytest.mark.parametrize("seed", [303, 404])
def test_a_ledger_with_persistent_skill_is_found(seed):
    verdict, _ = _run(seed, skill=True)
    assert verdict.t_statistic_hac > 2.5 and verdict.probability_ir_positive_hac > 0.99


def test_the_vectorised_sharpe_error_is_core_hac_and_a_cells_bits_do_not_depend_on_its_neighbours():
    from weighting_pipeline.core.sharpe import _psi_long_run_variance

    rng = np.random.default_rng(12)
    dates = 91
    r = (
        np.cumsum(rng.normal(0, 0.01, (7, 13, dates + 10)), axis=2)[..., 10:]
        - np.cumsum(rng.normal(0, 0.01, (7, 13, dates + 10)), axis=2)[..., :-10]
    )
    observed = rng.random((7, 13, dates)) < 0.7  # overlapping sums, with gaps, as close dates have them
    n = observed.sum(axis=2)
    mean = np.where(observed, r, 0.0).sum(axis=2) / n
    dev = np.where(observed, r - mean[..., None], 0.0)
    std = np.sqrt((dev * dev).sum(axis=2) / (n - 1))
    lrv = _psi_long_run_variance(dev, observed, n, std, mean - 0.0001)
    for w, s in [(0, 0), (3, 7), (6, 12)]:
        x = r[w, s][observed[w, s]] - 0.0001
        expected = hac.ratio_standard_error(x, 1)  # annualised by sqrt(1): per period
        assert np.sqrt(lrv[w, s] / n[w, s]) == pytest.approx(expected, rel=1e-12)
        alone = _psi_long_run_variance(
            dev[w : w + 1, s : s + 1],
            observed[w : w + 1, s : s + 1],
            n[w : w + 1, s : s + 1],
            std[w : w + 1, s : s + 1],
            (mean - 0.0001)[w : w + 1, s : s + 1],
        )
        assert alone[0, 0] == lrv[w, s]  # the same bits alone as among 91 others
