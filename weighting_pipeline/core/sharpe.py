"""Annualised Sharpe ratios of daily strategy returns, with skip rules.

``sharpe = (mean(r) * periods - rf) / (std(r, ddof=1) * sqrt(periods))``

where ``r`` are simple daily returns on the dates that had closes, ``rf`` is
the *annual* risk-free rate (0.045 = 4.5%) and ``periods`` is 252. This equals
empyrical's ``sharpe_ratio(r, risk_free=rf / periods, annualization=periods)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

from weighting_pipeline.core.returns import DailyReturns

PERIODS_PER_YEAR = 252
_WEEK_CHUNK = 32  # bounds the (weeks, strategies, dates) temporaries


@dataclass(frozen=True)
class SharpeParams:
    """Sharpe settings. ``risk_free_rate`` is annual; counts are per window."""

    risk_free_rate: float = 0.045
    min_lots: int = 5
    min_days: int = 5
    periods_per_year: int = PERIODS_PER_YEAR


def _window_stats(daily: DailyReturns) -> dict[str, np.ndarray]:
    """(weeks, strategies) lot and day counts, mean and ddof=1 std of r, and
    whether every active r is identical (``flat``).

    Reductions run along the contiguous date axis, so each (week, strategy)
    result depends only on its own dates: a range and a single week agree bit
    for bit.
    """
    n_weeks, n_strat, _ = daily.pnl.shape
    out = {name: np.empty((n_weeks, n_strat)) for name in ("mean", "std")}
    out["flat"] = np.zeros((n_weeks, n_strat), dtype=bool)
    out["lots"] = daily.lots.sum(axis=2, dtype=np.int64)
    out["days"] = (daily.lots > 0).sum(axis=2)
    for lo in range(0, n_weeks, _WEEK_CHUNK):
        sel = slice(lo, min(lo + _WEEK_CHUNK, n_weeks))
        inactive = daily.lots[sel] == 0
        days = out["days"][sel]
        with np.errstate(invalid="ignore", divide="ignore"):
            # Dates without closes have pnl exactly 0, so r is 0 there whenever the
            # average position is usable; other rows are skipped by the rules anyway.
            r = daily.pnl[sel] / daily.avg_position_value[sel][..., None]
            mean = r.sum(axis=2) / days
            dev = r - mean[..., None]
            dev[inactive] = 0.0
            np.multiply(dev, dev, out=dev)
            out["std"][sel] = np.sqrt(dev.sum(axis=2) / (days - 1))
            out["mean"][sel] = mean
            # Exact "all returns identical" test, only where the std is tiny enough for it to be possible.
            suspect = ~(out["std"][sel] > 1e-9 * np.abs(mean))
            flat = np.zeros(days.shape, dtype=bool)
            if suspect.any():
                r_s, act = r[suspect], ~inactive[suspect]
                flat[suspect] = np.where(act, r_s, np.inf).min(axis=1) == np.where(act, r_s, -np.inf).max(axis=1)
            out["flat"][sel] = flat
    return out


def sharpe_ratios(daily: DailyReturns, params: SharpeParams = SharpeParams()) -> pd.DataFrame:
    """Sharpe ratio per (partition_key, strategy) of one ``DailyReturns``; see ``sharpe_ratios_of``."""
    return sharpe_ratios_of([daily], params)


def sharpe_ratios_of(dailies: Iterable[DailyReturns], params: SharpeParams = SharpeParams()) -> pd.DataFrame:
    """Sharpe ratio per (partition_key, strategy): every pair, week-major order.

    ``dailies`` are daily returns of consecutive runs of weeks over the same
    strategies (one, or chunks of a range); each is reduced as it comes.

    A strategy is skipped (``sharpe`` NaN, ``skip_reason`` set, first rule
    that applies): no closed lots in the window; fewer than ``min_lots`` lots;
    fewer than ``min_days`` distinct close dates; average position value <= 0;
    zero volatility (every daily return identical). Qualified rows have
    ``skip_reason == ""``.
    """
    parts, keys, strategies = [], [], None
    for daily in dailies:  # consecutive runs of weeks, same strategies; only one is held at a time
        parts.append({**_window_stats(daily), "avg": daily.avg_position_value})
        keys.extend(daily.weeks.keys)
        strategies = daily.strategies
    stats = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    lots, days, avg = stats["lots"].ravel(), stats["days"].ravel(), stats["avg"].ravel()
    mean, std = stats["mean"].ravel(), stats["std"].ravel()
    flat = stats["flat"].ravel()
    rule = np.select(
        [lots == 0, lots < params.min_lots, days < params.min_days, ~(avg > 0), flat], [1, 2, 3, 4, 5], default=0
    )
    reason = np.full(rule.shape, "", dtype=object)
    reason[rule == 1] = "no closed lots in window"
    reason[rule == 2] = [f"fewer than {params.min_lots} lots: {n}" for n in lots[rule == 2]]
    reason[rule == 3] = [f"fewer than {params.min_days} close dates: {n}" for n in days[rule == 3]]
    reason[rule == 4] = "non-positive average position value"
    reason[rule == 5] = "zero volatility"
    qualified = rule == 0
    p = params.periods_per_year
    with np.errstate(invalid="ignore", divide="ignore"):
        sharpe = np.where(qualified, (mean * p - params.risk_free_rate) / (std * np.sqrt(p)), np.nan)
    n_weeks, n_strat = stats["lots"].shape
    return pd.DataFrame(
        {
            "partition_key": pd.Categorical.from_codes(np.repeat(np.arange(n_weeks), n_strat), categories=keys),
            "strategy": pd.Categorical.from_codes(np.tile(np.arange(n_strat), n_weeks), categories=list(strategies)),
            "sharpe": sharpe,
            "lots": lots,
            "days": days,
            "avg_position_value": avg,
            "mean_daily_return": np.where(days > 0, mean, np.nan),
            "std_daily_return": np.where(days > 1, std, np.nan),
            "skip_reason": reason,
        }
    )
