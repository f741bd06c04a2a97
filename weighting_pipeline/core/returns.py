"""Daily strategy returns inside each week's lookback window.

For one strategy and one window, with P&L booked by the ``pnl_date`` rule
(``core.lots``: ``close`` books a lot's P&L when it is fully closed, ``exit``
books each exit record's on its own exit time):

* average position value ``A`` = mean of ``entry_qty * entry_price`` over the
  distinct lots that booked P&L in the window (under ``close``, the lots closed
  in it; under ``exit``, the lots with an exit in it, open or not);
* the daily return of New York date ``d`` is ``sum(realized_pnl booked on d) /
  A``: a simple (not log) return on the average capital deployed;
* dates with no booking have no return (they are skipped, not zero).

That is the ``lot`` return basis (the original design's): a return per average
lot notional, not per unit of capital. Under ``return_basis=deployed`` the
denominator is instead the strategy's deployed notional on ``d``
(``core.deployed``): a simple return on the capital the strategy had at work
that day.

The kernel aggregates lots once onto a (strategy x half-day) grid and reads
every window from it, so a range of weeks costs O(weeks x strategies x
lookback) array work and O(lots) Python-free aggregation. A single week is a
range of one and goes through the same arithmetic in the same order, which is
what makes a backfill bit-identical to week-by-week runs. Sums follow the
order of the input lots; the ledger reader returns them in canonical order
(close time, then lot id), and every later step keeps that order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from weighting_pipeline.core.calendar import WeekWindows, half_day_index
from weighting_pipeline.core.deployed import DeployedGrid
from weighting_pipeline.core.grid import positions, runs
from weighting_pipeline.core.lots import booked_at, booked_rows, pnl_date_of

_EPOCH = np.datetime64("1970-01-01", "D")


@dataclass(frozen=True)
class DailyReturns:
    """Per-date P&L and booking counts of every (week, strategy) window, dense.

    ``pnl`` and ``bookings`` are (weeks, strategies, lookback + 1) arrays:
    index ``j`` on the last axis is the window's ``j``-th New York date,
    starting at ``weeks.window_start_day``. ``bookings`` counts the rows that
    booked P&L on the date (closed lots under ``pnl_date=close``, exit records
    under ``exit``); a date with none has no return. ``window_lots`` and
    ``avg_position_value`` are (weeks, strategies): the distinct lots that
    booked P&L in the window and the mean of their ``entry_qty * entry_price``
    (NaN without lots). ``deployed`` (under ``return_basis=deployed`` only) is
    (weeks, strategies, lookback + 1): each date's deployed notional
    (``core.deployed``), the denominator of its return.
    """

    weeks: WeekWindows
    strategies: tuple[str, ...]
    pnl: np.ndarray
    bookings: np.ndarray
    window_lots: np.ndarray
    avg_position_value: np.ndarray
    pnl_date: str = "close"
    deployed: np.ndarray | None = None
    basis: str = ""

    @property
    def return_basis(self) -> str:
        """``lot``, ``deployed`` or ``market`` (``core.market``: ``pnl`` marked to market,
        ``deployed`` the value at work, ``pnl_date`` then ``market``: it has no role)."""
        return self.basis or ("lot" if self.deployed is None else "deployed")

    def returns(self, weeks: slice = slice(None)) -> np.ndarray:
        """(weeks, strategies, dates) simple returns of the weeks ``weeks``: P&L over
        the basis's denominator on booked dates, and 0 on dates without a booking
        (where the average position is usable, under the lot basis)."""
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            if self.deployed is None:
                return self.pnl[weeks] / self.avg_position_value[weeks][..., None]
            pnl = self.pnl[weeks]
            return np.divide(pnl, self.deployed[weeks], out=np.zeros_like(pnl), where=self.bookings[weeks] > 0)

    def unusable_denominator(self) -> np.ndarray:
        """(weeks, strategies): where a booked date has no positive denominator
        (average position value, or that date's deployed notional)."""
        if self.deployed is None:
            return np.asarray(~(self.avg_position_value > 0))
        return np.asarray(((self.bookings > 0) & ~(self.deployed > 0)).any(axis=2))

    def to_frame(self) -> pd.DataFrame:
        """Long format, one row per (partition_key, strategy, date) with a close,
        sorted in that order: the stored form of the ``daily_returns`` asset.

        ``deployed_notional`` is the date's (NaN under the lot basis; under the market
        basis the value at work); ``realized_pnl`` is the date's realised P&L and
        ``market_pnl`` its marked-to-market P&L (each NaN on the other bases);
        ``daily_return`` is P&L over the basis's denominator, NaN when that is <= 0.
        """
        w, s, d = np.nonzero(self.bookings)
        avg = self.avg_position_value[w, s]
        pnl = self.pnl[w, s, d]
        deployed = np.full(len(w), np.nan) if self.deployed is None else self.deployed[w, s, d]
        denominator = avg if self.deployed is None else deployed
        with np.errstate(invalid="ignore", divide="ignore"):
            ret = np.where(denominator > 0, pnl / denominator, np.nan)
        day = self.weeks.window_start_day[w] + d
        return pd.DataFrame(
            {
                "partition_key": pd.Categorical.from_codes(w, categories=list(self.weeks.keys)),
                "strategy": pd.Categorical.from_codes(s, categories=list(self.strategies)),
                "date": (_EPOCH + day.astype("timedelta64[D]")).astype("datetime64[s]"),
                "realized_pnl": np.full(len(w), np.nan) if self.return_basis == "market" else pnl,
                "market_pnl": pnl if self.return_basis == "market" else np.full(len(w), np.nan),
                "bookings": self.bookings[w, s, d].astype(np.int32),
                "window_lots": self.window_lots[w, s].astype(np.int32),
                "avg_position_value": avg,
                "deployed_notional": deployed,
                "daily_return": ret,
            }
        )

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        weeks: WeekWindows,
        strategies: Sequence[str],
        pnl_date: str = "close",
        return_basis: str = "lot",
    ) -> DailyReturns:
        """The inverse of ``to_frame`` (exact: the same floats land in the same cells;
        under the deployed basis, the notional of dates without a booking is not kept)."""
        shape = (len(weeks), len(strategies), weeks.n_dates)
        w = positions(frame["partition_key"], list(weeks.keys))[1]
        s = positions(frame["strategy"], list(strategies))[1]
        if (w < 0).any() or (s < 0).any():
            raise ValueError("daily returns hold weeks or strategies outside the requested ones")
        day = (frame["date"].to_numpy().astype("datetime64[D]") - _EPOCH).astype(np.int64)
        d = day - weeks.window_start_day[w]
        if ((d < 0) | (d >= weeks.n_dates)).any():
            raise ValueError("daily returns hold dates outside their week's window")
        pnl = np.zeros(shape)
        bookings = np.zeros(shape, dtype=np.int32)
        window_lots = np.zeros(shape[:2], dtype=np.int64)
        avg = np.full(shape[:2], np.nan)
        pnl[w, s, d] = frame["market_pnl" if return_basis == "market" else "realized_pnl"].to_numpy(np.float64)
        bookings[w, s, d] = frame["bookings"].to_numpy(np.int32)
        window_lots[w, s] = frame["window_lots"].to_numpy(np.int64)
        avg[w, s] = frame["avg_position_value"].to_numpy(np.float64)
        deployed = None
        if return_basis in ("deployed", "market"):
            deployed = np.full(shape, np.nan) if return_basis == "deployed" else np.zeros(shape)
            deployed[w, s, d] = frame["deployed_notional"].to_numpy(np.float64)
        basis = "market" if return_basis == "market" else ""
        return cls(
            weeks, tuple(strategies), pnl, bookings, window_lots, avg, "market" if basis else pnl_date, deployed, basis
        )


