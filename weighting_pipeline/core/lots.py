"""The frames the ledger reader hands the math: closed lots and exit records.

Each row *books* realised P&L on a date, by the rule ``pnl_date``:

* ``close`` (the original design): one row per fully closed lot
  (``LOT_COLUMNS``), booking the lot's whole ``realized_pnl`` at its
  ``fully_closed_at``;
* ``exit``: one row per exit record (``EXIT_COLUMNS``), of closed and open
  lots alike, booking that exit's ``realized_pnl`` at its ``exit_timestamp``.

Under ``return_basis=deployed`` (``core.deployed``) the frame is a *positions*
frame: the exit records of the lots held in a window plus one *entry row* per
lot (``exit_seq == ENTRY_SEQ``, no ``exit_timestamp``, ``exit_qty`` and
``realized_pnl`` 0). Entry rows book nothing: ``booked_rows`` drops them.

Money is float64 in the account currency; times are tz-aware UTC;
``strategy`` is the baseline key (``beam_chain.clj``). The functions below
take either frame and tell them apart by the ``exit_timestamp`` column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from weighting_pipeline.core.grid import runs

LOT_COLUMNS: dict[str, str] = {
    "lot_id": "string",
    "strategy": "category",
    "symbol": "string",
    "entry_timestamp": "datetime64[ns, UTC]",
    "fully_closed_at": "datetime64[ns, UTC]",
    "entry_qty": "float64",
    "entry_price": "float64",
    "realized_pnl": "float64",
}


# One row per exit record. ``realized_pnl`` is that exit's (``(exit_price -
# entry_price) * exit_qty``, gross of fees) and ``exit_qty`` its quantity;
# ``entry_qty`` and ``entry_price`` are its lot's; ``exit_seq`` is the record's
# position in the lot's ``exit_records`` (``ENTRY_SEQ`` on an entry row);
# ``fully_closed_at`` is NaT while the lot is open (at read time).
EXIT_COLUMNS: dict[str, str] = {
    "lot_id": "string",
    "strategy": "category",
    "symbol": "string",
    "entry_timestamp": "datetime64[ns, UTC]",
    "fully_closed_at": "datetime64[ns, UTC]",
    "exit_timestamp": "datetime64[ns, UTC]",
    "exit_seq": "int32",
    "entry_qty": "float64",
    "entry_price": "float64",
    "exit_qty": "float64",
    "realized_pnl": "float64",
}
PNL_DATES = ("close", "exit")
# Relative to entry_qty: exits that add up to it within this close the lot (the reader),
# and a remainder below it is no holding (the deployed notional).
QTY_TOLERANCE = 1e-9
ENTRY_SEQ = -1  # exit_seq of a positions frame's entry rows


def booked_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows that book P&L: ``frame`` without a positions frame's entry rows."""
    if not is_exits(frame):
        return frame
    entry = (frame["exit_seq"] == ENTRY_SEQ).to_numpy()
    return frame[~entry].reset_index(drop=True) if entry.any() else frame


def empty_exits() -> pd.DataFrame:
    """A zero-row frame with the exit-record columns and dtypes."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in EXIT_COLUMNS.items()})


def is_exits(frame: pd.DataFrame) -> bool:
    """Whether ``frame`` holds exit records (``pnl_date=exit``) rather than closed lots."""
    return "exit_timestamp" in frame.columns


def pnl_date_of(frame: pd.DataFrame) -> str:
    """The ``pnl_date`` rule a bookings frame follows: ``exit`` or ``close``."""
    return "exit" if is_exits(frame) else "close"


def booked_at(frame: pd.DataFrame) -> pd.Series:
    """When each row's ``realized_pnl`` is booked: its exit time, or its lot's close."""
    return frame["exit_timestamp"] if is_exits(frame) else frame["fully_closed_at"]


def _row_key(frame: pd.DataFrame) -> list[str]:
    return ["lot_id", "exit_seq"] if is_exits(frame) else ["lot_id"]


def empty_lots() -> pd.DataFrame:
    """A zero-row frame with the lot columns and dtypes."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in LOT_COLUMNS.items()})


