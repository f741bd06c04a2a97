"""Annualised Sharpe ratios (and the chosen score) of daily strategy returns, with skip rules.

``sharpe = (mean(r) * periods - rf) / (std(r, ddof=1) * sqrt(periods))``

where ``r`` are simple daily returns (on the ``return_basis`` of
``core.returns``: per average lot notional, or per deployed notional), ``rf`` is the *annual* risk-free rate
(0.045 = 4.5%) and ``periods`` is 252. This equals empyrical's
``sharpe_ratio(r, risk_free=rf / periods, annualization=periods)``.

Which days are observations (``missing_days``): ``skip`` (default) keeps only
the dates that had closes; ``zero`` also counts every NYSE trading day of the
window without a close as a 0 return (``core.trading_days``).

The ``score`` the multipliers map (``score``), each with empyrical's conventions
over the window's observations, in date order:

- ``sharpe``: the Sharpe ratio above;
- ``sortino``: ``mean(r - rf/periods) * periods / downside``, ``downside =
  sqrt(mean(min(r - rf/periods, 0)^2)) * sqrt(periods)`` over *all*
  observations (empyrical's ``sortino_ratio`` with ``required_return = rf/periods``);
- ``calmar``: ``annual_return / |max_drawdown|`` of the window's own returns:
  ``annual_return = prod(1 + r) ** (periods / sessions) - 1`` (-1 if the growth
  is <= 0), where ``sessions`` is the count of NYSE sessions on the window's dates
  1..lookback (as ``missing_days=zero`` counts them) whatever the missing-days
  rule, so the growth is compounded over the window's real length, not per close
  date; ``max_drawdown`` from the running peak of the growth of 1 over the
  observations, the start included; no risk-free rate. This equals empyrical's
  ``calmar_ratio`` of the zero-padded session series under either rule.

Under ``skip``, Sharpe and Sortino are annualised per close date (``periods``
observations a year), as the original design defines them; only Calmar's growth
is annualised by calendar sessions.

Every row also carries the Sharpe ratio's standard errors (annualised, on the
same observations): Lo (2002), i.i.d. returns, ``sqrt((1 + SR^2 / 2) / n)``, and
Mertens (2002) / Opdyke (2007), ``sqrt((1 + SR^2/2 - skew SR + (kurt - 3)/4 SR^2) / n)``
with the per-period ``SR``, population skewness and (non-excess) kurtosis;
both times ``sqrt(periods)``; and ``sharpe_se_hac``, the delta-method standard
error with a Newey-West long-run variance over the window's observations
(``core.hac``), the one that stays honest when lots overlap and the close-date
returns are autocorrelated. ``core.analytics`` computes the same for one series.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from weighting_pipeline.core import hac
from weighting_pipeline.core.returns import DailyReturns

PERIODS_PER_YEAR = 252
_WEEK_CHUNK = 32  # bounds the (weeks, strategies, dates) temporaries
MISSING_DAYS = ("skip", "zero")
SCORES = ("sharpe", "sortino", "calmar")


@dataclass(frozen=True)
class SharpeParams:
    """Sharpe settings. ``risk_free_rate`` is annual; counts are per window;
    ``missing_days`` is one of ``MISSING_DAYS``, ``score`` one of ``SCORES``."""

    risk_free_rate: float = 0.045
    min_lots: int = 5
    min_days: int = 5
    periods_per_year: int = PERIODS_PER_YEAR
    missing_days: str = "skip"
    score: str = "sharpe"


def _window_stats(daily: DailyReturns, params: SharpeParams) -> dict[str, np.ndarray]:
    """(weeks, strategies) lot and close-date counts, observations, mean, ddof=1 std,
    third and fourth central moments (population) of r, the score's own
    statistic (downside deviation or annual return and drawdown), and whether
    every observed r is identical (``flat``).

    Reductions run along the contiguous date axis, so each (week, strategy)
    result depends only on its own dates: a range and a single week agree bit
    for bit.
    """
    n_weeks, n_strat, _ = daily.pnl.shape
    names = ("obs", "mean", "std", "m3", "m4", "downside", "growth", "drawdown", "lrv_psi")
    out = {name: np.full((n_weeks, n_strat), np.nan) for name in names}
    out["flat"] = np.zeros((n_weeks, n_strat), dtype=bool)
    out["lots"] = np.asarray(daily.window_lots, dtype=np.int64)
    out["days"] = (daily.bookings > 0).sum(axis=2)
    trading: np.ndarray | None = None
    if params.missing_days == "zero" or params.score == "calmar":
        from weighting_pipeline.core.trading_days import window_trading_days

        trading = window_trading_days(daily.weeks)
        out["sessions"] = np.broadcast_to(trading.sum(axis=1)[:, None], (n_weeks, n_strat))
    zero_padded = params.missing_days == "zero"
    rf_day = params.risk_free_rate / params.periods_per_year
    for lo in range(0, n_weeks, _WEEK_CHUNK):
        sel = slice(lo, min(lo + _WEEK_CHUNK, n_weeks))
        observed = daily.bookings[sel] > 0
        if trading is not None and zero_padded:
            observed = observed | trading[sel][:, None, :]
        unobserved = ~observed
        n = observed.sum(axis=2)
        out["obs"][sel] = n
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            # Dates without closes have pnl exactly 0, so r is 0 there whenever the
            # denominator is usable (a 0 return, if the date is observed); other
            # rows are skipped by the rules anyway.
            r = daily.returns(sel)
            mean = r.sum(axis=2) / n
            dev = r - mean[..., None]
            dev[unobserved] = 0.0
            # In place: these arrays are the kernel's largest, and fresh ones cost page faults.
            sq = np.multiply(dev, dev)
            out["std"][sel] = np.sqrt(sq.sum(axis=2) / (n - 1))
            out["mean"][sel] = mean
            out["lrv_psi"][sel] = _psi_long_run_variance(dev, observed, n, out["std"][sel], mean - rf_day)
            out["m3"][sel] = np.multiply(sq, dev, out=dev).sum(axis=2) / n
            out["m4"][sel] = np.multiply(sq, sq, out=sq).sum(axis=2) / n
            del dev, sq
            if params.score == "sortino":
                below = np.minimum(r - rf_day, 0.0)
                below[unobserved] = 0.0
                out["downside"][sel] = np.sqrt((below * below).sum(axis=2) / n) * np.sqrt(params.periods_per_year)
            elif params.score == "calmar":
                growth = np.cumprod(np.where(observed, 1.0 + r, 1.0), axis=2)
                peak = np.maximum(np.maximum.accumulate(growth, axis=2), 1.0)  # the start (1.0) is a peak
                out["growth"][sel] = growth[..., -1]
                out["drawdown"][sel] = (growth / peak - 1.0).min(axis=2)
            # Exact "all returns identical" test, only where the std is tiny enough for it to be possible.
            suspect = ~(out["std"][sel] > 1e-9 * np.abs(mean))
            flat = np.zeros(n.shape, dtype=bool)
            if suspect.any():
                r_s, act = r[suspect], observed[suspect]
                flat[suspect] = np.where(act, r_s, np.inf).min(axis=1) == np.where(act, r_s, -np.inf).max(axis=1)
            out["flat"][sel] = flat
    return out


def _psi_long_run_variance(
    dev: np.ndarray, observed: np.ndarray, n: np.ndarray, std: np.ndarray, excess: np.ndarray
) -> np.ndarray:
    """(weeks, strategies) Bartlett long-run variance of the Sharpe ratio's influence
    function over each window's observations in date order (``core.hac``, vectorised):
    ``psi = dev / sd - SR / 2 * (dev^2 / sd^2 - 1)`` with the per-period ``SR = excess / sd``,
    lags by Andrews' AR(1) rule on the returns' deviations, per cell.

    Cells are laid out one per row, observations first (lags count observations, not
    calendar dates), rows sorted by their lag count so that lag ``k`` is one dot product
    per row over the prefix of rows that use it. Each row's sums run in date order over
    its own values only, so a cell's bits do not depend on the other cells of the range."""
    shape = n.shape
    n_dates = dev.shape[-1]
    obs = observed.reshape(-1, n_dates)
    # Rows padded to a multiple of 8 values (64 bytes): every row, and every shifted view of
    # it, starts at the same alignment, so no SIMD path can sum one cell differently by row.
    width = -(-n_dates // 8) * 8
    d = np.zeros((obs.shape[0], width))
    if obs.all():  # every date observed (the market basis, MISSING_DAYS=zero): already in place
        d[:, :n_dates] = dev.reshape(-1, n_dates)
    else:  # observations first, in date order (a stable sort of the flags)
        order = np.argsort(~obs, axis=1, kind="stable")
        d[:, :n_dates] = np.take_along_axis(np.where(obs, dev.reshape(-1, n_dates), 0.0), order, axis=1)
    n_dates = width
    flat_n, flat_std = n.reshape(-1).astype(float), std.reshape(-1)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        sr = (excess.reshape(-1) / flat_std)[:, None]
        psi = d / flat_std[:, None]
        term = psi * psi
        term -= 1.0
        term *= sr / 2
        psi -= term
        del term
        past = np.arange(n_dates)[None, :] >= flat_n[:, None]  # slots past a row's observations
        psi[past] = 0.0
        psi[~np.isfinite(psi)] = 0.0
        psi -= (psi.sum(axis=1) / flat_n)[:, None]  # demeaned, as core.hac's long-run variance is
        psi[past] = 0.0
        psi[~np.isfinite(psi)] = 0.0
        g0 = np.einsum("ij,ij->i", d, d)
        rho = np.clip(np.where(g0 > 0, np.einsum("ij,ij->i", d[:, 1:], d[:, :-1]) / g0, 0.0), 0.0, hac.MAX_RHO)
        alpha = 4 * rho**2 / ((1 - rho) ** 2 * (1 + rho) ** 2)
        lags = np.minimum(np.floor(1.1447 * np.cbrt(alpha * flat_n)), flat_n // 3)
        lags = np.where(np.isfinite(lags), lags, 0.0).astype(np.int64)
        total = np.einsum("ij,ij->i", psi, psi)
        by_lag = np.argsort(-lags, kind="stable")
        ranked, ranked_lags = psi[by_lag], lags[by_lag]
        extra = np.zeros(len(by_lag))
        for k in range(1, int(ranked_lags.max(initial=0)) + 1):
            m = int(np.searchsorted(-ranked_lags, -k, side="right"))  # the rows with lags >= k
            extra[:m] += (
                2.0 * (1.0 - k / (ranked_lags[:m] + 1.0)) * np.einsum("ij,ij->i", ranked[:m, k:], ranked[:m, :-k])
            )
        total[by_lag] += extra
        return np.where(flat_n > 1, total / flat_n, np.nan).reshape(shape)


def _scores(stats: dict[str, np.ndarray], sharpe: np.ndarray, params: SharpeParams) -> tuple[np.ndarray, np.ndarray]:
    """The chosen score, and where it is undefined although the Sharpe ratio is not."""
    p = params.periods_per_year
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if params.score == "sortino":
            downside = stats["downside"]
            score = (stats["mean"] - params.risk_free_rate / p) * p / downside
            return score, ~(downside > 0)
        if params.score == "calmar":
            growth, drawdown = stats["growth"], stats["drawdown"]
            annual = np.where(growth > 0, np.power(growth, p / stats["sessions"]) - 1.0, -1.0)
            score = annual / np.abs(drawdown)
            return score, ~(drawdown < 0) | ~np.isfinite(score)
    return sharpe, np.zeros(sharpe.shape, dtype=bool)


def sharpe_standard_errors(
    sharpe: np.ndarray, stats: dict[str, np.ndarray], periods: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Annualised (Lo i.i.d., Mertens/Opdyke, HAC) standard errors of annualised Sharpe
    ratios, from the observation count and the moments in ``stats``."""
    n = stats["obs"]
    with np.errstate(invalid="ignore", divide="ignore"):
        sr = sharpe / np.sqrt(periods)  # per period
        m2 = stats["std"] ** 2 * (n - 1) / n
        skew = stats["m3"] / m2**1.5
        kurt = stats["m4"] / m2**2
        lo = np.sqrt((1 + sr**2 / 2) / n) * np.sqrt(periods)
        variance = (1 + sr**2 / 2 - skew * sr + (kurt - 3) / 4 * sr**2) / n
        mertens = np.where(variance > 0, np.sqrt(variance), np.nan) * np.sqrt(periods)
        lrv = stats["lrv_psi"]
        hac_se = np.where(lrv > 0, np.sqrt(lrv / n), np.nan) * np.sqrt(periods)
    return lo, mertens, hac_se


def sharpe_ratios(daily: DailyReturns, params: SharpeParams = SharpeParams()) -> pd.DataFrame:
    """Sharpe ratio per (partition_key, strategy) of one ``DailyReturns``; see ``sharpe_ratios_of``."""
    return sharpe_ratios_of([daily], params)


def sharpe_ratios_of(dailies: Iterable[DailyReturns], params: SharpeParams = SharpeParams()) -> pd.DataFrame:
    """Sharpe ratio and score per (partition_key, strategy): every pair, week-major order.

    ``dailies`` are daily returns of consecutive runs of weeks over the same
    strategies (one, or chunks of a range); each is reduced as it comes.

    A strategy is skipped (``sharpe`` and ``score`` NaN, ``skip_reason`` set,
    first rule that applies): no lots booked P&L in the window; fewer than
    ``min_lots`` distinct lots; fewer than ``min_days`` distinct booking dates
    (close dates under ``pnl_date=close``, exit dates under ``exit``); average
    position value <= 0 (under ``return_basis=deployed``: a date with P&L and
    no positive deployed notional); zero volatility (every observed daily
    return identical); for ``sortino``, no return below the risk-free rate (no
    downside deviation); for ``calmar``, no drawdown. Qualified rows have
    ``skip_reason == ""``. ``observations`` counts the returns the statistics
    use (close dates, plus trading days without a close under ``zero``);
    ``sharpe_se_iid`` and ``sharpe_se`` are the Lo and Mertens/Opdyke standard
    errors of ``sharpe`` (i.i.d. returns), ``sharpe_se_hac`` the one that allows
    for serial correlation (``core.hac``: overlapping lots make a close-date series
    autocorrelated); all annualised like ``sharpe``, NaN where skipped.
    """
    if params.missing_days not in MISSING_DAYS:
        raise ValueError(f"missing_days must be one of {MISSING_DAYS}, got {params.missing_days!r}")
    if params.score not in SCORES:
        raise ValueError(f"score must be one of {SCORES}, got {params.score!r}")
    parts: list[dict[str, np.ndarray]] = []
    keys: list[str] = []
    strategies: tuple[str, ...] = ()
    pnl_date, basis = "close", "lot"
    for daily in dailies:  # consecutive runs of weeks, same strategies; only one is held at a time
        parts.append(
            {**_window_stats(daily, params), "avg": daily.avg_position_value, "unusable": daily.unusable_denominator()}
        )
        keys.extend(daily.weeks.keys)
        strategies, pnl_date, basis = daily.strategies, daily.pnl_date, daily.return_basis
    stats = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    lots, days, avg, unusable = (
        stats["lots"].ravel(),
        stats["days"].ravel(),
        stats["avg"].ravel(),
        stats["unusable"].ravel(),
    )
    mean, std = stats["mean"].ravel(), stats["std"].ravel()
    flat = stats["flat"].ravel()
    p = params.periods_per_year
    with np.errstate(invalid="ignore", divide="ignore"):
        raw_sharpe = (stats["mean"] * p - params.risk_free_rate) / (stats["std"] * np.sqrt(p))
    raw_score, undefined = _scores(stats, raw_sharpe, params)
    rule = np.select(
        [lots == 0, lots < params.min_lots, days < params.min_days, unusable, flat, undefined.ravel()],
        [1, 2, 3, 4, 5, 6],
        default=0,
    )
    reason = np.full(rule.shape, "", dtype=object)
    booked = {"close": "close dates", "exit": "exit dates"}.get(pnl_date, "sessions with a return")
    nothing = {"close": "no closed lots in window", "exit": "no exits in window"}.get(
        pnl_date, "no lots held in window"
    )
    reason[rule == 1] = nothing
    reason[rule == 2] = [f"fewer than {params.min_lots} lots: {n}" for n in lots[rule == 2]]
    reason[rule == 3] = [f"fewer than {params.min_days} {booked}: {n}" for n in days[rule == 3]]
    reason[rule == 4] = (
        "non-positive average position value" if basis == "lot" else "non-positive deployed notional on a date with P&L"
    )
    reason[rule == 5] = "zero volatility"
    reason[rule == 6] = "no downside deviation" if params.score == "sortino" else "no drawdown"
    qualified = rule == 0
    sharpe = np.where(qualified, raw_sharpe.ravel(), np.nan)
    se_iid, se, se_hac = (np.where(qualified, x.ravel(), np.nan) for x in sharpe_standard_errors(raw_sharpe, stats, p))
    n_weeks, n_strat = stats["lots"].shape
    return pd.DataFrame(
        {
            "partition_key": pd.Categorical.from_codes(np.repeat(np.arange(n_weeks), n_strat), categories=keys),
            "strategy": pd.Categorical.from_codes(np.tile(np.arange(n_strat), n_weeks), categories=list(strategies)),
            "sharpe": sharpe,
            "score": np.where(qualified, raw_score.ravel(), np.nan),
            "sharpe_se_iid": se_iid,
            "sharpe_se": se,
            "sharpe_se_hac": se_hac,
            "lots": lots,
            "days": days,
            "observations": stats["obs"].ravel().astype(np.int64),
            "avg_position_value": avg,
            "mean_daily_return": np.where(days > 0, mean, np.nan),
            "std_daily_return": np.where(stats["obs"].ravel() > 1, std, np.nan),
            "skip_reason": reason,
        }
    )