@dataclass(frozen=True)
class HalfDayGrid:
    """Bookings summed per (strategy, half-day) from New York day ``day_lo`` on,
    and per whole date: what every window is read from."""

    day_lo: int
    pnl_half: np.ndarray
    cost_half: np.ndarray
    count_half: np.ndarray
    pnl_day: np.ndarray
    cost_day: np.ndarray
    count_day: np.ndarray

    def covers(self, weeks: WeekWindows) -> bool:
        return len(weeks) == 0 or (
            int(weeks.window_start_day.min()) >= self.day_lo
            and int(weeks.end_day.max()) < self.day_lo + self.pnl_day.shape[1]
        )


def half_day_grid(lots: pd.DataFrame, weeks: WeekWindows, strategies: Sequence[str]) -> HalfDayGrid:
    """Aggregate ``lots`` (closed lots or exit records, ``core.lots``) once onto
    the half-day grid spanning every window of ``weeks``, by booking time."""
    n_strat = len(strategies)
    day_lo = int(weeks.window_start_day.min()) if len(weeks) else 0
    n_days = int(weeks.end_day.max()) - day_lo + 1 if len(weeks) else 0
    width = 2 * n_days
    size = n_strat * width
    if len(lots) and size:
        codes = positions(lots["strategy"], list(strategies))[1]
        half = half_day_index(booked_at(lots))
        keep = (codes >= 0) & (half >= 2 * day_lo) & (half < 2 * day_lo + width)
    else:
        keep = np.zeros(len(lots), dtype=bool)
        codes = half = np.zeros(len(lots), dtype=np.int64)
    flat = codes[keep] * width + (half[keep] - 2 * day_lo)
    cost = lots["entry_qty"].to_numpy(np.float64)[keep] * lots["entry_price"].to_numpy(np.float64)[keep]
    pnl_half = np.bincount(flat, weights=lots["realized_pnl"].to_numpy(np.float64)[keep], minlength=size).reshape(
        n_strat, width
    )
    cost_half = np.bincount(flat, weights=cost, minlength=size).reshape(n_strat, width)
    count_half = np.bincount(flat, minlength=size).reshape(n_strat, width)
    # Whole New York dates; a window's first date keeps only its evening (>= 18:00)
    # and its last date only its day (< 18:00), patched in per window.
    return HalfDayGrid(
        day_lo,
        pnl_half,
        cost_half,
        count_half,
        pnl_half[:, 0::2] + pnl_half[:, 1::2],
        cost_half[:, 0::2] + cost_half[:, 1::2],
        count_half[:, 0::2] + count_half[:, 1::2],
    )