def canonical_order(lots: pd.DataFrame) -> pd.DataFrame:
    """Sort rows by booking time, then lot id (then exit position), so float sums
    are reproducible whatever order the ledger returned them in. Closed lots
    already in that order (as the ledger reader returns them) are only checked,
    not sorted again: same result."""
    if not is_exits(lots) and _is_canonical(lots):
        return lots.reset_index(drop=True)
    return lots.sort_values(
        ["exit_timestamp" if is_exits(lots) else "fully_closed_at", *_row_key(lots)], kind="stable", ignore_index=True
    )


def _is_canonical(lots: pd.DataFrame) -> bool:
    if len(lots) < 2:
        return True
    t = pd.DatetimeIndex(lots["fully_closed_at"]).asi8
    if not (t[1:] >= t[:-1]).all():
        return False
    tie = np.flatnonzero(t[1:] == t[:-1])
    ids = lots["lot_id"].to_numpy(dtype=object)
    return all(ids[i] <= ids[i + 1] for i in tie)


def in_window(lots: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
    """Boolean mask of rows booked inside ``[start, end)`` (``booked_at``)."""
    when = booked_at(lots)
    return ((when >= start) & (when < end)).to_numpy(dtype=bool)


def lots_by_week(lots: pd.DataFrame, weeks) -> pd.DataFrame:
    """Each row once per week whose lookback window contains its booking time.

    ``weeks`` is a ``core.calendar.WeekWindows``. Adds a categorical
    ``partition_key`` column; row order is by week, then canonical lot order.
    Windows overlap, so in a range a lot appears in about lookback/7 weeks.
    """
    from weighting_pipeline.core.calendar import half_day_index

    lots = canonical_order(lots)
    half = half_day_index(booked_at(lots)) if len(lots) else np.empty(0, np.int64)
    # Canonical order sorts by booking time, so each window is one contiguous slice.
    lo = np.searchsorted(half, weeks.first_half_day, side="left")
    hi = np.searchsorted(half, weeks.last_half_day, side="right")
    week, rows = runs(lo, hi - lo)
    out = lots.iloc[rows].reset_index(drop=True)
    out.insert(0, "partition_key", pd.Categorical.from_codes(week, categories=list(weeks.keys)))
    return out


def distinct_lots(weekly: pd.DataFrame) -> pd.DataFrame:
    """The rows of a ``lots_by_week`` frame, each once, in canonical order.

    Windows overlap, so a range holds each row in several weeks; the returns
    kernel wants each once, in the order that makes float sums the same as in
    a single-week run.
    """
    return canonical_order(weekly.drop(columns="partition_key").drop_duplicates(_row_key(weekly)))


def open_lot_exits(weekly_exits: pd.DataFrame, weeks, strategies: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What ``pnl_date=close`` leaves out of each week: ``(count, pnl)``, both
    week x strategy, over the lots still open at the week's end (not fully
    closed before it) that had an exit inside its lookback window: how many
    such lots, and the sum of those exits' ``realized_pnl`` (account currency).

    ``weekly_exits`` is ``lots_by_week`` of an exit-records frame. Point in
    time: a lot that closed after the week's end counts as open in it.
    """
    index, columns = pd.Index(list(weeks.keys), name="partition_key"), pd.Index(strategies, name="strategy")
    week = weekly_exits["partition_key"].cat.codes.to_numpy()
    end = weeks.ends[week] if len(week) else pd.DatetimeIndex([], tz="UTC")
    closed = pd.DatetimeIndex(weekly_exits["fully_closed_at"])
    rows = weekly_exits.loc[(closed.isna() | (closed >= end))]
    grouped = rows.groupby(["partition_key", "strategy"], observed=False)
    count = (
        grouped["lot_id"]
        .nunique()
        .unstack("strategy")
        .reindex(index=index, columns=columns, fill_value=0)
        .fillna(0)
        .astype(int)
    )
    pnl = (
        grouped["realized_pnl"]
        .sum()
        .unstack("strategy")
        .reindex(index=index, columns=columns, fill_value=0.0)
        .fillna(0.0)
    )
    return count, pnl
