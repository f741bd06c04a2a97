"""The three settings of issue 11 in the core: which days are observations, which
score the multipliers map, and the Sharpe ratio's standard errors.

Oracles: empyrical (test-only) for Sortino and Calmar, exchange_calendars' own
session list and a hand-counted week for trading days, ``core.analytics`` (itself
checked against hand arithmetic and simulation) for the standard errors.
"""

import empyrical
import exchange_calendars
import numpy as np
import pandas as pd
import pytest

from weighting_pipeline.core import analytics
from weighting_pipeline.core.calendar import WeekWindows
from weighting_pipeline.core.chain import WeightingParams, run_chain
from weighting_pipeline.core.invariants import tilt_exceeds_noise
from weighting_pipeline.core.lots import LOT_COLUMNS
from weighting_pipeline.core.multipliers import multipliers
from weighting_pipeline.core.returns import daily_returns
from weighting_pipeline.core.sharpe import SharpeParams, sharpe_ratios
from weighting_pipeline.core.trading_days import window_trading_days
from weighting_pipeline_devtools.demo_ledger import synthetic_lots
from weighting_pipeline_tests.conftest import ts

KEY = "2026-03-08"  # 90-day window [2025-12-15 18:00, 2026-03-15 18:00)
WEEKS = WeekWindows.for_keys([KEY], 90)
RF = 0.045


def lots_on(strategy: str, days: list[str], returns: list[float], position: float = 1000.0) -> pd.DataFrame:
    """One lot a day at 12:00 New York, entry value ``position``, pnl ``r * position``."""
    return pd.DataFrame(
        [
            {
                "lot_id": f"{strategy}-{d}",
                "strategy": strategy,
                "symbol": "SPY",
                "entry_timestamp": ts("2025-01-01 10:00"),
                "fully_closed_at": ts(f"{d} 12:00"),
                "entry_qty": 1.0,
                "entry_price": position,
                "realized_pnl": r * position,
            }
            for d, r in zip(days, returns)
        ]
    ).astype(LOT_COLUMNS)


def sessions_in_window() -> list[str]:
    calendar = exchange_calendars.get_calendar("XNYS", start="2025-12-01", end="2026-03-31")
    days = [str(d.date()) for d in calendar.sessions]
    return [d for d in days if "2025-12-16" <= d <= "2026-03-15"]  # the first date's session closed before 18:00


def test_trading_days_of_a_window_are_the_nyse_sessions_inside_it():
    mask = window_trading_days(WEEKS)[0]
    dates = [
        str(np.datetime64("1970-01-01") + np.timedelta64(int(WEEKS.window_start_day[0]) + j, "D")) for j in range(91)
    ]
    assert [d for d, m in zip(dates, mask) if m] == sessions_in_window()
    # By hand: the week of Christmas 2025 has four sessions (the 25th is a holiday, the 24th closes early).
    week = window_trading_days(WeekWindows.for_keys(["2025-12-21"], 7))[0]
    assert week.sum() == 4 and not week[0] and not week[-1]


def test_zero_counts_every_trading_day_without_a_close_as_a_zero_return():
    sessions = sessions_in_window()
    rare_days = sessions[::5]
    r = list(np.random.default_rng(3).normal(0.002, 0.01, size=len(rare_days)))
    # The same returns per close: the daily strategy repeats the rare one's five times.
    closes_every_day = lots_on("daily", sessions, (r * 5)[: len(sessions)])
    closes_a_fifth = lots_on("rare", rare_days, r)
    daily = daily_returns(pd.concat([closes_every_day, closes_a_fifth], ignore_index=True), WEEKS, ["daily", "rare"])
    skip = sharpe_ratios(daily, SharpeParams(risk_free_rate=0.0)).set_index("strategy")
    zero = sharpe_ratios(daily, SharpeParams(risk_free_rate=0.0, missing_days="zero")).set_index("strategy")
    assert skip.loc["rare", "observations"] == len(rare_days) and zero.loc["rare", "observations"] == len(sessions)
    assert skip.loc["rare", "sharpe"] == pytest.approx(
        empyrical.sharpe_ratio(np.array(r), annualization=252), rel=1e-12
    )
    padded = np.zeros(len(sessions))
    padded[::5] = r
    assert zero.loc["rare", "sharpe"] == pytest.approx(empyrical.sharpe_ratio(padded, annualization=252), rel=1e-12)
    # A strategy that closes every trading day is unaffected.
    assert zero.loc["daily", "sharpe"] == skip.loc["daily", "sharpe"]
    # Skipping favours the rare closer: per close it looks as good as the daily one; counted
    # over the calendar its Sharpe is about sqrt(1/5) of it.
    assert skip.loc["rare", "sharpe"] == pytest.approx(skip.loc["daily", "sharpe"], rel=0.05)
    assert zero.loc["rare", "sharpe"] / zero.loc["daily", "sharpe"] == pytest.approx(np.sqrt(0.2), rel=0.15)


