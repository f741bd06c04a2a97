"""Daily returns marked to market from the trading system's own daily bars (``RETURN_BASIS=market``).

Every lot held at any moment counts (closed, open, partially exited), its held
quantity rebuilt from its entry and exit records. For strategy ``s`` and NYSE
session ``d`` (closes ``c``, in the bars' currency):

    P&L_d = sum over lots held from d-1's close into d of  q_in * (c_d - c_{d-1})
          + sum over lots entered on d of                  E * (c_d - p_entry)
          + sum over exits on d of                         x * (p_exit - c_d)
    V_d   = sum over lots held from d-1's close of          q_in * c_{d-1}
          + sum over lots entered on d of                  E * p_entry
    r_d   = P&L_d / V_d   (no return where V_d = 0)

``q_in`` is what a lot holds entering ``d`` (its entry quantity less its exits in
earlier sessions); so a position held through ``d`` returns exactly
``c_d / c_{d-1} - 1``, a lot entered on ``d`` earns from its fill to the close, and
an exit on ``d`` earns from the previous close (or, entered the same session,
from its fill) to its fill: the trading system's formula, written as the three
sums above. A fill belongs to the first session whose 16:00 New York close is
at or after it. An exit's price is ``entry_price + realized_pnl / exit_qty``
(the ledger's ``realized_pnl`` is ``(exit_price - entry_price) * exit_qty``).

**Splits and dividends.** The bars are rewritten retroactively when a split or
dividend adjusts history; fills in the ledger are not. Each fill is brought to
the bars' scale at its own session: ``k = p_fill / c_session``; if ``k`` is
within ``[1 / 1.75, 1.75]`` the fill is taken as it is (a dividend moves history
by a few percent; that residue shows on the fill's session only), otherwise
``k`` is snapped to the nearest whole split ratio ``n`` or ``1 / n``
(``2 <= n <= 50``, within 12.5 %) and the fill becomes ``p / k``; quantities are
scaled by the entry fill's ``k`` (so ``qty * price``, the money, is unchanged).
A fill far from any ratio is an error naming the lot. Returns are ratios of
closes, so a split inside a held period changes nothing else.

Sums run over rows in ``lot_id`` order, each lot's quantities computed from its
own records: a session's cell depends only on the lots held in it, so a week
alone and a range give the same bits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from weighting_pipeline.core.calendar import TIMEZONE, WeekWindows
from weighting_pipeline.core.grid import positions, runs
from weighting_pipeline.core.lots import ENTRY_SEQ, QTY_TOLERANCE, canonical_order
from weighting_pipeline.core.trading_days import session_mask, window_trading_days

if TYPE_CHECKING:  # returns imports this module
    from weighting_pipeline.core.returns import DailyReturns

_EPOCH = np.datetime64("1970-01-01", "D")
_NS_PER_DAY = 86_400 * 10**9
CLOSE_HOUR = 16
NO_SPLIT = 1.75  # a fill within [1/NO_SPLIT, NO_SPLIT] of its session's close is on the bars' scale
SPLIT_TOLERANCE = 0.125
MAX_SPLIT = 50


class MarketDataError(ValueError):
    """The bars cannot mark a position: a symbol without bars, a session missing inside a
    held period, or a fill that no split reconciles with its session's close."""


def bars_symbol(ledger_symbol: str) -> str:
    """The symbol of a ledger lot as trading's bars store names it: ``EQUITIES::X//USD`` -> ``X``."""
    symbol = str(ledger_symbol).strip().upper()
    if symbol.startswith("EQUITIES::"):
        symbol = symbol[len("EQUITIES::") :]
    if symbol.endswith("//USD"):
        symbol = symbol[: -len("//USD")]
    return symbol


def bars_key(symbol: str) -> str:
    """The S3 key of a symbol's daily bars: ``<SYMBOL>/daily.parquet``, a ``/`` written ``_`` (``BRK/B`` -> ``BRK_B``)."""
    return f"{bars_symbol(symbol).replace('/', '_')}/daily.parquet"


