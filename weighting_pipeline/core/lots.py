"""The closed-lots frame: the contract between the ledger reader and the math.

One row per fully closed lot. Money is float64 in the account currency;
times are tz-aware UTC; ``strategy`` is the baseline key (``beam_chain.clj``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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


def empty_lots() -> pd.DataFrame:
    """A zero-row frame with the lot columns and dtypes."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in LOT_COLUMNS.items()})


def canonical_order(lots: pd.DataFrame) -> pd.DataFrame:
    """Sort lots by close time then lot id, so float sums are reproducible
    whatever order the ledger returned them in. Lots already in that order (as the
    ledger reader returns them) are only checked, not sorted again: same result."""
    if _is_canonical(lots):
        return lots.reset_index(drop=True)
    return lots.sort_values(["fully_closed_at", "lot_id"], kind="stable", ignore_index=True)


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
    """Boolean mask of lots with ``start <= fully_closed_at < end``."""
    closed = lots["fully_closed_at"]
    return ((closed >= start) & (closed < end)).to_numpy(dtype=bool)


def lots_by_week(lots: pd.DataFrame, weeks) -> pd.DataFrame:
    """Each lot once per week whose lookback window contains its close time.

    ``weeks`` is a ``core.calendar.WeekWindows``. Adds a categorical
    ``partition_key`` column; row order is by week, then canonical lot order.
    Windows overlap, so in a range a lot appears in about lookback/7 weeks.
    """
    from weighting_pipeline.core.calendar import half_day_index

    lots = canonical_order(lots)
    half = half_day_index(lots["fully_closed_at"]) if len(lots) else np.empty(0, np.int64)
    # Canonical order sorts by close time, so each window is one contiguous slice.
    lo = np.searchsorted(half, weeks.first_half_day, side="left")
    hi = np.searchsorted(half, weeks.last_half_day, side="right")
    counts = hi - lo
    total = int(counts.sum())
    offsets = np.repeat(lo - (np.cumsum(counts) - counts), counts)
    rows = np.arange(total) + offsets
    out = lots.iloc[rows].reset_index(drop=True)
    week = np.repeat(np.arange(len(weeks)), counts)
    out.insert(0, "partition_key", pd.Categorical.from_codes(week, categories=list(weeks.keys)))
    return out


def distinct_lots(weekly: pd.DataFrame) -> pd.DataFrame:
    """The lots of a ``lots_by_week`` frame, each once, in canonical order.

    Windows overlap, so a range holds each lot in several weeks; the returns
    kernel wants each once, in the order that makes float sums the same as in
    a single-week run.
    """
    return canonical_order(weekly.drop(columns="partition_key").drop_duplicates("lot_id"))