def test_a_close_on_a_non_trading_day_still_counts_once():
    days = ["2026-01-03", "2026-01-05", "2026-01-06"]  # a Saturday, then two sessions
    frame = lots_on("a", days * 2, [0.01, -0.02, 0.03, 0.0, 0.0, 0.0])  # two lots a day, one of them flat
    out = sharpe_ratios(daily_returns(frame, WEEKS, ["a"]), SharpeParams(min_lots=2, min_days=2, missing_days="zero"))
    assert out["observations"].iloc[0] == len(sessions_in_window()) + 1


@pytest.mark.parametrize("missing_days", ["skip", "zero"])
def test_sortino_and_calmar_follow_empyrical_on_the_windows_observations(missing_days):
    sessions = sessions_in_window()
    rng = np.random.default_rng(11)
    days = sorted(rng.choice(sessions, size=40, replace=False))
    r = rng.standard_t(4, size=40) * 0.01 + 0.001
    daily = daily_returns(lots_on("a", days, list(r)), WEEKS, ["a"])
    padded = np.array([r[days.index(d)] if d in days else 0.0 for d in sessions])
    observed = r if missing_days == "skip" else padded
    for score, oracle in (
        ("sortino", empyrical.sortino_ratio(observed, required_return=RF / 252, annualization=252)),
        # Calmar compounds over the window's sessions under either rule: the zero-padded series.
        ("calmar", empyrical.calmar_ratio(padded, annualization=252)),
        ("sharpe", empyrical.sharpe_ratio(observed, risk_free=RF / 252, annualization=252)),
    ):
        row = sharpe_ratios(daily, SharpeParams(missing_days=missing_days, score=score)).iloc[0]
        assert row["score"] == pytest.approx(oracle, rel=1e-10), score
        assert row["sharpe"] == pytest.approx(
            empyrical.sharpe_ratio(observed, risk_free=RF / 252, annualization=252), rel=1e-10
        )


@pytest.mark.parametrize("missing_days", ["skip", "zero"])
def test_calmar_by_hand_compounds_over_the_windows_sessions_not_its_close_dates(missing_days):
    sessions = sessions_in_window()
    days = [sessions[10], sessions[20], sessions[30]]
    daily = daily_returns(lots_on("a", days, [0.10, -0.05, 0.02]), WEEKS, ["a"])
    row = sharpe_ratios(daily, SharpeParams(min_lots=3, min_days=3, missing_days=missing_days, score="calmar")).iloc[0]
    # By hand: growth 1.10 * 0.95 * 1.02 = 1.06590; the peak 1.10 falls to 1.045, a 5% drawdown;
    # the window holds 60 NYSE sessions (2025-12-16..2026-03-13), so the growth is compounded 252/60 times a year.
    assert len(sessions) == 60
    annual = 1.0659 ** (252 / 60) - 1
    assert row["score"] == pytest.approx(annual / 0.05, rel=1e-12)
    # The old rule (252 / 3 close dates a year) compounded 84 times: a Calmar in the thousands.
    assert row["score"] == pytest.approx(6.148, abs=1e-3) and (1.0659**84 - 1) / 0.05 > 1000


def test_the_sharpe_standard_errors_are_lo_and_mertens_opdyke_on_the_observations():
    sessions = sessions_in_window()
    rng = np.random.default_rng(5)
    r = rng.standard_t(4, size=len(sessions)) * 0.01 + 0.002
    row = sharpe_ratios(daily_returns(lots_on("a", sessions, list(r)), WEEKS, ["a"])).iloc[0]
    assert row["sharpe_se_iid"] == pytest.approx(
        analytics.ratio_standard_error_iid(r, periods=252, risk_free=RF), rel=1e-10
    )
    assert row["sharpe_se"] == pytest.approx(analytics.ratio_standard_error(r, periods=252, risk_free=RF), rel=1e-10)
    assert 1.5 < row["sharpe_se_iid"] < 2.5  # about sqrt(252 / 62): why a 90-day tilt can be noise