@dataclass(frozen=True)
class Bars:
    """Daily closes on NYSE sessions: ``days`` (New York day numbers of the sessions,
    sorted), ``symbols`` (bars' symbols) and ``closes`` (sessions x symbols, NaN where a
    symbol's file has no bar for the session)."""

    days: np.ndarray
    symbols: tuple[str, ...]
    closes: np.ndarray

    @classmethod
    def from_frames(cls, frames: Mapping[str, pd.DataFrame], first_day: int, last_day: int) -> Bars:
        """Bars of ``first_day .. last_day`` (day numbers) from each symbol's ``daily.parquet``
        frame (``timestamp`` UTC, ``close``). A bar's session is the UTC date of its timestamp,
        as trading's ``MarketDataStore.append_bars`` keys its bars: Alpaca stamps a daily bar
        at midnight New York (04:00 or 05:00 UTC), the session's own date either way."""
        days = first_day + np.flatnonzero(session_mask(first_day, last_day))
        symbols = tuple(frames)
        closes = np.full((len(days), len(symbols)), np.nan)
        for j, symbol in enumerate(symbols):
            frame = frames[symbol]
            stamp = pd.DatetimeIndex(pd.to_datetime(frame["timestamp"], utc=True)).tz_localize(None)
            day = (stamp.to_numpy().astype("datetime64[D]") - _EPOCH).astype(np.int64)
            at = np.searchsorted(days, day)
            ok = (at < len(days)) & (days[np.minimum(at, len(days) - 1)] == day)
            closes[at[ok], j] = frame["close"].to_numpy(np.float64)[ok]
        return cls(days, symbols, closes)

    def day_text(self, i: int) -> str:
        return str(_EPOCH + np.timedelta64(int(self.days[i]), "D"))


def fill_session(times: pd.Series, days: np.ndarray) -> np.ndarray:
    """Index into ``days`` of the session each fill belongs to: the first whose 16:00 New
    York close is at or after it (``len(days)`` past the last)."""
    local = pd.DatetimeIndex(times).tz_convert(TIMEZONE).tz_localize(None).as_unit("ns").asi8
    day = np.floor_divide(local, _NS_PER_DAY)
    after_close = (local - day * _NS_PER_DAY) > CLOSE_HOUR * 3_600 * 10**9
    return np.searchsorted(days, day + after_close, side="left")


