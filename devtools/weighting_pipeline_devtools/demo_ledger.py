"""Deterministic synthetic trade ledgers, for the demo, tests and benchmarks.

A ledger is generated as the trading system would build it: each lot is
entered during New York hours, scaled out of in one to three exits on
different days, and most lots close on their last exit. About
``open_share`` of the lots stay open: either their last exit has not
happened, or it left one unit of the smallest quantity step behind, a
remainder that never closes. Quantities are whole shares, 3 or 8 decimal
places; prices are in cents. Each strategy has its own drift and volatility,
so Sharpe ratios differ and the tilt is visible.

``SyntheticLedger.items()`` serialises it through ``ledger_writer.lot_item``
(the trading system's format); ``lots`` and ``exits`` are the frames the
pipeline must read back from those items, to the last bit.
"""

from __future__ import annotations

import itertools
import math
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from weighting_pipeline.core.baseline import strategy_stem
from weighting_pipeline.core.calendar import TIMEZONE
from weighting_pipeline.core.lots import ENTRY_SEQ, EXIT_COLUMNS, LOT_COLUMNS, canonical_order
from weighting_pipeline_devtools.ledger_writer import Exit, lot_item, write_items

SYMBOLS = np.array(["SPY", "QQQ", "TQQQ", "GLD", "TLT", "IWM", "EEM", "UVXY", "SOXL", "EQUITIES::XLE//USD"])
_IDS = uuid.UUID("6f1c0c4e-7d55-4b0e-9a57-2f0d3c8f4a10")  # namespace of the derived order and exit ids
_US = np.timedelta64(1, "us")


