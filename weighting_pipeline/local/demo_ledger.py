"""Deterministic synthetic trade ledgers, for the demo, tests and benchmarks.

Each strategy gets its own drift and volatility, so Sharpe ratios differ and
the tilt is visible. Lots are opened during New York trading hours and closed
a few days later; P&L is ``entry_value * (daily drift * days held + noise)``.
"""

from __future__ import annotations

from decimal import Decimal
import os
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from weighting_pipeline.core.baseline import strategy_stem
from weighting_pipeline.core.calendar import TIMEZONE

SYMBOLS = np.array(["SPY", "QQQ", "TQQQ", "GLD", "TLT", "IWM", "EEM", "UVXY", "SOXL", "XLE"])


def synthetic_lots(
    strategies: Sequence[str],
    start: str,
    end: str,
    lots_per_strategy_day: float = 1.0,
    seed: int = 7,
) -> pd.DataFrame:
    """Closed lots between ``start`` and ``end`` (dates), in the core lot format.

    ``strategies`` are baseline keys; lot counts are Poisson per strategy and
    calendar day. The same arguments always give the same frame.
    """
    rng = np.random.default_rng(seed)
    days = pd.date_range(start, end, freq="D", inclusive="left")
    n_strat = len(strategies)
    counts = rng.poisson(lots_per_strategy_day, size=(n_strat, len(days)))
    total = int(counts.sum())
    strat_idx = np.repeat(np.repeat(np.arange(n_strat), len(days)), counts.ravel())
    day_idx = np.repeat(np.tile(np.arange(len(days)), n_strat), counts.ravel())
    drift = rng.normal(0.0008, 0.0012, n_strat)  # per-day expected return of a lot
    vol = rng.uniform(0.004, 0.03, n_strat)
    held_days = rng.integers(1, 6, total)
    entry_price = np.round(rng.uniform(20, 400, total), 2)
    entry_qty = rng.integers(1, 200, total).astype(np.float64)
    ret = drift[strat_idx] * held_days + vol[strat_idx] * np.sqrt(held_days) * rng.standard_normal(total)
    realized = np.round(entry_qty * entry_price * ret, 2)
    # Opens between 09:30 and 15:30 New York; closes any minute of the closing day.
    open_minute = rng.integers(9 * 60 + 30, 15 * 60 + 30, total)
    close_minute = rng.integers(0, 24 * 60, total)
    local_days = days.values[day_idx]
    entry_local = local_days - held_days.astype("timedelta64[D]") + open_minute.astype("timedelta64[m]")
    close_local = local_days + close_minute.astype("timedelta64[m]")
    entry_ts = pd.DatetimeIndex(entry_local).tz_localize(TIMEZONE, ambiguous=True, nonexistent="shift_forward")
    close_ts = pd.DatetimeIndex(close_local).tz_localize(TIMEZONE, ambiguous=True, nonexistent="shift_forward")
    lots = pd.DataFrame(
        {
            "lot_id": pd.array([f"L{seed:03d}-{i:08d}" for i in range(total)], dtype="string"),
            "strategy": pd.Categorical.from_codes(strat_idx, categories=list(strategies)),
            "symbol": pd.array(SYMBOLS[rng.integers(0, len(SYMBOLS), total)], dtype="string"),
            "entry_timestamp": entry_ts.tz_convert("UTC").as_unit("ns"),
            "fully_closed_at": close_ts.tz_convert("UTC").as_unit("ns"),
            "entry_qty": entry_qty,
            "entry_price": entry_price,
            "realized_pnl": realized,
        }
    )
    return lots


def _iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def _money(x: float) -> Decimal:
    return Decimal(repr(float(x)))


def ledger_items(lots: pd.DataFrame) -> Iterable[dict]:
    """Trade-ledger items (Python types, Decimal numbers) for a lots frame.

    Two exit records split each lot's quantity and P&L, as a trading system
    scaling out of a position would; their P&L sums to the lot's.
    """
    for row in lots.itertuples(index=False):
        stem = strategy_stem(row.strategy)
        entry = _iso(row.entry_timestamp)
        closed = _iso(row.fully_closed_at)
        first_qty = float(row.entry_qty // 2) or float(row.entry_qty)
        first_pnl = round(row.realized_pnl / 2, 2) if first_qty < row.entry_qty else row.realized_pnl
        exits = [
            {
                "exit_timestamp": closed,
                "exit_qty": _money(first_qty),
                "exit_price": _money(row.entry_price),
                "realized_pnl": _money(first_pnl),
            }
        ]
        if first_qty < row.entry_qty:
            exits.append(
                {
                    "exit_timestamp": closed,
                    "exit_qty": _money(row.entry_qty - first_qty),
                    "exit_price": _money(row.entry_price),
                    "realized_pnl": _money(round(row.realized_pnl - first_pnl, 2)),
                }
            )
        yield {
            "PK": f"LOT#{row.lot_id}",
            "SK": "METADATA",
            "lot_id": row.lot_id,
            "strategy_name": stem,
            "symbol": row.symbol,
            "entry_timestamp": entry,
            "entry_qty": _money(row.entry_qty),
            "entry_price": _money(row.entry_price),
            "remaining_qty": Decimal(0),
            "is_open": False,
            "exit_records": exits,
            "fully_closed_at": closed,
            "GSI5PK": f"STRATEGY_LOTS#{stem}",
            "GSI5SK": f"CLOSED#{row.symbol}#{entry}",
            "GSI7PK": f"STRATEGY_LOTS#{stem}",
            "GSI7SK": closed,
        }


def seed_ledger(table_name: str, lots: pd.DataFrame, extra_items: Iterable[dict] = (), close_date_index: bool = True) -> None:
    """Write lots (and raw extra items) to a ledger table as the trading system would.

    Uses boto3's batch writer (25 items a request, unprocessed items re-sent);
    ``close_date_index=False`` leaves out the GSI7 keys, as on a table without GSI7.
    """
    import boto3

    table = boto3.resource("dynamodb", region_name=os.environ.get("AWS_REGION")).Table(table_name)
    with table.batch_writer(overwrite_by_pkeys=["PK", "SK"]) as batch:
        for item in ledger_items(lots):
            if not close_date_index:
                del item["GSI7PK"], item["GSI7SK"]
            batch.put_item(Item=item)
        for item in extra_items:
            batch.put_item(Item=item)
