"""The one writer of test, demo and benchmark ledgers builds the trading system's items."""

from datetime import datetime
from decimal import Decimal

import pandas as pd
import pytest

from weighting_pipeline_devtools.demo_ledger import synthetic_ledger
from weighting_pipeline_devtools.ledger_writer import Exit, lot_item, write_items
from weighting_pipeline_tests.real_lot import REAL_ITEM


def _real_inputs(**overrides):
    exits = [
        Exit(
            datetime.fromisoformat(r["exit_timestamp"]),
            Decimal(r["exit_qty"]),
            Decimal(r["exit_price"]),
            r["exit_id"],
            r["exit_order_id"],
        )
        for r in REAL_ITEM["exit_records"]
    ]
    kwargs = dict(
        lot_id=REAL_ITEM["lot_id"],
        strategy_name="holy_grail",
        symbol="tqqq ",  # the schema upper-cases and strips
        entry_timestamp=datetime.fromisoformat(REAL_ITEM["entry_timestamp"]),
        entry_qty=Decimal("3.217"),
        entry_price=Decimal("71.42"),
        exits=exits,
        entry_order_id=REAL_ITEM["entry_order_id"],
        correlation_id=REAL_ITEM["correlation_id"],
        created_at=datetime.fromisoformat(REAL_ITEM["created_at"]),
    )
    return {**kwargs, **overrides}


def test_lot_item_builds_the_transcribed_real_item_field_for_field():
    assert lot_item(**_real_inputs()) == REAL_ITEM


def test_a_lot_with_a_remainder_stays_open_under_an_open_key():
    inputs = _real_inputs()
    item = lot_item(**{**inputs, "exits": inputs["exits"][:1]})
    assert item["is_open"] is True and "fully_closed_at" not in item
    assert item["GSI5SK"] == "OPEN#TQQQ#" + REAL_ITEM["entry_timestamp"]
    assert (item["remaining_qty"], item["realized_pnl"]) == ("2.017", "0.81600")


def test_an_exit_beyond_the_remaining_quantity_is_refused_as_record_exit_does():
    inputs = _real_inputs()
    extra = Exit(inputs["exits"][1].timestamp, Decimal("0.001"), Decimal("70"), "x", "y")
    with pytest.raises(ValueError, match="exceeds remaining qty"):
        lot_item(**{**inputs, "exits": [*inputs["exits"], extra]})


def test_the_proposed_close_date_keys_only_when_asked():
    assert "GSI7PK" not in lot_item(**_real_inputs())
    item = lot_item(**_real_inputs(), close_date_index=True)
    assert (item["GSI7PK"], item["GSI7SK"]) == ("STRATEGY_LOTS#holy_grail", REAL_ITEM["fully_closed_at"])


def test_a_synthetic_ledger_has_the_real_ledgers_shapes():
    ledger = synthetic_ledger(["ftlt/holy_grail.clj", "gold.clj"], "2026-01-01", "2026-04-01", 2.0, seed=3)
    items = list(ledger.items())
    closed = [i for i in items if not i["is_open"]]
    still_open = [i for i in items if i["is_open"]]
    assert {i["strategy_name"] for i in items} == {"holy_grail", "gold"}  # the file's stem
    for item in closed:
        assert set(item) == set(REAL_ITEM) and item["GSI5SK"].startswith("CLOSED#")
        assert item["fully_closed_at"] == item["exit_records"][-1]["exit_timestamp"]
    for item in still_open:
        assert set(item) == set(REAL_ITEM) - {"fully_closed_at"} and item["GSI5SK"].startswith("OPEN#")
    assert all(type(v) in (str, bool, list) for i in items for v in i.values())  # no numbers: str(Decimal) everywhere
    values = [v for i in items for v in (i["entry_qty"], i["remaining_qty"])]
    assert any("E" in v for v in values)  # str(Decimal) exponent forms, e.g. 0E-8
    assert any("." in i["entry_qty"] for i in items) and any("." not in i["entry_qty"] for i in items)
    times = [i["entry_timestamp"] for i in items]
    assert (
        all(t.endswith("+00:00") for t in times) and any("." not in t for t in times) and any("." in t for t in times)
    )
    days = lambda i: {r["exit_timestamp"][:10] for r in i["exit_records"]}  # noqa: E731
    assert any(len(days(i)) > 1 for i in closed)  # partial exits on different days
    assert any(i["exit_records"] for i in still_open) and any(
        i["remaining_qty"] in ("1", "0.001", "1E-8") for i in still_open
    )
    assert len(ledger.lots) == len(closed)
    exits = ledger.exits
    assert len(exits) == sum(len(i["exit_records"]) for i in items)
    assert exits["realized_pnl"].tolist() == [float(r["realized_pnl"]) for i in items for r in i["exit_records"]]


def test_written_items_are_stored_with_string_numbers(tables, client):
    ledger = synthetic_ledger(["gold.clj"], "2026-01-01", "2026-01-10", 1.0, seed=1)
    assert write_items(tables["ledger"], ledger.items()) == len(ledger.lot_id)
    stored = client.get_item(
        TableName=tables["ledger"], Key={"PK": {"S": f"LOT#{ledger.lot_id[0]}"}, "SK": {"S": "METADATA"}}
    )["Item"]
    assert set(stored["entry_qty"]) == {"S"} and set(stored["exit_records"]["L"][0]["M"]["realized_pnl"]) == {"S"}
    assert stored["EntityType"] == {"S": "STRATEGY_LOT"} and set(stored["is_open"]) == {"BOOL"}


def test_the_same_arguments_give_the_same_ledger():
    a = synthetic_ledger(["gold.clj"], "2026-01-01", "2026-02-01", 1.0, seed=9)
    b = synthetic_ledger(["gold.clj"], "2026-01-01", "2026-02-01", 1.0, seed=9)
    assert list(a.items()) == list(b.items())
    pd.testing.assert_frame_equal(a.lots, b.lots)
