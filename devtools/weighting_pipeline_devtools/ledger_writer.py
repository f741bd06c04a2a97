"""Trade-ledger lot items exactly as the trading system writes them.

Every ledger this project writes (the demo, the benchmarks, ``./run.sh stack``,
every test) goes through ``lot_item`` and ``write_items``, so the pipeline is
only ever tested on the format the trading system really stores. The model is
``Josh-moreton/alchemiser-quant`` at 433bc3af,
``layers/shared/the_alchemiser/shared/schemas/strategy_lot.py``:

* ``StrategyLot.record_exit``: each exit's ``realized_pnl`` is
  ``(exit_price - entry_price) * exit_qty`` in Decimal; ``remaining_qty``
  falls by ``exit_qty``; the lot closes (``is_open`` false, ``fully_closed_at``
  = that exit's time) only when ``remaining_qty == 0`` exactly;
* ``StrategyLot.to_dynamodb_item``: every number is ``str(Decimal)`` (so
  ``"0E-8"`` happens), every time is ``datetime.isoformat()`` of an aware UTC
  time (``+00:00``, no fraction when the microseconds are 0), and the GSI5 sort
  key is ``OPEN#`` or ``CLOSED#`` + symbol + entry time;
* ``DynamoDBTradeLedgerRepository.put_lot``: boto3's resource API, so the
  strings stay strings (type S).

``created_at`` is ``datetime.now(UTC)`` at the put in the trading system; here
it is the lot's last event plus one second, so items are reproducible.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

ZERO = Decimal("0")


@dataclass(frozen=True)
class Exit:
    """One fill against a lot (``LotExitRecord`` without the derived P&L)."""

    timestamp: datetime  # tz-aware
    qty: Decimal
    price: Decimal
    exit_id: str
    exit_order_id: str


def lot_item(
    *,
    lot_id: str,
    strategy_name: str,
    symbol: str,
    entry_timestamp: datetime,
    entry_qty: Decimal,
    entry_price: Decimal,
    exits: Sequence[Exit],
    entry_order_id: str,
    correlation_id: str,
    created_at: datetime | None = None,
    close_date_index: bool = False,
) -> dict:
    """The item ``StrategyLot.to_dynamodb_item()`` returns for this lot after
    ``record_exit`` was called once per exit, in order.

    ``strategy_name`` is the ledger name (the strategy file's stem). With
    ``close_date_index`` a closed lot also carries ``GSI7PK``/``GSI7SK``:
    that index is a proposal for the trading system's table
    (``deploy/cloudformation/ledger-close-date-index.yaml``), not part of it.
    """
    remaining = entry_qty
    records, closed_at, realized = [], None, ZERO
    for e in exits:
        if closed_at is not None or e.qty > remaining:
            raise ValueError(f"lot {lot_id}: exit qty {e.qty} exceeds remaining qty {remaining}")
        pnl = (e.price - entry_price) * e.qty
        records.append(
            {
                "exit_id": e.exit_id,
                "exit_order_id": e.exit_order_id,
                "exit_timestamp": e.timestamp.isoformat(),
                "exit_qty": str(e.qty),
                "exit_price": str(e.price),
                "realized_pnl": str(pnl),
            }
        )
        realized += pnl
        remaining -= e.qty
        if remaining == ZERO:
            closed_at = e.timestamp
    symbol = symbol.strip().upper()
    last_event = max([entry_timestamp] + [e.timestamp for e in exits])
    item = {
        "PK": f"LOT#{lot_id}",
        "SK": "METADATA",
        "EntityType": "STRATEGY_LOT",
        "lot_id": lot_id,
        "strategy_name": strategy_name,
        "symbol": symbol,
        "entry_order_id": entry_order_id,
        "correlation_id": correlation_id,
        "entry_timestamp": entry_timestamp.isoformat(),
        "entry_qty": str(entry_qty),
        "entry_price": str(entry_price),
        "entry_cost_basis": str(entry_qty * entry_price),
        "remaining_qty": str(remaining),
        "is_open": closed_at is None,
        "exit_records": records,
        "realized_pnl": str(realized),  # sum over exits, from Decimal("0"), as the computed field
        "created_at": (created_at or last_event + timedelta(seconds=1)).isoformat(),
        "GSI5PK": f"STRATEGY_LOTS#{strategy_name}",
        "GSI5SK": f"{'OPEN' if closed_at is None else 'CLOSED'}#{symbol}#{entry_timestamp.isoformat()}",
    }
    if closed_at is not None:
        item["fully_closed_at"] = closed_at.isoformat()
        if close_date_index:
            item["GSI7PK"] = item["GSI5PK"]
            item["GSI7SK"] = item["fully_closed_at"]
    return item


def write_items(table_name: str, items: Iterable[dict]) -> int:
    """Put ledger items with boto3's resource API, as the trading system's
    repository does (batched: 25 puts a request, unprocessed ones re-sent).
    Returns the number of items written."""
    import boto3

    table = boto3.resource("dynamodb", region_name=os.environ.get("AWS_REGION")).Table(table_name)
    n = 0
    with table.batch_writer(overwrite_by_pkeys=["PK", "SK"]) as batch:
        for item in items:
            batch.put_item(Item=item)
            n += 1
    return n