def _scale(price: np.ndarray, close: np.ndarray, lot_ids: np.ndarray, what: str) -> np.ndarray:
    """Each fill's split factor ``k`` (see the module docstring)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = price / close
    k = np.ones(len(price))
    far = np.isfinite(ratio) & ~((ratio >= 1 / NO_SPLIT) & (ratio <= NO_SPLIT))  # a missing close is named later
    if far.any():
        r = ratio[far]
        n = np.where(r >= 1, np.rint(r), 1 / np.maximum(np.rint(1 / r), 1))
        ok = (np.abs(r / n - 1) <= SPLIT_TOLERANCE) & (np.maximum(n, 1 / n) <= MAX_SPLIT)
        if not ok.all():
            bad = np.flatnonzero(far)[~ok][0]
            raise MarketDataError(
                f"the {what} price {price[bad]:g} of lot {lot_ids[bad]} is {ratio[bad]:.3g} times its session's "
                f"close {close[bad]:g}: no split ratio reconciles them"
            )
        k[far] = n
    return k


@dataclass(frozen=True)
class MarketDaily:
    """Per (strategy, session) mark-to-market P&L and value at work (``pnl``, ``value``:
    strategies x sessions of ``days``), and the lots behind them."""

    strategies: tuple[str, ...]
    days: np.ndarray
    pnl: np.ndarray
    value: np.ndarray
    lot_strategy: np.ndarray  # per lot, into strategies
    lot_first: np.ndarray  # first session index the lot is held in (its entry session)
    lot_last: np.ndarray  # last session index it is held in (len(days) - 1 if still held)


def market_daily(
    rows: pd.DataFrame, bars: Bars, strategies: Sequence[str], sessions: np.ndarray | None = None
) -> MarketDaily:
    """P&L and value at work per (strategy, session) of ``bars`` from a positions frame
    (``core.lots``: entry rows and exit records). ``sessions``: the session indices that
    must be marked (default all); a lot held in one of them whose symbol lacks a close
    there, or the session before, is a ``MarketDataError`` naming both."""
    strategies = list(strategies)
    n_s, n_d = len(strategies), len(bars.days)
    rows = canonical_order(rows)
    entries = rows[(rows["exit_seq"] == ENTRY_SEQ).to_numpy()].sort_values("lot_id", kind="stable")
    exits = rows[(rows["exit_seq"] != ENTRY_SEQ).to_numpy()]
    strategy = positions(entries["strategy"], strategies)[1]
    keep = strategy >= 0
    entries, strategy = entries[keep], strategy[keep]
    lot_ids = entries["lot_id"].to_numpy(dtype=object)
    n_lots = len(lot_ids)
    need = np.zeros(n_d, dtype=bool)
    need[np.arange(n_d) if sessions is None else sessions] = True
    symbol_of = np.array([bars_symbol(s) for s in entries["symbol"].astype(str)], dtype=object)
    col = pd.Index(bars.symbols).get_indexer(symbol_of)
    e_sess = fill_session(entries["entry_timestamp"], bars.days)
    qty0 = entries["entry_qty"].to_numpy(np.float64)
    p_entry = entries["entry_price"].to_numpy(np.float64)

    # Exits of these lots, per lot in time then record order.
    code = pd.Index(lot_ids).get_indexer(exits["lot_id"].to_numpy(dtype=object))
    exits, code = exits[code >= 0], code[code >= 0]
    order = np.lexsort((exits["exit_seq"].to_numpy(), pd.DatetimeIndex(exits["exit_timestamp"]).asi8, code))
    exits, code = exits.iloc[order], code[order]
    x_sess = fill_session(exits["exit_timestamp"], bars.days)
    x_qty = exits["exit_qty"].to_numpy(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_exit = exits["entry_price"].to_numpy(np.float64) + exits["realized_pnl"].to_numpy(np.float64) / x_qty
    sold = pd.Series(x_qty).groupby(code).cumsum().to_numpy() if len(code) else np.empty(0)
    after = qty0[code] - sold  # held after each exit, in the lot's own units
    emptied = after <= QTY_TOLERANCE * qty0[code]

    # Where each lot stops being held: the session of its first exit that empties it.
    last = np.full(n_lots, n_d - 1, dtype=np.int64)
    if emptied.any():
        first_empty = pd.Series(x_sess[emptied]).groupby(code[emptied]).min()
        last[first_empty.index.to_numpy()] = np.minimum(first_empty.to_numpy(), n_d - 1)
    held_any = (e_sess < n_d) & (e_sess <= last)
    needed_before = np.concatenate([[0], np.cumsum(need)])  # sessions to mark before each index
    marked = held_any & (needed_before[np.minimum(last, n_d - 1) + 1] - needed_before[np.minimum(e_sess, n_d)] > 0)
    missing_symbol = marked & (col < 0)
    if missing_symbol.any():
        i = np.flatnonzero(missing_symbol)[0]
        raise MarketDataError(
            f"no daily bars for symbol {symbol_of[i]} ({bars_key(symbol_of[i])}), held by lot {lot_ids[i]} "
            f"of {strategies[strategy[i]]}"
        )

    def closes(session: np.ndarray, lot: np.ndarray) -> np.ndarray:
        return bars.closes[np.minimum(session, n_d - 1), np.maximum(col[lot], 0)]

    # Split factors of the fills, on the bars' scale at their own sessions.
    live = marked & (e_sess < n_d)
    k_entry = np.ones(n_lots)
    if live.any():
        k_entry[live] = _scale(p_entry[live], closes(e_sess[live], np.flatnonzero(live)), lot_ids[live], "entry")
    x_live = marked[code] & (x_sess < n_d) & need[np.minimum(x_sess, n_d - 1)]
    k_exit = np.ones(len(code))
    if x_live.any():
        k_exit[x_live] = _scale(p_exit[x_live], closes(x_sess[x_live], code[x_live]), lot_ids[code[x_live]], "exit")
    q_entry = qty0 * k_entry
    x_q = x_qty * k_entry[code]

    # Held segments: entering sessions [e + 1, first exit session] at q_entry, then after
    # each exit [s_x + 1, next exit session] at what it left, until the lot is emptied.
    n_exits = np.bincount(code, minlength=n_lots)
    starts = np.concatenate([[0], np.cumsum(n_exits)[:-1]]).astype(np.int64)
    next_sess = np.full(len(code), n_d - 1, dtype=np.int64)
    has_next = np.ones(len(code), dtype=bool)
    has_next[(starts + n_exits - 1)[n_exits > 0]] = False
    next_sess[has_next] = x_sess[np.flatnonzero(has_next) + 1]
    first_exit = np.full(n_lots, n_d - 1, dtype=np.int64)
    first_exit[n_exits > 0] = x_sess[starts[n_exits > 0]]
    seg_lot = np.concatenate([np.arange(n_lots), code])
    seg_first = np.concatenate([e_sess + 1, x_sess + 1])
    seg_last = np.minimum(np.concatenate([first_exit, next_sess]), last[seg_lot])
    seg_qty = np.concatenate([q_entry, np.where(emptied, 0.0, after * k_entry[code])])
    ok = marked[seg_lot] & (seg_qty > 0) & (seg_first <= seg_last)
    order = np.lexsort((seg_first[ok], seg_lot[ok]))
    seg_lot, seg_first, seg_last, seg_qty = (
        seg_lot[ok][order],
        seg_first[ok][order],
        seg_last[ok][order],
        seg_qty[ok][order],
    )
    owner, sess = runs(seg_first, seg_last - seg_first + 1)
    on = need[sess]
    owner, sess = owner[on], sess[on]
    lot = seg_lot[owner]
    c_now, c_before = closes(sess, lot), closes(sess - 1, lot)
    _require(
        ~(np.isfinite(c_now) & np.isfinite(c_before)),
        sess,
        lot,
        bars,
        symbol_of,
        lot_ids,
        strategies,
        strategy,
        before=True,
    )
    q = seg_qty[owner]

    e_on = live & need[np.minimum(e_sess, n_d - 1)]
    e_lot = np.flatnonzero(e_on)
    c_entry = closes(e_sess[e_on], e_lot)
    _require(~np.isfinite(c_entry), e_sess[e_on], e_lot, bars, symbol_of, lot_ids, strategies, strategy)
    x_on = np.flatnonzero(x_live & (x_sess <= last[code]))
    c_exit = closes(x_sess[x_on], code[x_on])
    _require(~np.isfinite(c_exit), x_sess[x_on], code[x_on], bars, symbol_of, lot_ids, strategies, strategy)

    cell = np.concatenate(
        [strategy[lot] * n_d + sess, strategy[e_lot] * n_d + e_sess[e_on], strategy[code[x_on]] * n_d + x_sess[x_on]]
    )
    pnl_rows = np.concatenate(
        [
            q * (c_now - c_before),
            q_entry[e_lot] * (c_entry - p_entry[e_lot] / k_entry[e_lot]),
            x_q[x_on] * (p_exit[x_on] / k_exit[x_on] - c_exit),
        ]
    )
    value_rows = np.concatenate([q * c_before, q_entry[e_lot] * (p_entry[e_lot] / k_entry[e_lot]), np.zeros(len(x_on))])
    size = n_s * n_d
    pnl = np.bincount(cell, weights=pnl_rows, minlength=size).reshape(n_s, n_d)
    value = np.bincount(cell, weights=value_rows, minlength=size).reshape(n_s, n_d)
    return MarketDaily(tuple(strategies), bars.days, pnl, value, strategy, np.where(held_any, e_sess, n_d), last)


def _require(
    missing: np.ndarray,
    sess: np.ndarray,
    lot: np.ndarray,
    bars: Bars,
    symbol_of,
    lot_ids,
    strategies,
    strategy,
    before: bool = False,
) -> None:
    if not missing.any():
        return
    i = np.flatnonzero(missing)[0]
    s, j = int(sess[i]), int(lot[i])
    day = bars.day_text(s) if s < len(bars.days) else "after the bars' last session"
    what = f"{bars.day_text(s - 1)} or {day}" if before and s > 0 else day
    raise MarketDataError(
        f"daily bars of {symbol_of[j]} lack the session {what}, inside the period lot {lot_ids[j]} "
        f"of {strategies[strategy[j]]} was held"
    )


def window_sessions(weeks: WeekWindows, days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sessions of each window (its dates 1..lookback that are NYSE sessions, as
    ``MISSING_DAYS=zero`` counts them): (week, date index, session index into ``days``)."""
    trading = window_trading_days(weeks)
    week, date = np.nonzero(trading)
    day = weeks.window_start_day[week] + date
    return week, date, np.searchsorted(days, day)


