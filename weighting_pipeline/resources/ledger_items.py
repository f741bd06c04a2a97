"""Trade-ledger items (DynamoDB wire format) -> the typed closed-lots frame.

This is the one place ledger data is validated. A lot that cannot be used is
skipped with a named reason; skips are counted and the first few lot ids per
reason are kept, so the ``closed_lots`` metadata and its check can show them.
Numbers are parsed from DynamoDB's decimal strings straight to float64: the
trading system writes them as type S (``str(Decimal)``), and type N is read too.
Attributes the pipeline does not use (``remaining_qty``, ``entry_cost_basis``,
the lot-level ``realized_pnl``, ``exit_price``) are neither read nor checked.

Every skip also keeps the item's raw ``fully_closed_at``, so that
``skips_by_week`` can say which week's lookback window each skipped item
would have fallen in: a week's ledger check then shows that week's skips only,
whether the week ran alone or inside a backfill range.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from weighting_pipeline.core.calendar import WeekWindows, half_day_index
from weighting_pipeline.core.lots import LOT_COLUMNS, empty_lots

_HAS_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
EXAMPLES_PER_REASON = 5
QTY_TOLERANCE = 1e-9  # relative: exits must add up to the entry quantity
PROJECTED = (
    "lot_id", "strategy_name", "symbol", "entry_timestamp", "entry_qty",
    "entry_price", "is_open", "exit_records", "fully_closed_at",
)
# Aliased, so no attribute name can collide with a DynamoDB reserved word.
PROJECTION = ", ".join(f"#p{i}" for i in range(len(PROJECTED)))
PROJECTION_NAMES = {f"#p{i}": name for i, name in enumerate(PROJECTED)}


@dataclass
class ParseReport:
    """What happened to the items read: counts per skip reason, with examples.

    ``skips`` lists every skipped item as (reason, lot id, raw
    ``fully_closed_at`` or None), in the order met.
    """

    items: int = 0
    skipped: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    foreign_strategies: Counter = field(default_factory=Counter)
    skips: list[tuple[str, str, str | None]] = field(default_factory=list)

    def skip(self, reason: str, lot_id: str, closed: str | None = None) -> None:
        self.skipped[reason] += 1
        self.skips.append((reason, lot_id, closed))
        if len(self.examples[reason]) < EXAMPLES_PER_REASON:
            self.examples[reason].append(lot_id)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def merge(self, other: "ParseReport") -> None:
        self.items += other.items
        self.skipped.update(other.skipped)
        self.foreign_strategies.update(other.foreign_strategies)
        self.skips.extend(other.skips)
        for reason, ids in other.examples.items():
            room = EXAMPLES_PER_REASON - len(self.examples[reason])
            self.examples[reason].extend(ids[:room])


def _s(item: dict, name: str) -> str | None:
    value = item.get(name)
    return value.get("S") if isinstance(value, dict) else None


def _describe(value: object) -> str:
    """A short, safe rendering of a bad attribute for skip examples."""
    return "missing" if value is None else repr(value)[:40]


def _n(value: object) -> float | None:
    """A DynamoDB decimal as float64, or None if missing or not a finite decimal.

    The trading system stores numbers as strings (``str(Decimal)``: ``"3.217"``,
    ``"0E-8"``, ``"1.2E+3"``), so type S is the normal case; type N is accepted
    too. ``float`` reads the same grammar as the ``Decimal(...)`` the trading
    system parses them back with; NaN and infinities are refused.
    """
    if not isinstance(value, dict):
        return None
    text = value.get("S")
    if text is None:
        text = value.get("N")
    try:
        x = float(text)
    except (TypeError, ValueError):
        return None
    return x if x - x == 0.0 else None  # nan - nan and inf - inf are nan


def new_columns() -> dict[str, list]:
    """Empty column lists for ``parse_items`` to fill."""
    return {c: [] for c in LOT_COLUMNS}


def parse_items(items: list[dict], expected_stem: str, key: str, report: ParseReport, cols: dict[str, list] | None = None) -> dict[str, list]:
    """Validate wire items of one strategy's index partition, appending the
    usable ones to ``cols`` (new column lists if None), which it returns.

    ``expected_stem`` is the ledger name queried, ``key`` its baseline key.
    Call it once per Query page, so the page's item dicts can be freed.
    """
    if cols is None:
        cols = new_columns()
    for item in items:
        report.items += 1
        closed = _s(item, "fully_closed_at")
        lot_id = _s(item, "lot_id")
        if not lot_id:
            report.skip("lot_id missing or not a string", f"<item {report.items}: {_describe(item.get('lot_id'))}>", closed)
            continue
        name = _s(item, "strategy_name")
        if name is None:
            report.skip("strategy_name missing or not a string", lot_id, closed)
            continue
        if name != expected_stem:
            report.foreign_strategies[name] += 1
            report.skip("strategy_name differs from its index partition", lot_id, closed)
            continue
        is_open = item.get("is_open", {}).get("BOOL")
        if is_open is True:
            report.skip("is_open is true", lot_id, closed)
            continue
        if not closed:
            report.skip("missing fully_closed_at", lot_id, closed)
            continue
        if not _HAS_OFFSET.search(closed):
            report.skip("fully_closed_at has no UTC offset", lot_id, closed)
            continue
        qty = _n(item.get("entry_qty"))
        if qty is None:
            report.skip("entry_qty missing or not a finite decimal", lot_id, closed)
            continue
        price = _n(item.get("entry_price"))
        if price is None:
            report.skip("entry_price missing or not a finite decimal", lot_id, closed)
            continue
        if qty <= 0 or price <= 0:
            report.skip("entry_qty and entry_price must be finite and > 0", lot_id, closed)
            continue
        exits = item.get("exit_records", {}).get("L")
        if not exits:
            report.skip("exit_records missing or empty", lot_id, closed)
            continue
        records = [e.get("M") if isinstance(e, dict) else None for e in exits]
        if any(not isinstance(r, dict) for r in records):
            report.skip("an exit record is not a map", lot_id, closed)
            continue
        pnls = [_n(r.get("realized_pnl")) for r in records]
        if None in pnls:
            report.skip("an exit record has no finite realized_pnl", lot_id, closed)
            continue
        exit_qty = [_n(r.get("exit_qty")) for r in records]
        if any(q is None or q <= 0 for q in exit_qty):
            report.skip("an exit record has no finite exit_qty > 0", lot_id, closed)
            continue
        if abs(math.fsum(exit_qty) - qty) > QTY_TOLERANCE * qty:
            report.skip("exit quantities do not add up to entry_qty (partially closed)", lot_id, closed)
            continue
        cols["lot_id"].append(lot_id)
        cols["strategy"].append(key)
        cols["symbol"].append(_s(item, "symbol") or "")
        cols["entry_timestamp"].append(_s(item, "entry_timestamp"))
        cols["fully_closed_at"].append(closed)
        cols["entry_qty"].append(qty)
        cols["entry_price"].append(price)
        cols["realized_pnl"].append(math.fsum(pnls))
    return cols


def to_frame(cols: dict[str, list], report: ParseReport, now: pd.Timestamp) -> pd.DataFrame:
    """Column lists -> typed lots frame; bad timestamps and duplicates are skipped.

    ``now`` (tz-aware; the reader's clock) bounds close times: a lot closed
    in the future is a clock or data error, skipped and counted.
    """
    if not cols["lot_id"]:
        return empty_lots()
    frame = pd.DataFrame(cols)
    closed = pd.to_datetime(frame["fully_closed_at"], utc=True, format="ISO8601", errors="coerce")
    entry = pd.to_datetime(frame["entry_timestamp"], utc=True, format="ISO8601", errors="coerce")
    checks = [
        (closed.isna().to_numpy(), "fully_closed_at is not an ISO-8601 time"),
        (entry.isna().to_numpy(), "entry_timestamp missing or not an ISO-8601 time"),
        ((closed < entry).fillna(False).to_numpy(), "fully_closed_at is before entry_timestamp"),
        ((closed > now).fillna(False).to_numpy(), "fully_closed_at is in the future"),
    ]
    bad = np.zeros(len(frame), dtype=bool)
    for mask, reason in checks:
        mask = mask & ~bad
        for lot_id, raw in zip(frame.loc[mask, "lot_id"], frame.loc[mask, "fully_closed_at"]):
            report.skip(reason, lot_id, raw)
        bad |= mask
    frame["fully_closed_at"] = closed.dt.as_unit("ns")
    frame["entry_timestamp"] = entry.dt.as_unit("ns")
    frame = frame[~bad]
    dupes = frame["lot_id"].duplicated(keep="first").to_numpy()
    for lot_id, when in zip(frame.loc[dupes, "lot_id"], frame.loc[dupes, "fully_closed_at"]):
        report.skip("duplicate lot_id (kept the first)", lot_id, when.isoformat())
    frame = frame[~dupes]
    return frame.astype(LOT_COLUMNS).reset_index(drop=True)



@dataclass(frozen=True)
class WeekSkips:
    """The skipped ledger items that belong to one week: counts per reason and
    up to ``EXAMPLES_PER_REASON`` lot ids per reason (by close time, then lot id)."""

    counts: Counter
    examples: dict[str, list[str]]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def skips_by_week(report: ParseReport, weeks: WeekWindows) -> list[WeekSkips]:
    """The skipped items of ``report`` that belong to each week, in ``weeks`` order.

    An item belongs to a week when its ``fully_closed_at`` lies inside that
    week's lookback window, as a usable lot would. An item whose close time
    is missing or unreadable cannot be placed, so it counts against every
    week of the read.
    """
    if not report.skips:
        return [WeekSkips(Counter(), {}) for _ in range(len(weeks))]
    reasons = sorted({r for r, _, _ in report.skips})
    code = np.array([reasons.index(r) for r, _, _ in report.skips])
    lot_ids = np.array([lot for _, lot, _ in report.skips], dtype=object)
    raw = [c if isinstance(c, str) and _HAS_OFFSET.search(c) else None for _, _, c in report.skips]
    when = pd.to_datetime(pd.Series(raw, dtype="object"), utc=True, format="ISO8601", errors="coerce")
    placed = when.notna().to_numpy()
    half = np.full(len(raw), np.iinfo(np.int64).max, dtype=np.int64)  # unplaceable sort last
    if placed.any():
        half[placed] = half_day_index(pd.DatetimeIndex(when[placed]))
    order = np.lexsort((lot_ids.astype(str), half))
    code, lot_ids, half, placed = code[order], lot_ids[order], half[order], placed[order]
    n_placed = int(placed.sum())
    lo = np.searchsorted(half[:n_placed], weeks.first_half_day, side="left")
    hi = np.searchsorted(half[:n_placed], weeks.last_half_day, side="right")
    unplaced = np.arange(n_placed, len(code))
    out = []
    for a, b in zip(lo, hi):
        rows = np.concatenate([np.arange(a, b), unplaced])
        counts = Counter({reasons[c]: int(n) for c, n in enumerate(np.bincount(code[rows], minlength=len(reasons))) if n})
        examples = {reasons[c]: list(lot_ids[rows[code[rows] == c][:EXAMPLES_PER_REASON]]) for c in np.unique(code[rows])}
        out.append(WeekSkips(counts, examples))
    return out
