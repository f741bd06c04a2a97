"""Ledgers shaped like the trading system's, with the daily bars they trade on.

The calibration ledger of the evidence checks (docs/analytics.md): each
strategy trades one symbol of its own whose daily closes are a random walk
(``drift`` and ``vol`` per session, log returns); it enters one lot every NYSE
session at 15:45 New York, filled at that session's close, and exits it whole
``hold`` sessions later (uniform in ``[5, 20]`` by default) at 15:50, filled
at that session's close. So lots overlap (about a dozen open at once), several
close on the same session, and a no-skill ledger (``drift = 0``) has no
information whatever its past. Lots whose exit falls after ``last_day`` stay
open. Items come out through ``SyntheticLedger.items()`` (trading's
``StrategyLot`` serialisation) and bars as trading's ``MarketDataStore`` writes
them (``market_bars``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from weighting_pipeline.core.calendar import TIMEZONE, local_day_number
from weighting_pipeline.core.trading_days import session_mask
from weighting_pipeline_devtools.demo_ledger import SyntheticLedger

_EPOCH = np.datetime64("1970-01-01", "D")
_NAMESPACE = uuid.UUID("0b7e4d2a-31c5-4f0e-8a61-5c2d9e7f1a34")


@dataclass(frozen=True)
class HoldingLedger:
    """A simulated ledger and its bars: ``ledger`` (trading's format through
    ``items()``), ``closes`` (sessions x symbols, dollars, cents-exact) on
    ``sessions`` (New York dates), and each strategy's ``symbols``."""

    ledger: SyntheticLedger
    sessions: pd.DatetimeIndex
    closes: pd.DataFrame
    symbols: tuple[str, ...]

    def bars(self, symbol: str) -> pd.DataFrame:
        """``symbol``'s daily bars as ``MarketDataStore`` stores them (``market_bars``)."""
        return market_bars(self.sessions, self.closes[symbol].to_numpy(float))


def put_bars(bucket: str, symbol: str, frame: pd.DataFrame) -> str:
    """Write one symbol's bars to S3 as trading's ``MarketDataStore.write_symbol_data`` does
    (``to_parquet(index=False, compression="snappy", engine="pyarrow")``, ``put_object``);
    returns the object's ETag."""
    import io

    import boto3

    from weighting_pipeline.core.market import bars_key

    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, compression="snappy", engine="pyarrow")
    response = boto3.client("s3").put_object(
        Bucket=bucket, Key=bars_key(symbol), Body=buffer.getvalue(), ContentType="application/octet-stream"
    )
    return response["ETag"].strip('"')


def write_bars(simulated: HoldingLedger, bucket: str) -> dict[str, str]:
    """Every symbol's bars of ``simulated`` to ``bucket`` (created if missing); returns key -> ETag."""
    import boto3

    from weighting_pipeline.core.market import bars_key

    s3 = boto3.client("s3")
    if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=bucket)
    return {bars_key(s): put_bars(bucket, s, simulated.bars(s)) for s in simulated.symbols}


def market_bars(sessions: pd.DatetimeIndex, closes: np.ndarray) -> pd.DataFrame:
    """Daily bars in trading's ``<SYMBOL>/daily.parquet`` layout: ``timestamp`` (UTC,
    midnight New York of the session, as Alpaca stamps daily bars), ``open``,
    ``high``, ``low``, ``close`` (dollars) and ``volume``."""
    stamp = pd.DatetimeIndex(sessions).tz_localize(None).tz_localize(TIMEZONE).tz_convert("UTC")
    close = np.asarray(closes, dtype=float)
    previous = np.concatenate([[close[0]], close[:-1]]) if len(close) else close
    return pd.DataFrame(
        {
            "timestamp": stamp,
            "open": previous,
            "high": np.maximum(previous, close),
            "low": np.minimum(previous, close),
            "close": close,
            "volume": np.full(len(close), 1_000_000.0),
        }
    )