@dataclass(frozen=True)
class SyntheticLedger:
    """A generated ledger: per-lot arrays and per-exit arrays (exit rows grouped by lot, in time order)."""

    strategies: tuple[str, ...]  # baseline keys
    lot_id: np.ndarray
    strategy: np.ndarray  # index into strategies
    symbol: np.ndarray
    entry_ts: pd.DatetimeIndex  # UTC, microseconds
    decimals: np.ndarray  # quantity decimal places
    qty_units: np.ndarray  # entry_qty * 10**decimals
    entry_cents: np.ndarray
    closed: np.ndarray  # bool: remaining_qty reached 0
    exit_lot: np.ndarray  # lot index of each exit row
    exit_ts: pd.DatetimeIndex
    exit_units: np.ndarray
    exit_cents: np.ndarray

    def _exit_spans(self) -> tuple[np.ndarray, np.ndarray]:
        """Each lot's first exit row and number of exit rows."""
        counts = np.bincount(self.exit_lot, minlength=len(self.lot_id))
        return np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64), counts

    def _entry_qty(self) -> np.ndarray:
        return self.qty_units / 10.0**self.decimals

    def _exit_pnl(self) -> np.ndarray:
        # (exit_price - entry_price) * exit_qty, an exact integer at scale 10**-(2 + decimals);
        # one correctly rounded division gives the float that parsing its str(Decimal) gives.
        scale = 10.0 ** (2 + self.decimals[self.exit_lot])
        return ((self.exit_cents - self.entry_cents[self.exit_lot]) * self.exit_units) / scale

    @property
    def exits(self) -> pd.DataFrame:
        """Every exit record, of open lots too: lot_id, strategy, exit_timestamp,
        exit_qty, realized_pnl, entry_qty, entry_price, lot_closed."""
        lot = self.exit_lot
        return pd.DataFrame(
            {
                "lot_id": pd.array(self.lot_id[lot], dtype="string"),
                "strategy": pd.Categorical.from_codes(self.strategy[lot], categories=list(self.strategies)),
                "exit_timestamp": self.exit_ts,
                "exit_qty": self.exit_units / 10.0 ** self.decimals[lot],
                "realized_pnl": self._exit_pnl(),
                "entry_qty": self._entry_qty()[lot],
                "entry_price": (self.entry_cents / 100.0)[lot],
                "lot_closed": self.closed[lot],
            }
        )

    @property
    def exit_records(self) -> pd.DataFrame:
        """Every exit record in the core exit-records format (``core.lots.EXIT_COLUMNS``),
        what the reader makes of the items (``pnl_date=exit``), in canonical order."""
        lot = self.exit_lot
        first, counts = self._exit_spans()
        last = first + counts - 1
        closed_at = pd.Series(self.exit_ts[last].as_unit("ns")).where(self.closed)
        frame = pd.DataFrame(
            {
                "lot_id": pd.array(self.lot_id[lot], dtype="string"),
                "strategy": pd.Categorical.from_codes(self.strategy[lot], categories=list(self.strategies)),
                "symbol": pd.array(self.symbol[lot], dtype="string"),
                "entry_timestamp": self.entry_ts[lot].as_unit("ns"),
                "fully_closed_at": closed_at.to_numpy()[lot],
                "exit_timestamp": self.exit_ts.as_unit("ns"),
                "exit_seq": np.arange(len(lot)) - first[lot],
                "entry_qty": self._entry_qty()[lot],
                "entry_price": (self.entry_cents / 100.0)[lot],
                "exit_qty": self.exit_units / 10.0 ** self.decimals[lot],
                "realized_pnl": self._exit_pnl(),
            }
        )
        return canonical_order(frame.astype(EXIT_COLUMNS))

    @property
    def positions(self) -> pd.DataFrame:
        """Every lot's entry row and every exit record: the positions frame
        (``core.lots``, ``return_basis=deployed``) of the whole ledger, in canonical order."""
        first, counts = self._exit_spans()
        closed_at = pd.Series(self.exit_ts[first + counts - 1].as_unit("ns")).where(self.closed & (counts > 0))
        entries = pd.DataFrame(
            {
                "lot_id": pd.array(self.lot_id, dtype="string"),
                "strategy": pd.Categorical.from_codes(self.strategy, categories=list(self.strategies)),
                "symbol": pd.array(self.symbol, dtype="string"),
                "entry_timestamp": self.entry_ts.as_unit("ns"),
                "fully_closed_at": closed_at.to_numpy(),
                "exit_timestamp": pd.Series(pd.NaT, index=range(len(self.lot_id)), dtype="datetime64[ns, UTC]"),
                "exit_seq": ENTRY_SEQ,
                "entry_qty": self._entry_qty(),
                "entry_price": self.entry_cents / 100.0,
                "exit_qty": 0.0,
                "realized_pnl": 0.0,
            }
        ).astype(EXIT_COLUMNS)
        return canonical_order(pd.concat([self.exit_records, entries], ignore_index=True))

    @property
    def lots(self) -> pd.DataFrame:
        """The fully closed lots, in the core lot format (``core.lots.LOT_COLUMNS``),
        ``realized_pnl`` summed over exits with ``math.fsum`` as the reader does."""
        pnl = self._exit_pnl()
        first, counts = self._exit_spans()
        realized = np.zeros(len(self.lot_id))
        has = counts > 0
        realized[has] = np.add.reduceat(pnl, first[has]) if len(pnl) else 0.0  # one addition is correctly rounded
        for i in np.flatnonzero(counts > 2):
            realized[i] = math.fsum(pnl[first[i] : first[i] + counts[i]])
        last = first + counts - 1
        c = self.closed
        frame = pd.DataFrame(
            {
                "lot_id": pd.array(self.lot_id[c], dtype="string"),
                "strategy": pd.Categorical.from_codes(self.strategy[c], categories=list(self.strategies)),
                "symbol": pd.array(self.symbol[c], dtype="string"),
                "entry_timestamp": self.entry_ts[c].as_unit("ns"),
                "fully_closed_at": self.exit_ts[last[c]].as_unit("ns"),
                "entry_qty": self._entry_qty()[c],
                "entry_price": self.entry_cents[c] / 100.0,
                "realized_pnl": realized[c],
            }
        )
        return frame.astype(LOT_COLUMNS)

    def items(self, close_date_index: bool = False) -> Iterator[dict]:
        """The ledger as the trading system stores it, one ``lot_item`` per lot."""
        first, counts = self._exit_spans()
        entry_py = self.entry_ts.to_pydatetime()
        exit_py = self.exit_ts.to_pydatetime()
        for i, lot_id in enumerate(self.lot_id):
            d = -int(self.decimals[i])
            exits = [
                Exit(
                    exit_py[j],
                    Decimal(int(self.exit_units[j])).scaleb(d),
                    Decimal(int(self.exit_cents[j])).scaleb(-2),
                    str(uuid.uuid5(_IDS, f"{lot_id}/exit/{j}")),
                    str(uuid.uuid5(_IDS, f"{lot_id}/exit-order/{j}")),
                )
                for j in range(first[i], first[i] + counts[i])
            ]
            yield lot_item(
                lot_id=lot_id,
                strategy_name=strategy_stem(self.strategies[self.strategy[i]]),
                symbol=self.symbol[i],
                entry_timestamp=entry_py[i],
                entry_qty=Decimal(int(self.qty_units[i])).scaleb(d),
                entry_price=Decimal(int(self.entry_cents[i])).scaleb(-2),
                exits=exits,
                entry_order_id=str(uuid.uuid5(_IDS, f"{lot_id}/entry-order")),
                correlation_id=str(uuid.uuid5(_IDS, f"{lot_id}/correlation")),
                close_date_index=close_date_index,
            )


