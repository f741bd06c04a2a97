"""Statistics to judge a weekly return series: is the tilt better than the baseline,
and by more than noise?

Conventions (docs/analytics.md gives each formula and its source):
- returns are simple weekly returns (0.01 = 1 %), one per week, oldest first;
- ``periods`` = 52 a year; ``risk_free`` is annual (0.045 = 4.5 %) and enters as
  ``risk_free / periods`` per week, as the pipeline's daily Sharpe uses ``rf / 252``;
- standard deviations use ``ddof=1``; skewness is the moment ratio and kurtosis
  is *not* excess (a normal has 3);
- a statistic with too few observations or zero dispersion is NaN, never an error.

Pure numpy and the standard library: no Dagster, no boto3, no scipy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from weighting_pipeline.core import hac

PERIODS = 52
EULER_GAMMA = 0.5772156649015329
_NORMAL = NormalDist()


def _clean(returns) -> np.ndarray:
    r = np.asarray(returns, dtype=float)
    return r[np.isfinite(r)]


def cumulative_growth(returns) -> np.ndarray:
    """Growth of 1: ``prod(1 + r)`` up to each week (the first value is after week 1)."""
    return np.cumprod(1.0 + _clean(returns))


def annual_return(returns, periods: int = PERIODS) -> float:
    """Geometric annualised return: ``growth ** (periods / n) - 1``."""
    r = _clean(returns)
    if r.size == 0:
        return math.nan
    growth = float(np.prod(1.0 + r))
    return growth ** (periods / r.size) - 1.0 if growth > 0 else -1.0


def annual_volatility(returns, periods: int = PERIODS) -> float:
    """``std(r, ddof=1) * sqrt(periods)``."""
    r = _clean(returns)
    return float(np.std(r, ddof=1) * math.sqrt(periods)) if r.size > 1 else math.nan


def sharpe_ratio(returns, risk_free: float = 0.045, periods: int = PERIODS) -> float:
    """Annualised Sharpe ratio: ``mean(r - rf/periods) / std(r - rf/periods, ddof=1) * sqrt(periods)``."""
    excess = _clean(returns) - risk_free / periods
    if excess.size < 2:
        return math.nan
    sd = float(np.std(excess, ddof=1))
    return float(np.mean(excess) / sd * math.sqrt(periods)) if sd > 0 else math.nan


def max_drawdown(returns) -> float:
    """Largest fall from a running peak of the growth of 1, the start (1.0) included: <= 0."""
    r = _clean(returns)
    if r.size == 0:
        return math.nan
    growth = np.concatenate([[1.0], np.cumprod(1.0 + r)])
    peak = np.maximum.accumulate(growth)
    return float(np.min(growth / peak - 1.0))


def calmar_ratio(returns, periods: int = PERIODS) -> float:
    """``annual_return / |max_drawdown|``; NaN without a drawdown."""
    dd = max_drawdown(returns)
    return annual_return(returns, periods) / abs(dd) if dd < 0 else math.nan


def tracking_error(active, periods: int = PERIODS) -> float:
    """``std(active, ddof=1) * sqrt(periods)``; active = tilt - baseline, per week."""
    return annual_volatility(active, periods)


def information_ratio(active, periods: int = PERIODS) -> float:
    """``mean(active) * periods / tracking_error`` (no risk-free: both legs hold it)."""
    a = _clean(active)
    te = tracking_error(a, periods)
    return float(np.mean(a) * periods / te) if te and te > 0 else math.nan


def hit_rate(active) -> float:
    """Share of weeks with ``active > 0``."""
    a = _clean(active)
    return float(np.mean(a > 0)) if a.size else math.nan


def t_statistic(values) -> float:
    """``mean / (std(ddof=1) / sqrt(n))``: the t-statistic of the mean."""
    x = _clean(values)
    if x.size < 2:
        return math.nan
    sd = float(np.std(x, ddof=1))
    return float(np.mean(x) / (sd / math.sqrt(x.size))) if sd > 0 else math.nan


def moments(values) -> tuple[float, float]:
    """Sample skewness and (non-excess) kurtosis, as moment ratios (population moments)."""
    x = _clean(values)
    if x.size < 3:
        return math.nan, math.nan
    d = x - x.mean()
    m2 = float(np.mean(d**2))
    if m2 == 0:
        return math.nan, math.nan
    return float(np.mean(d**3) / m2**1.5), float(np.mean(d**4) / m2**2)


def _per_period_ratio(values, risk_free_per_period: float = 0.0) -> tuple[float, int]:
    x = _clean(values) - risk_free_per_period
    if x.size < 2:
        return math.nan, int(x.size)
    sd = float(np.std(x, ddof=1))
    return (float(np.mean(x) / sd) if sd > 0 else math.nan), int(x.size)


def ratio_standard_error_iid(values, periods: int = PERIODS, risk_free: float = 0.0) -> float:
    """Lo (2002), i.i.d. returns: ``SE(SR) = sqrt((1 + SR^2 / 2) / n)`` on the per-period
    ratio, annualised by ``sqrt(periods)``. For an information ratio pass the active
    returns and ``risk_free=0``."""
    sr, n = _per_period_ratio(values, risk_free / periods)
    return math.sqrt((1 + sr**2 / 2) / n) * math.sqrt(periods) if n > 1 and math.isfinite(sr) else math.nan


def ratio_standard_error(values, periods: int = PERIODS, risk_free: float = 0.0) -> float:
    """Mertens (2002) / Opdyke (2007), non-normal returns:
    ``SE(SR) = sqrt((1 + SR^2/2 - skew*SR + (kurt - 3)/4 * SR^2) / n)`` per period,
    annualised by ``sqrt(periods)``."""
    sr, n = _per_period_ratio(values, risk_free / periods)
    skew, kurt = moments(_clean(values) - risk_free / periods)
    if n < 3 or not (math.isfinite(sr) and math.isfinite(skew)):
        return math.nan
    variance = (1 + sr**2 / 2 - skew * sr + (kurt - 3) / 4 * sr**2) / n
    return math.sqrt(variance) * math.sqrt(periods) if variance > 0 else math.nan


def ratio_standard_error_hac(values, periods: int = PERIODS, risk_free: float = 0.0) -> float:
    """Serial-correlation-robust standard error of the annualised ratio (``core.hac``: the
    delta method with a Newey-West long-run variance). Weekly active returns of lots held
    for weeks are autocorrelated; this is the standard error the verdict uses."""
    return hac.ratio_standard_error(_clean(values), periods, risk_free / periods)


def t_statistic_hac(values) -> float:
    """``mean / sqrt(LRV / n)``: the t-statistic of the mean with a Newey-West standard
    error (``core.hac``)."""
    return hac.t_statistic(_clean(values))


def probability_positive_hac(values, periods: int = PERIODS) -> float:
    """``Phi(ratio / SE_hac)``: the probability that the true annualised ratio is above 0,
    under a normal approximation with the serial-correlation-robust standard error."""
    ratio, se = information_ratio(values, periods), ratio_standard_error_hac(values, periods)
    return _NORMAL.cdf(ratio / se) if math.isfinite(ratio) and math.isfinite(se) and se > 0 else math.nan


def probabilistic_ratio(values, benchmark: float = 0.0, periods: int = PERIODS, risk_free: float = 0.0) -> float:
    """Bailey and López de Prado (2012): the probability that the true ratio exceeds
    ``benchmark`` (annualised), ``Phi((SR - SR*) sqrt(n - 1) / sqrt(1 - skew*SR + (kurt - 1)/4 SR^2))``
    with per-period ``SR`` and ``SR* = benchmark / sqrt(periods)``."""
    sr, n = _per_period_ratio(values, risk_free / periods)
    skew, kurt = moments(_clean(values) - risk_free / periods)
    if n < 3 or not (math.isfinite(sr) and math.isfinite(skew)):
        return math.nan
    denominator = 1 - skew * sr + (kurt - 1) / 4 * sr**2
    if denominator <= 0:
        return math.nan
    star = benchmark / math.sqrt(periods)
    return _NORMAL.cdf((sr - star) * math.sqrt(n - 1) / math.sqrt(denominator))


def effective_trials(series) -> float:
    """How many independent trials a set of correlated ones is worth: ``N^2 / sum_ij rho_ij^2``
    over the correlation matrix of the trials' return series (columns of ``series``, weeks
    in rows; weeks with a NaN in any column left out). N for uncorrelated trials, 1 for
    identical ones; a constant series counts as perfectly correlated with every other."""
    x = np.asarray(series, dtype=float)
    x = x[np.isfinite(x).all(axis=1)] if x.ndim == 2 else x
    if x.ndim != 2 or x.shape[1] < 2 or x.shape[0] < 3:
        return float(x.shape[1]) if x.ndim == 2 else math.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.corrcoef(x, rowvar=False)
    rho = np.where(np.isfinite(rho), rho, 1.0)
    n = x.shape[1]
    return float(n * n / np.sum(rho * rho))


def expected_max_ratio(trial_ratios, periods: int = PERIODS, n_trials: float | None = None) -> float:
    """Bailey and López de Prado (2014): the expected maximum of ``N`` annualised ratios
    under the null of no skill, ``sqrt(V) ((1 - g) Z(1 - 1/N) + g Z(1 - 1/(N e)))``, with
    ``V`` the variance of the trials' ratios, ``g`` Euler's constant and ``Z`` the
    inverse normal CDF. Annualised, like the inputs. ``n_trials``: ``N`` when the trials
    are correlated (``effective_trials``); default their count."""
    trials = _clean(trial_ratios)
    n = trials.size if n_trials is None else n_trials
    if trials.size < 2 or not n > 1:
        return 0.0
    spread = float(np.std(trials, ddof=1))
    if n < 2:  # between one trial (0) and two (1/sqrt(pi) standard deviations), where the formula does not hold
        return spread * (n - 1) / math.sqrt(math.pi)
    z = _NORMAL.inv_cdf
    return spread * ((1 - EULER_GAMMA) * z(1 - 1 / n) + EULER_GAMMA * z(1 - 1 / (n * math.e)))


def deflated_ratio(
    best_values, trial_ratios, periods: int = PERIODS, risk_free: float = 0.0, n_trials: float | None = None
) -> float:
    """Deflated Sharpe ratio (Bailey and López de Prado 2014): the probabilistic ratio of
    the best trial's returns against the expected maximum of the trials' ratios (of
    ``n_trials`` effective trials: ``effective_trials``; default their count)."""
    return probabilistic_ratio(best_values, expected_max_ratio(trial_ratios, periods, n_trials), periods, risk_free)


@dataclass(frozen=True)
class Verdict:
    """The tilt against the baseline over a range of weeks (annualised where it applies).

    ``ir_standard_error_iid`` (Lo), ``ir_standard_error`` (Mertens/Opdyke),
    ``probability_ir_positive`` (PSR) and ``t_statistic`` assume independent weeks;
    ``ir_standard_error_hac``, ``t_statistic_hac`` and ``probability_ir_positive_hac``
    allow for serial correlation (``core.hac``), and are the ones the verdict reads:
    lots held for weeks make weekly active returns autocorrelated."""

    weeks: int
    information_ratio: float
    ir_standard_error_iid: float
    ir_standard_error: float
    probability_ir_positive: float
    tracking_error: float
    hit_rate: float
    t_statistic: float
    ir_standard_error_hac: float = math.nan
    t_statistic_hac: float = math.nan
    probability_ir_positive_hac: float = math.nan


def verdict(active, periods: int = PERIODS) -> Verdict:
    """The statistics of the active return series (tilt - baseline, per week)."""
    a = _clean(active)
    return Verdict(
        weeks=int(a.size),
        information_ratio=information_ratio(a, periods),
        ir_standard_error_iid=ratio_standard_error_iid(a, periods),
        ir_standard_error=ratio_standard_error(a, periods),
        probability_ir_positive=probabilistic_ratio(a, 0.0, periods),
        tracking_error=tracking_error(a, periods),
        hit_rate=hit_rate(a),
        t_statistic=t_statistic(a),
        ir_standard_error_hac=ratio_standard_error_hac(a, periods),
        t_statistic_hac=t_statistic_hac(a),
        probability_ir_positive_hac=probability_positive_hac(a, periods),
    )


LEGS = ("tilt", "baseline", "naive")


def leg_statistics(returns, risk_free: float = 0.045, periods: int = PERIODS) -> dict[str, float]:
    """Growth of 1 at the end, annual return, volatility, Sharpe, maximum drawdown, Calmar."""
    growth = cumulative_growth(returns)
    return {
        "cumulative_growth": float(growth[-1]) if growth.size else math.nan,
        "annual_return": annual_return(returns, periods),
        "annual_volatility": annual_volatility(returns, periods),
        "sharpe_ratio": sharpe_ratio(returns, risk_free, periods),
        "max_drawdown": max_drawdown(returns),
        "calmar_ratio": calmar_ratio(returns, periods),
    }


def tilt_summary(
    r_tilt, r_base, r_naive, turnover, active_share, rank_ic, risk_free: float = 0.045, periods: int = PERIODS
) -> dict[str, dict[str, float]]:
    """The verdict over weeks, from the backtest's weekly columns (aligned, oldest
    first): each leg's ``leg_statistics`` under ``tilt``/``baseline``/``naive``; under
    ``active`` the ``Verdict`` of ``r_tilt - r_base`` plus mean turnover, mean active
    share, mean rank IC, its t-statistic and the weeks with a rank IC."""
    r_tilt, r_base = np.asarray(r_tilt, dtype=float), np.asarray(r_base, dtype=float)
    active = verdict(r_tilt - r_base, periods)
    ic = _clean(rank_ic)

    def mean(values) -> float:
        x = _clean(values)
        return float(np.mean(x)) if x.size else math.nan

    return {
        "tilt": leg_statistics(r_tilt, risk_free, periods),
        "baseline": leg_statistics(r_base, risk_free, periods),
        "naive": leg_statistics(r_naive, risk_free, periods),
        "active": {
            **{k: float(v) for k, v in active.__dict__.items()},
            "mean_turnover": mean(turnover),
            "mean_active_share": mean(active_share),
            "mean_rank_ic": mean(ic),
            "rank_ic_t_statistic": t_statistic(ic),
            "rank_ic_weeks": float(ic.size),
        },
    }