def test_scores_without_a_downside_or_a_drawdown_are_skipped_with_the_reason():
    days = sessions_in_window()[:6]
    rising = lots_on("a", days, [0.01, 0.02, 0.03, 0.01, 0.02, 0.04])
    daily = daily_returns(rising, WEEKS, ["a"])
    assert sharpe_ratios(daily, SharpeParams(score="sortino"))["skip_reason"].iloc[0] == "no downside deviation"
    calmar = sharpe_ratios(daily, SharpeParams(score="calmar")).iloc[0]
    assert calmar["skip_reason"] == "no drawdown" and np.isnan(calmar["score"]) and np.isnan(calmar["sharpe"])
    assert sharpe_ratios(daily, SharpeParams())["skip_reason"].iloc[0] == ""


@pytest.mark.parametrize("score", ["sortino", "calmar"])
def test_multipliers_map_the_chosen_score(score):
    names = [f"s{i}.clj" for i in range(8)]
    lots = synthetic_lots(names, "2025-09-01", "2026-03-20", 1.0, seed=21)
    keys = [str(d.date()) for d in pd.date_range("2026-01-04", periods=10, freq="7D")]
    baseline = pd.Series(1 / 8, index=names)
    frame = run_chain(lots, keys, baseline, WeightingParams(score=score))["multipliers"]
    differs = 0
    for _, week in frame[frame["skip_reason"] == ""].groupby("partition_key", observed=True):
        assert week["multiplier"].rank().tolist() == week["score"].rank().tolist()
        assert (
            week.loc[week["score"].idxmax(), "multiplier"] == 2.0
            and week.loc[week["score"].idxmin(), "multiplier"] == 0.5
        )
        differs += week["score"].rank().tolist() != week["sharpe"].rank().tolist()
    assert differs > 0  # the score changes the ordering somewhere, so the check above means something


def test_the_score_changes_the_weights_and_the_defaults_do_not():
    names = [f"s{i}.clj" for i in range(6)]
    lots = synthetic_lots(names, "2025-09-01", "2026-03-20", 1.0, seed=2)
    keys = ["2026-02-01", "2026-02-08"]
    baseline = pd.Series(1 / 6, index=names)
    default = run_chain(lots, keys, baseline)["dynamic_weights"]["weight"].to_numpy()
    explicit = run_chain(lots, keys, baseline, WeightingParams(score="sharpe", missing_days="skip"))["dynamic_weights"][
        "weight"
    ]
    np.testing.assert_array_equal(default, explicit.to_numpy())
    for params in (WeightingParams(score="sortino"), WeightingParams(missing_days="zero")):
        assert not np.array_equal(
            default, run_chain(lots, keys, baseline, params)["dynamic_weights"]["weight"].to_numpy()
        )


def test_unknown_settings_are_refused_by_name():
    with pytest.raises(ValueError, match="score must be one of sharpe, sortino, calmar, got 'omega'"):
        WeightingParams(score="omega")
    with pytest.raises(ValueError, match="missing_days must be one of skip, zero, got 'fill'"):
        WeightingParams(missing_days="fill")


def _frame(rows):
    return pd.DataFrame(rows, columns=["partition_key", "strategy", "sharpe", "sharpe_se_hac", "skip_reason"])


# The Q test runs on a basis whose daily returns are not overlapping realised P&L.
CALIBRATED = "market"


def test_noise_rule_is_cochrans_q_with_serial_correlation_robust_errors():
    frame = _frame(
        [
            ("w1", "a", 2.0, 1.0, ""),
            ("w1", "b", 0.5, 1.0, ""),
            ("w1", "c", np.nan, np.nan, "zero volatility"),
            ("w2", "a", 6.0, 1.0, ""),
            ("w2", "b", 1.0, 1.2, ""),
            ("w3", "a", 1.0, 1.0, ""),
            ("w3", "b", np.nan, np.nan, "no closed lots in window"),
            ("w4", "a", 1.0, 1.0, ""),
            ("w4", "b", 3.0, np.nan, ""),  # no usable standard error: left out
        ]
    )
    rule = tilt_exceeds_noise(frame, return_basis=CALIBRATED)
    # By hand, w1: equal weights 1, mean 1.25, Q = 0.75^2 * 2 = 1.125 on 1 dof; p = P(chi2(1) > 1.125) = 0.2888.
    assert rule.measured["w1"] == pytest.approx(
        {"q": 1.125, "dof": 1, "p_value": 0.28884436, "strategies": 2}, rel=1e-6
    )
    assert (
        set(rule.failures) == {"w1"}
        and "p = 0.289 >= 0.05" in rule.failures["w1"]
        and "mostly noise" in rule.failures["w1"]
    )
    # w2: weights 1 and 1/1.44; Q = (6 - 1)^2 / (1 + 1.44) = 10.2459 (two estimates: Q = d^2 / (se1^2 + se2^2)).
    assert rule.measured["w2"]["q"] == pytest.approx(25 / 2.44, rel=1e-12)
    assert rule.measured["w2"]["p_value"] == pytest.approx(0.0013698, rel=1e-4)
    assert "w3" not in rule.measured and "w4" not in rule.measured  # one usable strategy: no tilt to judge
    assert tilt_exceeds_noise(frame, alpha=0.5, return_basis=CALIBRATED).failures == {}  # p = 0.289 < 0.5


