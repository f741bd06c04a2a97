"""Annualised Sharpe ratios of daily strategy returns, with skip rules.

``sharpe = (mean(r) * periods - rf) / (std(r, ddof=1) * sqrt(periods))``

where ``r`` are simple daily returns on the dates that had closes, ``rf`` is
the *annual* risk-free rate (0.045 = 4.5%) and ``periods`` is 252. This equals
empyrical's ``sharpe_ratio(r, risk_free=rf / periods, annualization=periods)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

PERIODS_PER_YEAR = 252

SHARPE_COLUMNS = [
    "partition_key",
    "strategy",
    "sharpe",
    "lots",
    "days",
    "avg_position_value",
    "mean_daily_return",
    "std_daily_return",
    "skip_reason",
]


@dataclass(frozen=True)
class SharpeParams:
    """Sharpe settings. ``risk_free_rate`` is annual; counts are per window."""

    risk_free_rate: float = 0.045
    min_lots: int = 5
    min_days: int = 5
    periods_per_year: int = PERIODS_PER_YEAR


def sharpe_ratios(
    daily: pd.DataFrame,
    partition_keys: Sequence[str],
    strategies: Sequence[str],
    params: SharpeParams = SharpeParams(),
) -> pd.DataFrame:
    """Sharpe ratio per (partition_key, strategy), every pair present.

    ``daily`` is the output of ``core.returns.daily_returns``. A strategy is
    skipped (``sharpe`` NaN, ``skip_reason`` set, first rule that applies):
    no closed lots in the window; fewer than ``min_lots`` lots; fewer than
    ``min_days`` distinct close dates; average position value <= 0; zero
    volatility (every daily return identical). Qualified rows have
    ``skip_reason == ""``.
    """
    index = pd.MultiIndex.from_product([list(partition_keys), list(strategies)], names=["partition_key", "strategy"])
    keys = daily["partition_key"].astype(str)
    strat = daily["strategy"].astype(str)
    grouped = daily.groupby([keys, strat], sort=False)["daily_return"]
    stats = pd.DataFrame(
        {
            "lots": daily.groupby([keys, strat], sort=False)["lots"].sum(),
            "days": grouped.size(),
            "avg_position_value": daily.groupby([keys, strat], sort=False)["avg_position_value"].first(),
            "mean_daily_return": grouped.mean(),
            "std_daily_return": grouped.std(ddof=1),
            "r_min": grouped.min(),
            "r_max": grouped.max(),
        }
    )
    stats.index.names = ["partition_key", "strategy"]
    stats = stats.reindex(index)
    lots = stats["lots"].fillna(0).astype(np.int64).to_numpy()
    days = stats["days"].fillna(0).astype(np.int64).to_numpy()
    avg = stats["avg_position_value"].to_numpy(np.float64)
    mean = stats["mean_daily_return"].to_numpy(np.float64)
    std = stats["std_daily_return"].to_numpy(np.float64)
    flat = (stats["r_min"] == stats["r_max"]).to_numpy(dtype=bool)

    reason = np.select(
        [
            lots == 0,
            lots < params.min_lots,
            days < params.min_days,
            ~(avg > 0),
            flat,
        ],
        [
            "no closed lots in window",
            np.char.add(f"fewer than {params.min_lots} lots: ", lots.astype(str)),
            np.char.add(f"fewer than {params.min_days} close dates: ", days.astype(str)),
            "non-positive average position value",
            "zero volatility",
        ],
        default="",
    )
    qualified = reason == ""
    p = params.periods_per_year
    with np.errstate(invalid="ignore", divide="ignore"):
        sharpe = np.where(qualified, (mean * p - params.risk_free_rate) / (std * np.sqrt(p)), np.nan)
    out = pd.DataFrame(
        {
            "partition_key": pd.Categorical(index.get_level_values(0), categories=list(partition_keys)),
            "strategy": pd.Categorical(index.get_level_values(1), categories=list(strategies)),
            "sharpe": sharpe,
            "lots": lots,
            "days": days,
            "avg_position_value": avg,
            "mean_daily_return": mean,
            "std_daily_return": std,
            "skip_reason": reason.astype(str),
        }
    )
    return out