def synthetic_ledger(
    strategies: Sequence[str],
    start: str,
    end: str,
    lots_per_strategy_day: float = 1.0,
    seed: int = 7,
    open_share: float = 0.1,
) -> SyntheticLedger:
    """A ledger whose lots' planned last exits fall between ``start`` and ``end`` (dates).

    ``strategies`` are baseline keys; lot counts are Poisson per strategy and
    calendar day. The same arguments always give the same ledger.
    """
    rng = np.random.default_rng(seed)
    days = pd.date_range(start, end, freq="D", inclusive="left")
    n_strat = len(strategies)
    counts = rng.poisson(lots_per_strategy_day, size=(n_strat, len(days)))
    total = int(counts.sum())
    strat_idx = np.repeat(np.repeat(np.arange(n_strat), len(days)), counts.ravel())
    day_idx = np.repeat(np.tile(np.arange(len(days)), n_strat), counts.ravel())
    drift = rng.normal(0.0008, 0.0012, n_strat)  # per-day expected return of a position
    vol = rng.uniform(0.004, 0.03, n_strat)
    held_days = rng.integers(1, 6, total)
    entry_cents = rng.integers(2000, 40000, total)
    decimals = rng.choice(np.array([0, 3, 8]), p=[0.6, 0.3, 0.1], size=total)
    qty_units = np.select(
        [decimals == 0, decimals == 3],
        [rng.integers(1, 200, total), rng.integers(1_000, 200_000, total)],
        rng.integers(10**6, 2 * 10**10, total),
    )
    n_exits = np.minimum(rng.choice(np.array([1, 2, 3]), p=[0.5, 0.35, 0.15], size=total), qty_units)
    # Opens between 09:30 and 15:30 New York; the last exit any minute of its day.
    open_minute = rng.integers(9 * 60 + 30, 15 * 60 + 30, total)
    close_minute = rng.integers(0, 24 * 60, total)
    # Broker fill times carry microseconds; about one in five is a whole second (isoformat drops the fraction).
    entry_us = rng.integers(0, 10**6, total) * (rng.random(total) < 0.8)
    close_us = rng.integers(0, 10**6, total) * (rng.random(total) < 0.8)
    local_days = days.values[day_idx]
    entry_local = local_days - held_days.astype("timedelta64[D]") + open_minute.astype("timedelta64[m]")
    close_local = local_days + close_minute.astype("timedelta64[m]")
    entry_ts = _utc(entry_local) + entry_us * _US
    close_ts = _utc(close_local) + close_us * _US
    ids = rng.bytes(16 * total)
    lot_id = np.array([str(uuid.UUID(bytes=ids[16 * i : 16 * i + 16], version=4)) for i in range(total)], dtype=object)
    symbol = SYMBOLS[rng.integers(0, len(SYMBOLS), total)]

    # Exit rows, grouped by lot: times at sorted fractions of the holding period, the last at its end.
    lot = np.repeat(np.arange(total), n_exits)
    start_of = np.concatenate([[0], np.cumsum(n_exits)[:-1]])
    is_last = np.zeros(len(lot), dtype=bool)
    is_last[start_of + n_exits - 1] = True
    frac = np.where(is_last, 1.0, rng.uniform(0.05, 0.95, len(lot)))
    order = np.lexsort((frac, lot))
    frac = frac[order]
    span = _micros(close_ts - entry_ts)[lot]
    exit_ts = entry_ts[lot] + (np.floor(frac * span).astype(np.int64)) * _US
    # Quantities: each exit at least one unit, the last takes the rest.
    share = rng.uniform(0.2, 1.0, len(lot))
    units = 1 + np.floor(share / np.bincount(lot, weights=share)[lot] * (qty_units - n_exits)[lot]).astype(np.int64)
    before_last = np.bincount(lot, weights=np.where(is_last, 0, units), minlength=total).astype(np.int64)
    units = np.where(is_last, qty_units[lot] - before_last[lot], units)
    held = _micros(exit_ts - entry_ts[lot]) / 86_400e6  # days
    ret = drift[strat_idx[lot]] * held + vol[strat_idx[lot]] * np.sqrt(held) * rng.standard_normal(len(lot))
    exit_cents = np.maximum(1, np.round(entry_cents[lot] * (1 + ret))).astype(np.int64)

    # Open lots: the last exit has not happened, or it left one unit behind.
    is_open = rng.random(total) < open_share
    tiny = is_open & (rng.random(total) < 0.5)
    shrink = is_last & tiny[lot] & (units > 1)
    units = units - shrink
    keep = ~(is_last & is_open[lot] & ~shrink)
    closed = np.bincount(lot[keep], weights=units[keep], minlength=total).astype(np.int64) == qty_units
    return SyntheticLedger(
        strategies=tuple(strategies),
        lot_id=lot_id,
        strategy=strat_idx,
        symbol=symbol,
        entry_ts=entry_ts,
        decimals=decimals,
        qty_units=qty_units,
        entry_cents=entry_cents,
        closed=closed,
        exit_lot=lot[keep],
        exit_ts=exit_ts[keep],
        exit_units=units[keep],
        exit_cents=exit_cents[keep],
    )