@pytest.mark.parametrize("basis", ["lot", "deployed"])
def test_on_realised_pnl_bases_the_noise_rule_claims_nothing_and_says_why(basis):
    frame = _frame([("w1", "a", 20.0, 1.0, ""), ("w1", "b", -20.0, 1.0, ""), ("w2", "a", 1.0, 1.0, "")])
    rule = tilt_exceeds_noise(frame, return_basis=basis)
    # Q would be 800 on 1 dof here; without a calibrated standard error it is not claimed.
    assert (
        set(rule.failures) == {"w1"} and f"no calibrated noise test on the {basis} return basis" in rule.failures["w1"]
    )
    assert rule.measured["w1"] == {"calibrated": False, "strategies": 2}


def _simulated(
    n_strategies: int, true_sharpe: np.ndarray, seed: int, windows: int = 2000, days: int = 60
) -> pd.DataFrame:
    """Sharpe ratios and their standard errors as ``core.sharpe`` computes them, for
    ``windows`` independent windows of ``days`` i.i.d. normal daily returns per strategy."""
    from weighting_pipeline.core.sharpe import _psi_long_run_variance, sharpe_standard_errors

    rng = np.random.default_rng(seed)
    r = rng.normal(
        np.asarray(true_sharpe)[None, :, None] / np.sqrt(252) * 0.01, 0.01, size=(windows, n_strategies, days)
    )
    mean, std = r.mean(axis=2), r.std(axis=2, ddof=1)
    dev = r - mean[..., None]
    n = np.full(mean.shape, days)
    stats = {
        "obs": n,
        "std": std,
        "m3": (dev**3).mean(axis=2),
        "m4": (dev**4).mean(axis=2),
        "lrv_psi": _psi_long_run_variance(dev, np.ones(r.shape, dtype=bool), n, std, mean),
    }
    sharpe = mean / std * np.sqrt(252)
    lo, mertens, robust = sharpe_standard_errors(sharpe, stats, 252)
    return pd.DataFrame(
        {
            "partition_key": np.repeat(np.arange(windows).astype(str), n_strategies),
            "strategy": np.tile(np.arange(n_strategies), windows),
            "sharpe": sharpe.ravel(),
            "sharpe_se_hac": robust.ravel(),
            "skip_reason": "",
        }
    )


@pytest.mark.parametrize("n_strategies", [9, 16, 50])
def test_noise_rule_claims_a_tilt_in_about_five_percent_of_pure_noise_windows(n_strategies):
    frame = _simulated(n_strategies, np.full(n_strategies, 1.0), seed=n_strategies)
    rule = tilt_exceeds_noise(frame, return_basis=CALIBRATED)
    claims = 1 - len(rule.failures) / 2000
    assert 0.03 <= claims <= 0.08, claims


def test_noise_rule_sees_a_real_spread_of_skill():
    frame = _simulated(9, np.linspace(-6, 6, 9), seed=99)
    rule = tilt_exceeds_noise(frame, return_basis=CALIBRATED)
    detected = 1 - len(rule.failures) / 2000
    assert detected >= 0.90, detected


def test_noise_rule_on_real_windows_reports_q_on_the_qualified_strategies():
    names = [f"s{i}.clj" for i in range(5)]
    lots = synthetic_lots(names, "2025-09-01", "2026-03-20", 1.0, seed=8)
    frame = multipliers(run_chain(lots, ["2026-03-01"], pd.Series(0.2, index=names))["sharpe_ratios"])
    rule = tilt_exceeds_noise(frame, return_basis=CALIBRATED)
    m = rule.measured["2026-03-01"]
    qualified = frame[frame["skip_reason"] == ""]
    assert m["strategies"] == len(qualified) and m["dof"] == len(qualified) - 1
    w = 1 / qualified["sharpe_se_hac"] ** 2
    s_bar = (w * qualified["sharpe"]).sum() / w.sum()
    assert m["q"] == pytest.approx((w * (qualified["sharpe"] - s_bar) ** 2).sum(), rel=1e-12)
    assert (m["p_value"] >= 0.05) == ("2026-03-01" in rule.failures)
