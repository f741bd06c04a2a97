"""Trade-ledger items (DynamoDB wire format) -> the typed closed-lots and exit-records frames.

This is the one place ledger data is validated. A lot that cannot be used is
skipped with a named reason; skips are counted and the first few lot ids per
reason are kept, so the ``closed_lots`` metadata and its check can show them.
Numbers are parsed from DynamoDB's decimal strings straight to float64: the
trading system writes them as type S (``str(Decimal)``), and type N is read too.
Attributes the pipeline does not use (``remaining_qty``, ``entry_cost_basis``,
the lot-level ``realized_pnl``, ``exit_price``) are neither read nor checked.
Besides the closed lots and the exit records, every usable lot gives one entry
row of the *positions* frame (``core.lots``; ``return_basis=deployed``), open
lots without exits included.

Every skip also keeps the item's raw ``fully_closed_at`` (for a lot still
open, its last or offending exit's ``exit_timestamp``), so that
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
from weighting_pipeline.core.lots import ENTRY_SEQ, EXIT_COLUMNS, LOT_COLUMNS, QTY_TOLERANCE, empty_exits, empty_lots

_HAS_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
EXAMPLES_PER_REASON = 5
PROJECTED = (
    "lot_id",
    "strategy_name",
    "symbol",
    "entry_timestamp",
    "entry_qty",
    "entry_price",
    "is_open",
    "exit_records",
    "fully_closed_at",
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

    def merge(self, other: ParseReport) -> None:
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


@dataclass
class Columns:
    """Column lists ``parse_items`` fills: closed lots (``core.lots.LOT_COLUMNS``),
    the exit records of every usable lot, open ones too (``EXIT_COLUMNS``), and
    one entry row per usable lot (``_ENTRY_COLUMNS``), times still raw strings.
    ``item`` numbers the item each row came from, so duplicates can be told apart."""

    lots: dict[str, list] = field(default_factory=lambda: {c: [] for c in (*LOT_COLUMNS, "item")})
    exits: dict[str, list] = field(default_factory=lambda: {c: [] for c in (*EXIT_COLUMNS, "item")})
    entries: dict[str, list] = field(default_factory=lambda: {c: [] for c in (*_ENTRY_COLUMNS, "item")})


_ENTRY_COLUMNS = ("lot_id", "strategy", "symbol", "entry_timestamp", "fully_closed_at", "entry_qty", "entry_price")


def _add_entry(
    entries: dict[str, list],
    lot_id: str,
    key: str,
    symbol: str,
    entry: str | None,
    closed: str | None,
    qty: float,
    price: float,
    item: int,
) -> None:
    for column, value in zip((*_ENTRY_COLUMNS, "item"), (lot_id, key, symbol, entry, closed, qty, price, item)):
        entries[column].append(value)


def new_columns() -> Columns:
    """Empty column lists for ``parse_items`` to fill."""
    return Columns()


def _last_exit_time(item: dict) -> str | None:
    """The raw ``exit_timestamp`` of an item's last exit record, to place a skip in time."""
    exits = item.get("exit_records", {}).get("L") if isinstance(item.get("exit_records"), dict) else None
    last = exits[-1].get("M") if exits and isinstance(exits[-1], dict) else None
    return _s(last, "exit_timestamp") if isinstance(last, dict) else None