def daily_returns(
    lots: pd.DataFrame,
    weeks: WeekWindows,
    strategies: Sequence[str],
    grid: HalfDayGrid | None = None,
    deployed: DeployedGrid | None = None,
) -> DailyReturns:
    """Aggregate booked P&L into every week's window.

    ``lots`` is a closed-lots or exit-records frame (see ``core.lots``; a
    positions frame's entry rows are dropped); its kind is the ``pnl_date``
    rule. Rows of strategies not in ``strategies`` and rows outside every
    window are ignored. Pass a ``grid`` built for a wider range to read a
    subset of weeks without aggregating again (the cells are the same either
    way). ``deployed``: the deployed notional of these windows
    (``core.deployed.deployed_grid``), for ``return_basis=deployed``.
    """
    lots = booked_rows(lots)
    n_strat, n_weeks, n_dates = len(strategies), len(weeks), weeks.n_dates
    pnl_date = pnl_date_of(lots)
    pnl_out = np.zeros((n_weeks, n_strat, n_dates))
    lots_out = np.zeros((n_weeks, n_strat, n_dates), dtype=np.int32)
    avg_out = np.full((n_weeks, n_strat), np.nan)
    notional = deployed.window(weeks) if deployed is not None else None
    if n_weeks == 0 or n_strat == 0 or len(lots) == 0:
        return DailyReturns(
            weeks,
            tuple(strategies),
            pnl_out,
            lots_out,
            np.zeros((n_weeks, n_strat), np.int64),
            avg_out,
            pnl_date,
            notional,
        )
    grid = grid if grid is not None else half_day_grid(lots, weeks, strategies)
    if not grid.covers(weeks):
        raise ValueError("the half-day grid does not cover these weeks' windows")
    cost_window = np.empty((n_strat, n_dates))
    cost_sum = np.empty((n_weeks, n_strat))
    for i, first in enumerate(weeks.window_start_day - grid.day_lo):
        _read_window(grid.pnl_day, grid.pnl_half, first, pnl_out[i])
        _read_window(grid.count_day, grid.count_half, first, lots_out[i])
        _read_window(grid.cost_day, grid.cost_half, first, cost_window)
        cost_sum[i] = cost_window.sum(axis=1)
    if pnl_date == "close":  # one row per lot: the window's rows are its distinct lots
        window_lots = lots_out.sum(axis=2, dtype=np.int64)
    else:  # a lot may exit several times in a window and count once
        window_lots, cost_sum = distinct_lots_per_window(lots, weeks, strategies)
    with np.errstate(invalid="ignore", divide="ignore"):
        avg_out[:] = np.where(window_lots > 0, cost_sum / window_lots, np.nan)
    return DailyReturns(weeks, tuple(strategies), pnl_out, lots_out, window_lots, avg_out, pnl_date, notional)