def bars_days(weeks: WeekWindows) -> tuple[int, int]:
    """The day numbers the bars must span for these windows: from the session before the
    first window's first session (its return's previous close) to the last window's end."""
    return int(weeks.window_start_day.min()) - 10, int(weeks.end_day.max())


def symbols_of(rows: pd.DataFrame) -> list[str]:
    """The bars' symbols a positions frame holds, sorted."""
    return sorted({bars_symbol(s) for s in rows["symbol"].astype(str).unique()}) if len(rows) else []


def market_returns(
    rows: pd.DataFrame, weeks: WeekWindows, strategies: Sequence[str], bars: Bars, daily: MarketDaily | None = None
) -> DailyReturns:
    """Every window's daily returns on the ``market`` basis (``DailyReturns`` with
    ``pnl`` the marked-to-market P&L and ``deployed`` the value at work ``V`` of each
    session on the window's dates; ``bookings`` 1 where ``V > 0``; ``window_lots`` the
    lots held at some session of the window; ``avg_position_value`` the mean ``V``).
    ``daily``: ``market_daily`` of these rows already computed for sessions covering these
    windows' (a range read in chunks marks every lot once; the cells are the same)."""
    from weighting_pipeline.core.returns import DailyReturns

    strategies = list(strategies)
    n_w, n_s, n_dates = len(weeks), len(strategies), weeks.n_dates
    week, date, sess = window_sessions(weeks, bars.days)
    if (
        len(sess)
        and (
            (sess >= len(bars.days))
            | (bars.days[np.minimum(sess, len(bars.days) - 1)] != weeks.window_start_day[week] + date)
        ).any()
    ):
        raise MarketDataError("the bars' sessions do not span these weeks' windows")
    daily = market_daily(rows, bars, strategies, np.unique(sess)) if daily is None else daily
    pnl = np.zeros((n_w, n_s, n_dates))
    value = np.zeros((n_w, n_s, n_dates))
    pnl[week, :, date] = daily.pnl[:, sess].T
    value[week, :, date] = daily.value[:, sess].T
    bookings = (value > 0).astype(np.int32)
    lo = np.full(n_w, len(bars.days), dtype=np.int64)
    hi = np.full(n_w, -1, dtype=np.int64)
    np.minimum.at(lo, week, sess)
    np.maximum.at(hi, week, sess)
    # Windows are sorted, so those a lot is held in are one run [w_lo, w_hi).
    w_lo = np.searchsorted(hi, daily.lot_first, side="left")
    w_hi = np.searchsorted(lo, daily.lot_last, side="right")
    owner, w = runs(w_lo, np.maximum(w_hi - w_lo, 0))
    window_lots = (
        np.bincount(w * n_s + daily.lot_strategy[owner], minlength=n_w * n_s).reshape(n_w, n_s)
        if n_s
        else np.zeros((n_w, 0), np.int64)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = np.where(bookings.any(axis=2), value.sum(axis=2) / bookings.sum(axis=2), np.nan)
    return DailyReturns(
        weeks, tuple(strategies), pnl, bookings, window_lots.astype(np.int64), avg, "market", value, basis="market"
    )