def parse_items(
    items: list[dict],
    expected_stem: str,
    key: str,
    report: ParseReport,
    cols: Columns | None = None,
    open_lots: bool = False,
) -> Columns:
    """Validate wire items of one strategy's index partition, appending the
    usable ones to ``cols`` (new column lists if None), which it returns.

    ``expected_stem`` is the ledger name queried, ``key`` its baseline key.
    ``open_lots``: the items come from the ``OPEN#`` sort keys (lots not fully
    closed), which add exit records only; an open lot without exits is not
    used for P&L and not a skip; it gives only its entry row. Call it once per
    Query page, so the page's item dicts can be freed.
    """
    if cols is None:
        cols = new_columns()
    lots, out, entries = cols.lots, cols.exits, cols.entries
    for item in items:
        report.items += 1
        closed = _s(item, "fully_closed_at")
        place = _last_exit_time(item) if open_lots else closed  # where a skip is counted in time
        lot_id = _s(item, "lot_id")
        if not lot_id:
            report.skip(
                "lot_id missing or not a string", f"<item {report.items}: {_describe(item.get('lot_id'))}>", place
            )
            continue
        name = _s(item, "strategy_name")
        if name is None:
            report.skip("strategy_name missing or not a string", lot_id, place)
            continue
        if name != expected_stem:
            report.foreign_strategies[name] += 1
            report.skip("strategy_name differs from its index partition", lot_id, place)
            continue
        is_open = item.get("is_open", {}).get("BOOL")
        if open_lots:
            if is_open is not True:
                report.skip("is_open is not true under an OPEN# sort key", lot_id, place)
                continue
            closed = None
        else:
            if is_open is True:
                report.skip("is_open is true", lot_id, place)
                continue
            if not closed:
                report.skip("missing fully_closed_at", lot_id, place)
                continue
            if not _HAS_OFFSET.search(closed):
                report.skip("fully_closed_at has no UTC offset", lot_id, place)
                continue
        qty = _n(item.get("entry_qty"))
        if qty is None:
            report.skip("entry_qty missing or not a finite decimal", lot_id, place)
            continue
        price = _n(item.get("entry_price"))
        if price is None:
            report.skip("entry_price missing or not a finite decimal", lot_id, place)
            continue
        if qty <= 0 or price <= 0:
            report.skip("entry_qty and entry_price must be finite and > 0", lot_id, place)
            continue
        exits = item.get("exit_records", {}).get("L")
        symbol, entry = _s(item, "symbol") or "", _s(item, "entry_timestamp")
        if not exits:
            if not open_lots:
                report.skip("exit_records missing or empty", lot_id, place)
            elif exits is not None:  # an open lot not sold from yet: held, nothing realised
                _add_entry(entries, lot_id, key, symbol, entry, None, qty, price, report.items)
            else:
                report.skip("exit_records missing or not a list", lot_id, place)
            continue
        records = [e.get("M") if isinstance(e, dict) else None for e in exits]
        if any(not isinstance(r, dict) for r in records):
            report.skip("an exit record is not a map", lot_id, place)
            continue
        pnls = [_n(r.get("realized_pnl")) for r in records]
        if None in pnls:
            report.skip("an exit record has no finite realized_pnl", lot_id, place)
            continue
        exit_qty = [_n(r.get("exit_qty")) for r in records]
        if any(q is None or q <= 0 for q in exit_qty):
            report.skip("an exit record has no finite exit_qty > 0", lot_id, place)
            continue
        times = [_s(r, "exit_timestamp") for r in records]
        if any(t is None or not _HAS_OFFSET.search(t) for t in times):
            report.skip("an exit record has no exit_timestamp with a UTC offset", lot_id, place)
            continue
        sold = math.fsum(exit_qty)
        if open_lots:
            if sold > qty * (1 + QTY_TOLERANCE):
                report.skip("exit quantities exceed entry_qty", lot_id, place)
                continue
        elif abs(sold - qty) > QTY_TOLERANCE * qty:
            report.skip("exit quantities do not add up to entry_qty (partially closed)", lot_id, place)
            continue
        _add_entry(entries, lot_id, key, symbol, entry, closed, qty, price, report.items)
        n = len(records)
        out["lot_id"].extend([lot_id] * n)
        out["strategy"].extend([key] * n)
        out["symbol"].extend([symbol] * n)
        out["entry_timestamp"].extend([entry] * n)
        out["fully_closed_at"].extend([closed] * n)
        out["exit_timestamp"].extend(times)
        out["exit_seq"].extend(range(n))
        out["entry_qty"].extend([qty] * n)
        out["entry_price"].extend([price] * n)
        out["exit_qty"].extend(exit_qty)
        out["realized_pnl"].extend(pnls)
        out["item"].extend([report.items] * n)
        if open_lots:
            continue
        lots["lot_id"].append(lot_id)
        lots["strategy"].append(key)
        lots["symbol"].append(symbol)
        lots["entry_timestamp"].append(entry)
        lots["fully_closed_at"].append(closed)
        lots["entry_qty"].append(qty)
        lots["entry_price"].append(price)
        lots["realized_pnl"].append(math.fsum(pnls))
        lots["item"].append(report.items)
    return cols


def _times(values) -> pd.Series:
    return pd.to_datetime(pd.Series(values, dtype="object"), utc=True, format="ISO8601", errors="coerce").dt.as_unit(
        "ns"
    )


