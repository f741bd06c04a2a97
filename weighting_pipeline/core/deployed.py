"""Deployed notional: the capital each strategy had in its lots, per New York date.

Under ``return_basis=deployed`` a date's return is its realised P&L over the
strategy's *deployed notional* that date (``core.returns``), not over the mean
notional of one lot. For strategy ``s`` and New York date ``d``:

    deployed(s, d) = sum over s's lots open at the start of d of
                         entry_price * (entry_qty - exit_qty of its exits before d)
                   + sum over s's lots entered during d of entry_price * entry_qty

in the account currency. Exits during ``d`` do not lower ``d``'s notional: the
capital was at work that day. A lot adds nothing once what it still holds is
within ``QTY_TOLERANCE`` of its entry quantity of zero (the reader's rule for
a lot whose exits add up to its entry).

A window's first and last dates are partial (its bounds are 18:00 New York),
and so is their notional, to keep each week to what happened inside it: the
first date counts from 18:00 (lots held at 18:00, plus entries after it), the
last date until 18:00 (lots held at midnight, plus entries before 18:00). So a
lot entered after a week's end never enters that week.

The input is a *positions* frame (``core.lots``): one entry row per lot
(``exit_seq == ENTRY_SEQ``) and its exit records. Notional is summed per
(strategy, half-day) over lots in ``lot_id`` order, each lot's held quantity
computed from its own exits in sequence, so a cell's value depends only on the
lots held then: a range of weeks and a week alone give the same bits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from weighting_pipeline.core.calendar import WeekWindows, half_day_index
from weighting_pipeline.core.grid import positions, runs
from weighting_pipeline.core.lots import ENTRY_SEQ, QTY_TOLERANCE, canonical_order

RETURN_BASES = ("lot", "deployed", "market")  # market: core.market
_NEVER = np.iinfo(np.int64).max


@dataclass(frozen=True)
class _Lots:
    """One row per lot of a positions frame, in ``lot_id`` order, and its held segments.

    A segment ``k`` holds ``qty[k]`` of lot ``lot[k]`` at the start of every half-day
    in ``[first[k], last[k]]`` (``last`` may be ``_NEVER``: still held)."""

    lot_id: np.ndarray
    strategy: pd.Series
    entry_half: np.ndarray
    entry_qty: np.ndarray
    entry_price: np.ndarray
    out_half: np.ndarray  # last half-day during which the lot held something (_NEVER: still holds)
    lot: np.ndarray
    first: np.ndarray
    last: np.ndarray
    qty: np.ndarray


def _lots(frame: pd.DataFrame) -> _Lots:
    entry_rows = (frame["exit_seq"] == ENTRY_SEQ).to_numpy()
    entries = frame[entry_rows].sort_values("lot_id", kind="stable")
    if entries["lot_id"].duplicated().any():
        raise ValueError(
            f"positions hold two entry rows of lot(s) {sorted(set(entries.loc[entries['lot_id'].duplicated(), 'lot_id']))[:5]}"
        )
    ids = entries["lot_id"].to_numpy(dtype=object)
    exits = frame[~entry_rows]
    code = pd.Index(ids).get_indexer(exits["lot_id"].to_numpy(dtype=object))
    if (code < 0).any():
        raise ValueError(
            f"positions hold exit records without an entry row: lot(s) {sorted(set(exits['lot_id'][code < 0]))[:5]}"
        )
    # Held quantity follows the exits in time (then record) order.
    when = pd.DatetimeIndex(exits["exit_timestamp"]).asi8
    order = np.lexsort((exits["exit_seq"].to_numpy(), when, code))
    code, exit_half = (
        code[order],
        half_day_index(exits["exit_timestamp"])[order] if len(exits) else np.empty(0, np.int64),
    )
    q0 = entries["entry_qty"].to_numpy(np.float64)
    # Held after each exit: entry_qty less the lot's exits so far, summed in sequence within the lot.
    sold = pd.Series(exits["exit_qty"].to_numpy(np.float64)[order]).groupby(code).cumsum().to_numpy()
    held_after = q0[code] - sold
    empty_after = held_after <= QTY_TOLERANCE * q0[code]
    entry_half = half_day_index(entries["entry_timestamp"]) if len(entries) else np.empty(0, np.int64)
    # Segments: [entry + 1, first exit] at entry_qty, then [exit_k + 1, exit_k+1] at held_after_k, ...
    n_exits = np.bincount(code, minlength=len(ids))
    starts = np.concatenate([[0], np.cumsum(n_exits)[:-1]]).astype(np.int64)
    next_half = np.full(len(code), _NEVER, dtype=np.int64)  # the lot's next exit's half-day
    has_next = np.ones(len(code), dtype=bool)
    has_next[(starts + n_exits - 1)[n_exits > 0]] = False
    next_half[has_next] = exit_half[np.flatnonzero(has_next) + 1]
    first_exit = np.full(len(ids), _NEVER, dtype=np.int64)
    first_exit[n_exits > 0] = exit_half[starts[n_exits > 0]]
    lot = np.concatenate([np.arange(len(ids)), code])
    first = np.concatenate([entry_half + 1, exit_half + 1])
    last = np.concatenate([first_exit, next_half])
    qty = np.concatenate([q0, np.where(empty_after, 0.0, held_after)])
    keep = (qty > 0) & (first <= last)
    # The lot holds nothing after its first exit that leaves it empty.
    out_half = np.full(len(ids), _NEVER, dtype=np.int64)
    emptied = np.flatnonzero(empty_after)
    if len(emptied):
        first_empty = pd.Series(exit_half[emptied]).groupby(code[emptied]).min()
        out_half[first_empty.index.to_numpy()] = first_empty.to_numpy()
    keep &= first <= out_half[lot]
    seg = np.lexsort((first[keep], lot[keep]))
    return _Lots(
        ids,
        entries["strategy"],
        entry_half,
        q0,
        entries["entry_price"].to_numpy(np.float64),
        out_half,
        lot[keep][seg],
        first[keep][seg],
        np.minimum(last[keep], out_half[lot[keep]])[seg],
        qty[keep][seg],
    )


@dataclass(frozen=True)
class DeployedGrid:
    """Deployed notional per (strategy, half-day) from New York day ``day_lo`` on:
    ``held`` at the start of each half-day (lots entered before it) and ``entered``
    during it (entry notional). Windows read their dates from it (``window``)."""

    day_lo: int
    held: np.ndarray
    entered: np.ndarray

    def covers(self, weeks: WeekWindows) -> bool:
        return len(weeks) == 0 or (
            int(weeks.window_start_day.min()) >= self.day_lo
            and int(weeks.end_day.max()) < self.day_lo + self.held.shape[1] // 2
        )

    def window(self, weeks: WeekWindows) -> np.ndarray:
        """(weeks, strategies, lookback + 1) deployed notional of each window's dates:
        the first from 18:00, the last until 18:00, whole dates between."""
        if not self.covers(weeks):
            raise ValueError("the deployed-notional grid does not cover these weeks' windows")
        h0, h1 = self.held[:, 0::2], self.held[:, 1::2]
        e0, e1 = self.entered[:, 0::2], self.entered[:, 1::2]
        whole, evening, day = h0 + e0 + e1, h1 + e1, h0 + e0
        out = np.empty((len(weeks), self.held.shape[0], weeks.n_dates))
        for i, first in enumerate(weeks.window_start_day - self.day_lo):
            last = first + weeks.n_dates - 1
            out[i] = whole[:, first : last + 1]
            out[i, :, 0] = evening[:, first]
            out[i, :, -1] = day[:, last]
        return out


def deployed_grid(frame: pd.DataFrame, weeks: WeekWindows, strategies: Sequence[str]) -> DeployedGrid:
    """Deployed notional on the half-day grid spanning every window of ``weeks``,
    from a positions frame (``core.lots``); rows of other strategies are ignored."""
    n_strat = len(strategies)
    day_lo = int(weeks.window_start_day.min()) if len(weeks) else 0
    n_days = int(weeks.end_day.max()) - day_lo + 1 if len(weeks) else 0
    width = 2 * n_days
    held = np.zeros(n_strat * width)
    entered = np.zeros(n_strat * width)
    if len(frame) and width:
        lots = _lots(frame)
        s = positions(lots.strategy, list(strategies))[1]
        lo, hi = 2 * day_lo, 2 * day_lo + width - 1
        # Held: each segment over the half-days of the grid it covers, in lot order.
        first, last = np.maximum(lots.first, lo), np.minimum(lots.last, hi)
        ok = (first <= last) & (s[lots.lot] >= 0)
        first, last, lot = first[ok], last[ok], lots.lot[ok]
        row, half = runs(first, last - first + 1)
        value = (lots.entry_price[lot] * lots.qty[ok])[row]
        held += np.bincount(s[lot][row] * width + (half - lo), weights=value, minlength=n_strat * width)
        inside = (lots.entry_half >= lo) & (lots.entry_half <= hi) & (s >= 0)
        entered += np.bincount(
            s[inside] * width + (lots.entry_half[inside] - lo),
            weights=(lots.entry_price * lots.entry_qty)[inside],
            minlength=n_strat * width,
        )
    return DeployedGrid(day_lo, held.reshape(n_strat, width), entered.reshape(n_strat, width))


def held_in(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """The positions of the lots held at some moment of ``[start, end)`` (both at
    18:00 New York): their entry rows and their exit records before ``end``, in
    canonical order. A lot entered at or after ``end``, or emptied before ``start``, is left out."""
    rows = canonical_order(frame)
    if len(rows) == 0:
        return rows
    lots = _lots(rows)
    first, last = half_day_index(pd.DatetimeIndex([start]))[0], half_day_index(pd.DatetimeIndex([end]))[0] - 1
    held = pd.Index(lots.lot_id[(lots.entry_half <= last) & (lots.out_half >= first)])
    keep = held.get_indexer(rows["lot_id"].to_numpy(dtype=object)) >= 0
    booked = rows["exit_timestamp"].notna().to_numpy()
    keep[booked] &= (rows["exit_timestamp"][booked] < end).to_numpy()
    return rows[keep].reset_index(drop=True)


def held_by_week(frame: pd.DataFrame, weeks: WeekWindows) -> pd.DataFrame:
    """The positions each week's notional needs: for every lot held at some moment
    of its window (entered before the window's end and not emptied before its
    start), the entry row and the exit records before the window's end.

    Adds a categorical ``partition_key``; rows are by week, then canonical order.
    """
    rows = canonical_order(frame)
    if len(rows) == 0 or len(weeks) == 0:
        out = rows.iloc[:0].copy()
        out.insert(0, "partition_key", pd.Categorical([], categories=list(weeks.keys)))
        return out
    lots = _lots(rows)
    # Weeks are sorted, so those holding a lot are one run [w_lo, w_hi); an exit record
    # belongs to those of its lot's weeks that end after it.
    w_lo = np.searchsorted(weeks.last_half_day, lots.entry_half, side="left")
    w_hi = np.searchsorted(weeks.first_half_day, lots.out_half, side="right")
    lot = pd.Index(lots.lot_id).get_indexer(rows["lot_id"].to_numpy(dtype=object))
    lo, hi = w_lo[lot], w_hi[lot]
    booked = rows["exit_timestamp"].notna().to_numpy()
    if booked.any():
        after = np.searchsorted(weeks.last_half_day, half_day_index(rows["exit_timestamp"][booked]), side="left")
        lo[booked] = np.maximum(lo[booked], after)
    row, week = runs(lo, np.maximum(hi - lo, 0))
    order = np.lexsort((row, week))
    out = rows.iloc[row[order]].reset_index(drop=True)
    out.insert(0, "partition_key", pd.Categorical.from_codes(week[order], categories=list(weeks.keys)))
    return out
