"""Daily strategy returns inside each week's lookback window.

For one strategy and one window:

* average position value ``A`` = mean of ``entry_qty * entry_price`` over the
  strategy's lots closed in the window;
* the daily return of New York date ``d`` is ``sum(realized_pnl of lots closed
  on d) / A``: a simple (not log) return on the average capital deployed;
* dates with no closed lot have no return (they are skipped, not zero).

The kernel aggregates lots once onto a (strategy x half-day) grid and reads
every window from it, so a range of weeks costs O(strategies x days), and a
single week is just a range of one: both go through the same arithmetic in the
same order, which makes a backfill bit-identical to week-by-week runs.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from weighting_pipeline.core.calendar import WeekWindows, half_day_index

DAILY_RETURN_COLUMNS = [
    "partition_key",
    "strategy",
    "date",
    "realized_pnl",
    "lots",
    "avg_position_value",
    "daily_return",
]

# Weeks per chunk of the gather step; bounds memory to about
# chunk * strategies * 2 * (lookback + 1) * 8 bytes per array.
_WEEK_CHUNK = 16


def daily_returns(lots: pd.DataFrame, weeks: WeekWindows, strategies: Sequence[str]) -> pd.DataFrame:
    """Daily returns of every strategy in every week's window, long format.

    Parameters
    ----------
    lots : closed-lots frame (see ``core.lots``); lots of strategies not in
        ``strategies`` and lots outside every window are ignored.
    weeks : the partitions to compute, with their lookback.
    strategies : baseline keys, in output order.

    Returns
    -------
    One row per (partition_key, strategy, date) with at least one lot closed
    in the window on that date, sorted in that order. ``date`` is the New York
    calendar date (naive midnight); ``lots`` counts lots closed that date;
    ``avg_position_value`` is the window's (repeated per row); ``daily_return``
    is NaN when ``avg_position_value <= 0`` (the Sharpe step skips those).
    """
    n_strat, n_weeks, n_dates = len(strategies), len(weeks), weeks.n_dates
    if n_weeks == 0 or n_strat == 0:
        return _empty_daily()

    codes = pd.Index(list(strategies)).get_indexer(lots["strategy"]).astype(np.int64)  # -1: not a baseline strategy
    half = half_day_index(lots["fully_closed_at"]) if len(lots) else np.empty(0, np.int64)
    # Each window reads half-days [2*d0, 2*dE + 1]: whole dates, with the two
    # half-days outside the window masked out below.
    grid_lo = int(2 * weeks.window_start_day.min())
    grid_hi = int(2 * weeks.end_day.max() + 2)
    width = grid_hi - grid_lo
    keep = (codes >= 0) & (half >= grid_lo) & (half < grid_hi)
    flat = codes[keep] * width + (half[keep] - grid_lo)
    size = n_strat * width
    pnl_grid = np.bincount(flat, weights=lots["realized_pnl"].to_numpy(np.float64)[keep], minlength=size)
    cost = (lots["entry_qty"].to_numpy(np.float64) * lots["entry_price"].to_numpy(np.float64))[keep]
    cost_grid = np.bincount(flat, weights=cost, minlength=size)
    count_grid = np.bincount(flat, minlength=size)
    pnl_grid = pnl_grid.reshape(n_strat, width)
    cost_grid = cost_grid.reshape(n_strat, width)
    count_grid = count_grid.reshape(n_strat, width)

    pieces = []
    offsets = np.arange(2 * n_dates)
    edge = np.ones(2 * n_dates)
    edge[0] = edge[-1] = 0.0  # before 18:00 on the first date, after 18:00 on the last
    for lo in range(0, n_weeks, _WEEK_CHUNK):
        sel = slice(lo, min(lo + _WEEK_CHUNK, n_weeks))
        idx = (2 * weeks.window_start_day[sel] - grid_lo)[:, None] + offsets  # (w, 2D)

        def per_date(grid: np.ndarray) -> np.ndarray:
            """(S, half-days) -> (w, S, D): per-date sums of each window's half-days."""
            return (grid[:, idx] * edge).reshape(n_strat, -1, n_dates, 2).sum(axis=3).transpose(1, 0, 2)

        pnl, cnt, cst = per_date(pnl_grid), per_date(count_grid).astype(np.int64), per_date(cost_grid)
        n_lots = cnt.sum(axis=2)
        cost_sum = cst.sum(axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            avg = np.where(n_lots > 0, cost_sum / np.maximum(n_lots, 1), np.nan)
        w_i, s_i, d_i = np.nonzero(cnt)
        avg_rows = avg[w_i, s_i]
        pnl_rows = pnl[w_i, s_i, d_i]
        with np.errstate(invalid="ignore", divide="ignore"):
            ret = np.where(avg_rows > 0, pnl_rows / avg_rows, np.nan)
        week_idx = w_i + lo
        pieces.append(
            (
                week_idx,
                s_i,
                weeks.window_start_day[week_idx] + d_i,
                pnl_rows,
                cnt[w_i, s_i, d_i],
                avg_rows,
                ret,
            )
        )
    week_idx, s_i, day, pnl_rows, cnt_rows, avg_rows, ret = (np.concatenate(p) for p in zip(*pieces))
    return pd.DataFrame(
        {
            "partition_key": pd.Categorical.from_codes(week_idx, categories=list(weeks.keys)),
            "strategy": pd.Categorical.from_codes(s_i, categories=list(strategies)),
            "date": (np.datetime64("1970-01-01", "D") + day.astype("timedelta64[D]")).astype("datetime64[s]"),
            "realized_pnl": pnl_rows,
            "lots": cnt_rows.astype(np.int64),
            "avg_position_value": avg_rows,
            "daily_return": ret,
        }
    )


def _empty_daily() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "partition_key": pd.Categorical([]),
            "strategy": pd.Categorical([]),
            "date": pd.Series(dtype="datetime64[s]"),
            "realized_pnl": pd.Series(dtype="float64"),
            "lots": pd.Series(dtype="int64"),
            "avg_position_value": pd.Series(dtype="float64"),
            "daily_return": pd.Series(dtype="float64"),
        }
    )
