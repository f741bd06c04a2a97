"""The backtest statistics against empyrical (a test-only oracle) where it defines the
same quantity, and against hand-written arithmetic elsewhere."""

import math

import empyrical
import numpy as np
import pytest

from weighting_pipeline.core import analytics as a

RF = 0.045


@pytest.fixture(scope="module")
def weekly():
    rng = np.random.default_rng(7)
    return rng.standard_t(df=5, size=261) * 0.02 + 0.002  # fat-tailed, like strategy returns


def test_return_risk_and_drawdown_match_empyrical(weekly):
    assert a.annual_return(weekly) == pytest.approx(empyrical.annual_return(weekly, annualization=52), rel=1e-12)
    assert a.annual_volatility(weekly) == pytest.approx(
        empyrical.annual_volatility(weekly, annualization=52), rel=1e-12
    )
    assert a.sharpe_ratio(weekly, RF) == pytest.approx(
        empyrical.sharpe_ratio(weekly, risk_free=RF / 52, annualization=52), rel=1e-12
    )
    assert a.max_drawdown(weekly) == pytest.approx(empyrical.max_drawdown(weekly), rel=1e-12)
    assert a.calmar_ratio(weekly) == pytest.approx(empyrical.calmar_ratio(weekly, annualization=52), rel=1e-12)
    np.testing.assert_allclose(a.cumulative_growth(weekly), empyrical.cum_returns(weekly) + 1, rtol=1e-12)


def test_a_first_week_loss_is_a_drawdown_from_the_start():
    assert a.max_drawdown([-0.10, 0.05]) == pytest.approx(-0.10)
    assert math.isnan(a.calmar_ratio([0.01, 0.02]))  # never below a peak


def test_active_statistics_by_hand():
    active = [0.01, -0.005, 0.002, 0.0, 0.004]
    n, mean = 5, sum(active) / 5
    sd = math.sqrt(sum((x - mean) ** 2 for x in active) / (n - 1))
    assert a.tracking_error(active) == pytest.approx(sd * math.sqrt(52))
    assert a.information_ratio(active) == pytest.approx(mean * 52 / (sd * math.sqrt(52)))
    assert a.hit_rate(active) == pytest.approx(3 / 5)
    assert a.t_statistic(active) == pytest.approx(mean / (sd / math.sqrt(n)))


def test_standard_errors_and_probabilistic_ratio_by_hand():
    x = [0.03, -0.01, 0.02, 0.0, 0.05, -0.02, 0.01, 0.04]
    n, mean = len(x), sum(x) / len(x)
    sd = math.sqrt(sum((v - mean) ** 2 for v in x) / (n - 1))
    sr = mean / sd
    m2 = sum((v - mean) ** 2 for v in x) / n
    skew = sum((v - mean) ** 3 for v in x) / n / m2**1.5
    kurt = sum((v - mean) ** 4 for v in x) / n / m2**2
    assert a.moments(x) == pytest.approx((skew, kurt))
    assert a.ratio_standard_error_iid(x) == pytest.approx(math.sqrt((1 + sr**2 / 2) / n) * math.sqrt(52))
    mertens = (1 + sr**2 / 2 - skew * sr + (kurt - 3) / 4 * sr**2) / n
    assert a.ratio_standard_error(x) == pytest.approx(math.sqrt(mertens) * math.sqrt(52))
    z = sr * math.sqrt(n - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    assert a.probabilistic_ratio(x) == pytest.approx(0.5 * (1 + math.erf(z / math.sqrt(2))))


def test_for_normal_returns_the_two_standard_errors_agree_and_match_the_spread_of_estimates():
    rng = np.random.default_rng(3)
    samples = rng.normal(0.003, 0.02, size=(4000, 104))
    estimates = [a.information_ratio(s) for s in samples]
    lo = np.median([a.ratio_standard_error_iid(s) for s in samples])
    mertens = np.median([a.ratio_standard_error(s) for s in samples])
    assert mertens == pytest.approx(lo, rel=0.02)
    assert np.std(estimates) == pytest.approx(lo, rel=0.05)  # the SE is what the estimates scatter by


def test_the_deflated_ratio_is_below_the_probabilistic_one_and_falls_with_more_trials(weekly):
    trials = np.random.default_rng(5).normal(0.5, 0.4, size=40)
    few, many = trials[:4], trials
    psr = a.probabilistic_ratio(weekly)
    assert a.deflated_ratio(weekly, many) < a.deflated_ratio(weekly, few) < psr
    # With N trials of spread s the expected maximum is about s * sqrt(2 ln N) for large N.
    assert a.expected_max_ratio(np.r_[-1.0, 1.0].repeat(500)) == pytest.approx(
        1.0 * math.sqrt(2 * math.log(1000)), rel=0.15
    )


def test_short_or_flat_series_give_nan_not_errors():
    for f in (a.sharpe_ratio, a.information_ratio, a.ratio_standard_error, a.probabilistic_ratio, a.t_statistic):
        assert math.isnan(f([0.01]))
        assert math.isnan(f([0.01, 0.01, 0.01]))
    v = a.verdict([0.01, -0.01, 0.02, 0.0])
    assert v.weeks == 4 and 0 <= v.probability_ir_positive <= 1


def test_effective_trials_count_correlated_trials_once():
    rng = np.random.default_rng(0)
    common = rng.normal(size=(500, 1))
    independent = rng.normal(size=(500, 6))
    assert a.effective_trials(independent) == pytest.approx(6, rel=0.1)
    assert a.effective_trials(np.repeat(common, 6, axis=1)) == pytest.approx(1.0)
    half = common + independent  # correlation 0.5 between every pair: 36 / (6 + 30 * 0.25)
    assert a.effective_trials(half) == pytest.approx(36 / 13.5, rel=0.1)
    assert a.expected_max_ratio([1.0, 2.0, 3.0], n_trials=1.0) == 0.0