def distinct_lots_per_window(
    rows: pd.DataFrame, weeks: WeekWindows, strategies: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """``(count, cost)``, both (weeks, strategies): the distinct lots with a row
    booked in each window, and the sum of their ``entry_qty * entry_price``.

    Each lot's cost is added once per window, in the order of its first row in
    that window (rows in canonical order), so a week's sums do not depend on
    which other weeks or rows the frame holds.
    """
    n_weeks, n_strat = len(weeks), len(strategies)
    count = np.zeros(n_weeks * n_strat, dtype=np.int64)
    cost = np.zeros(n_weeks * n_strat)
    if len(rows) == 0 or n_weeks == 0:
        return count.reshape(n_weeks, n_strat), cost.reshape(n_weeks, n_strat)
    codes = positions(rows["strategy"], list(strategies))[1]
    half = half_day_index(booked_at(rows))
    # Windows are sorted, so those holding half-day h are one run [lo, hi).
    lo = np.searchsorted(weeks.last_half_day, half, side="left")
    hi = np.searchsorted(weeks.first_half_day, half, side="right")
    n = np.where(codes >= 0, np.maximum(hi - lo, 0), 0)
    row, week = runs(lo, n)
    lot = pd.factorize(rows["lot_id"].to_numpy(dtype=object))[0]
    order = np.lexsort((row, week))  # by week, then row order
    week, row = week[order], row[order]
    _, first = np.unique(week * (int(lot.max()) + 1) + lot[row], return_index=True)
    first = np.sort(first)
    week, row = week[first], row[first]
    flat = week * n_strat + codes[row]
    value = rows["entry_qty"].to_numpy(np.float64)[row] * rows["entry_price"].to_numpy(np.float64)[row]
    count += np.bincount(flat, minlength=n_weeks * n_strat)
    cost += np.bincount(flat, weights=value, minlength=n_weeks * n_strat)
    return count.reshape(n_weeks, n_strat), cost.reshape(n_weeks, n_strat)


def _read_window(per_day: np.ndarray, per_half: np.ndarray, first: int, out: np.ndarray) -> None:
    """One window's per-date sums into ``out`` (strategies, dates): whole dates,
    except the evening (>= 18:00) of the first and the day (< 18:00) of the last."""
    last = first + out.shape[1] - 1
    out[:] = per_day[:, first : last + 1]
    out[:, 0] = per_half[:, 2 * first + 1]
    out[:, -1] = per_half[:, 2 * last]