def holding_ledger(
    strategies: Sequence[str],
    first_day: str,
    last_day: str,
    drift: float | Sequence[float] = 0.0,
    vol: float | Sequence[float] = 0.015,
    hold: tuple[int, int] = (5, 20),
    seed: int = 0,
    notional: float = 10_000.0,
) -> HoldingLedger:
    """A ledger of one lot a session per strategy from ``first_day`` to ``last_day``
    (New York dates), held ``hold`` sessions; ``drift`` and ``vol`` are per session
    (log), one value or one per strategy. The same arguments give the same ledger."""
    rng = np.random.default_rng(seed)
    n = len(strategies)
    lo, hi = local_day_number(first_day), local_day_number(last_day)
    days = lo + np.flatnonzero(session_mask(lo, hi))
    sessions = pd.DatetimeIndex(_EPOCH + days.astype("timedelta64[D]"))
    t = len(days)
    mu = np.broadcast_to(np.asarray(drift, dtype=float), (n,))
    sigma = np.broadcast_to(np.asarray(vol, dtype=float), (n,))
    steps = mu + sigma * rng.standard_normal((t, n))
    start = rng.uniform(20, 200, n)
    cents = np.maximum(1, np.round(100 * start * np.exp(np.cumsum(steps, axis=0)))).astype(np.int64)  # (t, n)
    symbols = tuple(f"SIM{i:02d}" for i in range(n))
    closes = pd.DataFrame(cents / 100.0, index=sessions, columns=list(symbols))
    strategy = np.repeat(np.arange(n), t)  # lot k = strategy k // t entered on session k % t
    entry_session = np.tile(np.arange(t), n)
    held = rng.integers(hold[0], hold[1] + 1, n * t)
    ledger = ledger_of_holdings(strategies, closes, strategy, strategy, entry_session, held, notional, f"{seed}")
    return HoldingLedger(ledger, sessions, closes, symbols)


def ledger_of_holdings(
    strategies: Sequence[str],
    closes: pd.DataFrame,
    strategy: np.ndarray,
    symbol: np.ndarray,
    entry_session: np.ndarray,
    held: np.ndarray,
    notional: float = 10_000.0,
    tag: str = "",
) -> SyntheticLedger:
    """A ledger of lots, lot ``k`` of strategy ``strategy[k]`` buying symbol ``closes.columns[symbol[k]]``
    for ``notional`` dollars at the close of session ``entry_session[k]`` (entered at 15:45 New
    York) and selling it whole at the close ``held[k]`` sessions later (15:50); lots whose exit
    falls after the last session stay open. ``closes``: sessions (New York dates) x symbols,
    dollars; fills are rounded to cents. ``tag`` keeps lot ids of different ledgers apart."""
    sessions = pd.DatetimeIndex(closes.index)
    t = len(sessions)
    cents = np.maximum(1, np.round(closes.to_numpy(float) * 100)).astype(np.int64)
    names = np.array(list(closes.columns), dtype=object)
    exit_session = entry_session + held
    entry_cents = cents[entry_session, symbol]
    qty_units = np.maximum(1, np.round(notional / (entry_cents / 100.0) * 1000)).astype(np.int64)  # 3 decimals
    closed = exit_session < t
    n_lots = len(strategy)
    lot_ids = np.array([str(uuid.uuid5(_NAMESPACE, f"{tag}/{k}")) for k in range(n_lots)], dtype=object)

    def at(session: np.ndarray, hour: int, minute: int) -> pd.DatetimeIndex:
        local = sessions[session].to_numpy() + np.timedelta64(hour * 60 + minute, "m")
        return pd.DatetimeIndex(local).tz_localize(TIMEZONE).tz_convert("UTC").as_unit("us")

    exit_lot = np.flatnonzero(closed)
    return SyntheticLedger(
        strategies=tuple(strategies),
        lot_id=lot_ids,
        strategy=np.asarray(strategy),
        symbol=names[symbol],
        entry_ts=at(entry_session, 15, 45),
        decimals=np.full(n_lots, 3),
        qty_units=qty_units,
        entry_cents=entry_cents,
        closed=closed,
        exit_lot=exit_lot,
        exit_ts=at(exit_session[exit_lot], 15, 50),
        exit_units=qty_units[exit_lot],
        exit_cents=cents[exit_session[exit_lot], symbol[exit_lot]],
    )