def to_frame(cols: Columns, report: ParseReport, now: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Column lists -> typed ``(lots, exits)`` frames (``to_frames`` without positions)."""
    lots, exits, _ = to_frames(cols, report, now, positions=False)
    return lots, exits


def to_frames(
    cols: Columns, report: ParseReport, now: pd.Timestamp, positions: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Column lists -> typed ``(lots, exits, positions)`` frames; a lot with a bad
    timestamp, or a copy of a lot id already seen, is skipped with all its rows.

    The third frame holds every usable lot's entry row and exit records
    (``core.lots``), unfiltered in time (empty unless ``positions``). ``now``
    (tz-aware; the reader's clock) bounds times: a lot entered or closed, or an
    exit recorded, in the future is a clock or data error, skipped and counted.
    """
    if not cols.entries["lot_id"]:
        return empty_lots(), empty_exits(), empty_exits()
    lots, exits, entries = pd.DataFrame(cols.lots), pd.DataFrame(cols.exits), pd.DataFrame(cols.entries)
    closed, entry = _times(lots["fully_closed_at"]), _times(lots["entry_timestamp"])
    x_entry, x_time, x_closed = (
        _times(exits["entry_timestamp"]),
        _times(exits["exit_timestamp"]),
        _times(exits["fully_closed_at"]),
    )
    e_entry = _times(entries["entry_timestamp"])
    checks = [  # (rows of lots, exits or entries, bad mask, reason), in the order a lot is judged
        ("lots", closed.isna(), "fully_closed_at is not an ISO-8601 time"),
        ("exits", x_entry.isna(), "entry_timestamp missing or not an ISO-8601 time"),
        ("lots", (closed < entry).fillna(False), "fully_closed_at is before entry_timestamp"),
        ("lots", (closed > now).fillna(False), "fully_closed_at is in the future"),
        ("exits", x_time.isna(), "an exit record's exit_timestamp is not an ISO-8601 time"),
        ("exits", (x_time < x_entry).fillna(False), "an exit record is before entry_timestamp"),
        ("exits", (x_time > x_closed).fillna(False), "an exit record is after fully_closed_at"),
        ("exits", (x_time > now).fillna(False), "an exit record is in the future"),
        # Only open lots without exits meet these first: the checks above judge the others.
        ("entries", e_entry.isna(), "entry_timestamp missing or not an ISO-8601 time"),
        ("entries", (e_entry > now).fillna(False), "entry_timestamp is in the future"),
    ]
    # A skip is placed in time by the raw close, or for an open lot by the exit's own time (or its entry's).
    place = {
        "lots": lots["fully_closed_at"],
        "exits": exits["fully_closed_at"].fillna(exits["exit_timestamp"]),
        "entries": entries["fully_closed_at"].fillna(entries["entry_timestamp"]),
    }
    frames = {"lots": lots, "exits": exits, "entries": entries}
    bad: set[int] = set()  # items skipped
    for which, mask, reason in checks:
        m = mask.to_numpy(dtype=bool)
        rows = frames[which].loc[m]
        for item, lot_id, raw in zip(rows["item"], rows["lot_id"], place[which][m]):
            if item not in bad:
                bad.add(item)
                report.skip(reason, lot_id, raw)
    # A lot id met again in a later item (another page, or both OPEN# and CLOSED#): keep the first.
    # Every usable item has one entry row, in item order.
    again = entries.loc[entries["lot_id"].duplicated().to_numpy() & ~entries["item"].isin(bad).to_numpy()]
    for item, lot_id, raw in zip(again["item"], again["lot_id"], place["entries"][again.index]):
        bad.add(item)
        report.skip("duplicate lot_id (kept the first)", lot_id, raw)
    lots = lots.assign(fully_closed_at=closed, entry_timestamp=entry)[~lots["item"].isin(bad).to_numpy()]
    exits = exits.assign(entry_timestamp=x_entry, exit_timestamp=x_time, fully_closed_at=x_closed)[
        ~exits["item"].isin(bad).to_numpy()
    ]
    entries = entries.assign(entry_timestamp=e_entry, fully_closed_at=_times(entries["fully_closed_at"]))[
        ~entries["item"].isin(bad).to_numpy()
    ]
    exits = exits.drop(columns="item").astype(EXIT_COLUMNS).reset_index(drop=True)
    lots = lots.drop(columns="item").astype(LOT_COLUMNS).reset_index(drop=True)
    if not positions:
        return lots, exits, empty_exits()
    entry_rows = (
        entries.drop(columns="item")
        .assign(
            exit_timestamp=pd.Series(pd.NaT, index=entries.index, dtype="datetime64[ns, UTC]"),
            exit_seq=ENTRY_SEQ,
            exit_qty=0.0,
            realized_pnl=0.0,
        )[list(EXIT_COLUMNS)]
        .astype(EXIT_COLUMNS)
    )
    return (
        lots,
        exits,
        pd.concat([exits, entry_rows], ignore_index=True).astype(EXIT_COLUMNS),  # categories differ: re-typed
    )


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
        counts = Counter(
            {reasons[c]: int(n) for c, n in enumerate(np.bincount(code[rows], minlength=len(reasons))) if n}
        )
        examples = {
            reasons[c]: list(lot_ids[rows[code[rows] == c][:EXAMPLES_PER_REASON]]) for c in np.unique(code[rows])
        }
        out.append(WeekSkips(counts, examples))
    return out
