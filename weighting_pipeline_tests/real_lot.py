"""One ledger item as the trading system writes it, transcribed by hand.

Built by following ``StrategyLot.record_exit`` and ``to_dynamodb_item`` in
``Josh-moreton/alchemiser-quant`` at 433bc3af
(``layers/shared/the_alchemiser/shared/schemas/strategy_lot.py``) for a lot
of 3.217 TQQQ bought at 71.42 and sold in two fills, 1.200 at 72.10 and
2.017 at 70.95:

* each exit's ``realized_pnl`` is ``(exit_price - entry_price) * exit_qty``
  in Decimal: ``0.68 * 1.200 = 0.81600`` and ``-0.47 * 2.017 = -0.94799``;
* the lot-level ``realized_pnl`` is their sum, ``-0.13199``;
  ``entry_cost_basis`` is ``3.217 * 71.42 = 229.75814``;
  ``remaining_qty`` is ``3.217 - 1.200 - 2.017 = 0.000``, which equals 0, so
  the lot closed at the second fill;
* numbers are ``str(Decimal)``, times ``datetime.isoformat()`` in UTC
  (the second fill has no fraction: its microseconds are 0).

It is the reference for ``ledger_writer.lot_item`` and the source every
malformed item in the tests is derived from (``raw_item``).
"""

from __future__ import annotations

import copy

REAL_ITEM = {
    "PK": "LOT#3f2a9c1e-5b7d-4e8a-9c21-6d4b0a7e1f35",
    "SK": "METADATA",
    "EntityType": "STRATEGY_LOT",
    "lot_id": "3f2a9c1e-5b7d-4e8a-9c21-6d4b0a7e1f35",
    "strategy_name": "holy_grail",
    "symbol": "TQQQ",
    "entry_order_id": "b6e0d4a2-1c3f-4e5a-8b7d-9f0e2c4a6b81",
    "correlation_id": "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f",
    "entry_timestamp": "2026-01-09T14:30:12.123456+00:00",
    "entry_qty": "3.217",
    "entry_price": "71.42",
    "entry_cost_basis": "229.75814",
    "remaining_qty": "0.000",
    "is_open": False,
    "exit_records": [
        {
            "exit_id": "e1a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8",
            "exit_order_id": "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d",
            "exit_timestamp": "2026-01-09T19:02:47.500000+00:00",
            "exit_qty": "1.200",
            "exit_price": "72.10",
            "realized_pnl": "0.81600",
        },
        {
            "exit_id": "f9e8d7c6-b5a4-4938-8271-6a5b4c3d2e1f",
            "exit_order_id": "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
            "exit_timestamp": "2026-01-12T15:45:00+00:00",
            "exit_qty": "2.017",
            "exit_price": "70.95",
            "realized_pnl": "-0.94799",
        },
    ],
    "realized_pnl": "-0.13199",
    "created_at": "2026-01-12T15:45:01.004312+00:00",
    "GSI5PK": "STRATEGY_LOTS#holy_grail",
    "GSI5SK": "CLOSED#TQQQ#2026-01-09T14:30:12.123456+00:00",
    "fully_closed_at": "2026-01-12T15:45:00+00:00",
}
REAL_PNL = 0.816 - 0.94799  # what the reader must make of it: the sum of the exits' floats


def raw_item(lot_id: str, strategy: str = "gold", **overrides) -> dict:
    """``REAL_ITEM`` as lot ``lot_id`` of ledger strategy ``strategy``, with
    ``overrides`` applied; an override of None removes the attribute."""
    item = copy.deepcopy(REAL_ITEM)
    item.update(
        PK=f"LOT#{lot_id}",
        lot_id=lot_id,
        strategy_name=strategy,
        GSI5PK=f"STRATEGY_LOTS#{strategy}",
    )
    item.update(overrides)
    return {k: v for k, v in item.items() if v is not None}


def exit_record(i: int = 1, **overrides) -> dict:
    """Exit record ``i`` of ``REAL_ITEM``, with ``overrides``."""
    return {**REAL_ITEM["exit_records"][i], **overrides}