def synthetic_lots(
    strategies: Sequence[str],
    start: str,
    end: str,
    lots_per_strategy_day: float = 1.0,
    seed: int = 7,
) -> pd.DataFrame:
    """The fully closed lots of ``synthetic_ledger(...)``, in the core lot format."""
    return synthetic_ledger(strategies, start, end, lots_per_strategy_day, seed).lots


def _micros(delta: pd.TimedeltaIndex) -> np.ndarray:
    return delta.to_numpy().astype("timedelta64[us]").astype(np.int64)


def _utc(local: np.ndarray) -> pd.DatetimeIndex:
    ts = pd.DatetimeIndex(local).tz_localize(TIMEZONE, ambiguous=True, nonexistent="shift_forward")
    return ts.tz_convert("UTC").as_unit("us")


def seed_ledger(
    table_name: str, ledger: SyntheticLedger | None, extra_items: Iterable[dict] = (), close_date_index: bool = False
) -> int:
    """Write a synthetic ledger (and raw extra items) to a ledger table through
    ``ledger_writer``; returns the number of items. ``close_date_index`` adds
    the proposed GSI7 keys to closed lots (the GSI7 benchmark only)."""
    if ledger is not None and not isinstance(ledger, SyntheticLedger):
        raise TypeError(f"seed_ledger takes a SyntheticLedger (synthetic_ledger(...)), not {type(ledger).__name__}")
    items = ledger.items(close_date_index) if ledger is not None else iter(())
    return write_items(table_name, itertools.chain(items, extra_items))
