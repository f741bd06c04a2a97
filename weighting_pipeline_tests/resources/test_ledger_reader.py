from decimal import Decimal

import pytest

import numpy as np
import pandas as pd

from weighting_pipeline.local.demo_ledger import synthetic_lots
from weighting_pipeline.resources.dynamodb import DynamoDBResource
from weighting_pipeline.resources.ledger_reader import LedgerReader
from weighting_pipeline_tests.conftest import seed_ledger

START, END = pd.Timestamp("2026-01-01", tz="UTC"), pd.Timestamp("2026-03-01", tz="UTC")


def reader(tables, **kw):
    return LedgerReader(dynamodb=DynamoDBResource(), table_name=tables["ledger"], **kw)


def raw_item(lot_id, strategy="gold", **overrides):
    item = {
        "PK": f"LOT#{lot_id}", "SK": "METADATA", "lot_id": lot_id, "strategy_name": strategy, "symbol": "GLD",
        "entry_timestamp": "2026-01-10T15:00:00Z", "entry_qty": Decimal("10"), "entry_price": Decimal("180.5"),
        "remaining_qty": Decimal(0), "is_open": False, "fully_closed_at": "2026-01-12T15:00:00Z",
        "exit_records": [{"exit_timestamp": "2026-01-12T15:00:00Z", "exit_qty": Decimal(10), "exit_price": Decimal("181"),
                          "realized_pnl": Decimal("5.0")}],
        "GSI5PK": f"STRATEGY_LOTS#{strategy}", "GSI5SK": f"CLOSED#GLD#{lot_id}",
    }
    item.update(overrides)
    return {k: v for k, v in item.items() if v is not None}


@pytest.mark.parametrize("plan", ["GSI7", "GSI5"])
def test_reads_exactly_the_window_with_pagination(tables, baseline, plan):
    lots = synthetic_lots(baseline.keys, "2025-07-01", "2026-04-01", 0.8, seed=21)
    seed_ledger(tables["ledger"], lots)
    read = reader(tables, page_size=40, index=plan).read_closed_lots(baseline.stems, START, END)
    expected = lots[(lots["fully_closed_at"] >= START) & (lots["fully_closed_at"] < END)]
    assert sorted(read.lots["lot_id"]) == sorted(expected["lot_id"])
    merged = read.lots.merge(expected, on="lot_id", suffixes=("", "_expected"))
    for col in ("entry_qty", "entry_price", "realized_pnl"):
        np.testing.assert_allclose(merged[col], merged[f"{col}_expected"], rtol=0, atol=1e-9)
    assert (merged["fully_closed_at"] == merged["fully_closed_at_expected"]).all()
    assert (merged["strategy"] == merged["strategy_expected"]).all()  # baseline keys, not ledger stems
    assert read.pages > len(baseline.keys)  # more than one page per strategy
    if plan == "GSI7":
        assert read.index == "GSI7-StrategyClosedAtIndex" and read.read_amplification <= 1.1
    else:  # no close-date key: DynamoDB reads all closed history, the filter trims what is sent
        assert read.index == "GSI5-StrategyLotsIndex" and read.scanned == len(lots)
        assert read.report.items < len(lots) and read.read_amplification > 3


def test_auto_uses_gsi7_when_the_table_has_it_and_gsi5_otherwise(tables, baseline, client):
    from weighting_pipeline.local.tables import create_ledger_table

    assert reader(tables).read_closed_lots(baseline.stems, START, END).index.startswith("GSI7")
    create_ledger_table(client, tables["ledger"] + "-gsi5", close_date_index=False)
    try:
        plain = LedgerReader(dynamodb=DynamoDBResource(), table_name=tables["ledger"] + "-gsi5")
        assert plain.read_closed_lots(baseline.stems, START, END).index.startswith("GSI5")
        with pytest.raises(ValueError, match="has no index GSI7"):
            LedgerReader(dynamodb=DynamoDBResource(), table_name=tables["ledger"] + "-gsi5", index="GSI7").read_closed_lots(baseline.stems, START, END)
    finally:
        client.delete_table(TableName=tables["ledger"] + "-gsi5")


def test_bad_items_are_skipped_counted_and_named(tables, baseline):
    items = [
        raw_item("ok-1"),
        raw_item("no-close", fully_closed_at=None),
        raw_item("naive", fully_closed_at="2026-01-12T15:00:00"),
        raw_item("garbled", fully_closed_at="yesterday-ish Z"),
        raw_item("open", is_open=True),
        raw_item("zero-qty", entry_qty=Decimal(0)),
        raw_item("no-exits", exit_records=[]),
        raw_item("closed-before-entry", fully_closed_at="2026-01-01T00:00:00Z"),
        raw_item("alias", strategy_name="not_gold"),
        raw_item("twice", strategy="gold"),
        {**raw_item("twice", strategy="beam_chain"), "PK": "LOT#twice-copy"},
    ]
    seed_ledger(tables["ledger"], synthetic_lots([], "2026-01-01", "2026-01-02"), items)
    # GSI5: the index every lot is in (GSI7 holds only lots that carry its keys)
    read = reader(tables, index="GSI5").read_closed_lots(baseline.stems, START, END)
    assert list(read.lots["lot_id"]) == ["ok-1"]
    skipped = read.report.skipped
    assert skipped["missing fully_closed_at"] == 1
    assert skipped["fully_closed_at has no UTC offset"] == 1
    assert skipped["fully_closed_at is not an ISO-8601 time"] == 1
    assert skipped["is_open is true"] == 1
    assert skipped["entry_qty and entry_price must be finite and > 0"] == 1
    assert skipped["exit_records missing or empty"] == 1
    assert skipped["fully_closed_at is before entry_timestamp"] == 1
    assert skipped["lot_id appears under two strategies"] == 1
    assert read.report.foreign_strategies == {"not_gold": 1}
    assert read.report.examples["is_open is true"] == ["open"]
    assert read.report.items == len(items)


def test_open_lots_are_not_read(tables, baseline):
    seed_ledger(tables["ledger"], synthetic_lots([], "2026-01-01", "2026-01-02"),
                [raw_item("open-1", GSI5SK="OPEN#GLD#2026", fully_closed_at=None, is_open=True)])
    read = reader(tables).read_closed_lots(baseline.stems, START, END)
    assert read.report.items == 0 and read.lots.empty


def test_raw_items_hook_returns_what_botocore_parses(tables, baseline):
    from weighting_pipeline.resources.ledger_reader import raw_query_items

    seed_ledger(tables["ledger"], synthetic_lots(baseline.keys, "2026-01-01", "2026-01-20", 1.0, seed=5), [raw_item("x1", is_open=True)])
    query = {"TableName": tables["ledger"], "IndexName": "GSI5-StrategyLotsIndex", "KeyConditionExpression": "GSI5PK = :pk",
             "ExpressionAttributeValues": {":pk": {"S": "STRATEGY_LOTS#gold"}}, "Limit": 7}
    plain = DynamoDBResource().new_client()
    hooked = DynamoDBResource().new_client()
    hooked.meta.events.register("before-parse.dynamodb.Query", raw_query_items)
    a, b = plain.query(**query), hooked.query(**query)
    assert a["Items"] and a["Items"] == b["Items"]
    assert a["LastEvaluatedKey"] == b["LastEvaluatedKey"] and a["Count"] == b["Count"]
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as err:  # errors still parse normally
        hooked.query(**{**query, "TableName": "no-such-table"})
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_raw_items_hook_leaves_a_truncated_body_to_botocore():
    """A connection cut mid-response gave the hook half a JSON body; it raised
    JSONDecodeError, which botocore does not retry, and the whole run failed."""
    from weighting_pipeline.resources.ledger_reader import raw_query_items

    body = b'{"Items":[{"lot_id":{"S":"a"}}],"Count":1,"ScannedCount":1}'
    response = {"status_code": 200, "headers": {}, "body": body[: len(body) // 2]}
    customized = {}
    raw_query_items(response_dict=response, customized_response_dict=customized)
    assert customized == {} and response["body"] == body[: len(body) // 2]


GOOD_EXIT = {"exit_timestamp": "2026-01-12T15:00:00Z", "exit_qty": Decimal(10), "exit_price": Decimal("181"), "realized_pnl": Decimal("5.0")}


@pytest.mark.parametrize(
    "overrides, reason",
    [
        ({"lot_id": Decimal(7)}, "lot_id missing or not a string"),
        ({"strategy_name": None}, "strategy_name missing or not a string"),
        ({"entry_qty": "10"}, "entry_qty or entry_price missing or not a number"),  # a number stored as a string
        ({"entry_price": "NaN"}, "entry_qty or entry_price missing or not a number"),  # DynamoDB numbers cannot be NaN
        ({"entry_price": None}, "entry_qty or entry_price missing or not a number"),
        ({"entry_qty": Decimal(-3)}, "entry_qty and entry_price must be finite and > 0"),
        ({"entry_price": Decimal("-1.5")}, "entry_qty and entry_price must be finite and > 0"),
        ({"fully_closed_at": Decimal(20260112)}, "missing fully_closed_at"),  # a string as a number
        ({"exit_records": "sold"}, "exit_records missing or empty"),
        ({"exit_records": ["sold"]}, "an exit record is not a map"),
        ({"exit_records": [{**GOOD_EXIT, "realized_pnl": "5"}]}, "an exit record has no finite realized_pnl"),
        ({"exit_records": [{**GOOD_EXIT, "exit_qty": None}]}, "an exit record has no finite exit_qty > 0"),
        ({"exit_records": [{**GOOD_EXIT, "exit_qty": Decimal(4)}]}, "exit quantities do not add up to entry_qty (partially closed)"),
        ({"is_open": True}, "is_open is true"),  # open, yet fully_closed_at is set
        ({"fully_closed_at": None, "is_open": False}, "missing fully_closed_at"),  # closed, yet no close time
        ({"entry_timestamp": None}, "entry_timestamp missing or not an ISO-8601 time"),
        ({"fully_closed_at": "2026-02-20T10:00:00Z"}, "fully_closed_at is in the future"),
    ],
)
def test_each_bad_item_is_skipped_with_its_reason(tables, baseline, overrides, reason):
    bad = {k: v for k, v in {**raw_item("bad-1"), **overrides}.items() if v is not None}
    seed_ledger(tables["ledger"], synthetic_lots([], "2026-01-01", "2026-01-02"), [raw_item("ok-1"), bad])
    now = pd.Timestamp("2026-02-15", tz="UTC")
    read = reader(tables, index="GSI5").read_closed_lots(baseline.stems, START, END, now=now)
    assert list(read.lots["lot_id"]) == ["ok-1"]
    assert dict(read.report.skipped) == {reason: 1}
    example = read.report.examples[reason][0]
    assert example == "bad-1" or example.startswith("<item ")


def test_exit_quantities_that_add_up_within_rounding_are_accepted(tables, baseline):
    exits = [{**GOOD_EXIT, "exit_qty": Decimal("3.3")}, {**GOOD_EXIT, "exit_qty": Decimal("6.7")}]
    seed_ledger(tables["ledger"], synthetic_lots([], "2026-01-01", "2026-01-02"), [raw_item("split", exit_records=exits)])
    read = reader(tables, index="GSI5").read_closed_lots(baseline.stems, START, END)
    assert list(read.lots["lot_id"]) == ["split"] and read.report.skipped_total == 0
    assert read.lots["realized_pnl"].iloc[0] == 10.0


def test_duplicate_lot_ids_across_pages_keep_the_first_and_count_the_rest(tables, baseline):
    items = [raw_item("dup"), {**raw_item("dup"), "PK": "LOT#dup-copy", "GSI5SK": "CLOSED#GLD#dup-copy"}, raw_item("other")]
    seed_ledger(tables["ledger"], synthetic_lots([], "2026-01-01", "2026-01-02"), items)
    read = reader(tables, index="GSI5", page_size=1).read_closed_lots(baseline.stems, START, END)
    assert read.pages >= 3  # one item per page: the copies came on different pages
    assert sorted(read.lots["lot_id"]) == ["dup", "other"]
    assert dict(read.report.skipped) == {"duplicate lot_id (kept the first)": 1}


def test_unicode_and_odd_strategy_names_round_trip(tables, tmp_path):
    from weighting_pipeline.core.baseline import parse_baseline

    names = ["ölfeld_λ.py", "spaces and #hash.clj", "日本株.clj"]
    odd = parse_baseline({"files": names, "allocations": {n: 1 / 3 for n in names}}, "test")
    lots = synthetic_lots(names, "2026-01-05", "2026-02-20", 1.0, seed=4)
    seed_ledger(tables["ledger"], lots)
    for plan in ("GSI5", "GSI7"):
        read = reader(tables, index=plan).read_closed_lots(odd.stems, START, END)
        assert read.report.skipped_total == 0
        assert sorted(read.lots["lot_id"]) == sorted(lots["lot_id"])
        assert set(read.lots["strategy"].astype(str)) == set(names)


def test_a_strategy_with_every_lot_out_of_window_reads_as_zero_lots(tables, baseline):
    lots = synthetic_lots(baseline.keys, "2025-06-01", "2025-08-01", 1.0, seed=5)
    seed_ledger(tables["ledger"], lots)
    read = reader(tables).read_closed_lots(baseline.stems, START, END)
    assert len(read.lots) == 0 and read.report.skipped_total == 0
    assert list(read.lots.columns) == list(lots.columns)


@pytest.mark.parametrize("which", ["missing", "wrong index keys"])
def test_a_missing_or_misshapen_ledger_table_fails_naming_it(tables, baseline, client, which):
    from weighting_pipeline.resources.table_schema import TableSchemaError

    name = tables["ledger"] + "-odd"
    if which == "wrong index keys":
        client.create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("PK", "SK", "GSI5PK", "strategy")],
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{
                "IndexName": "GSI5-StrategyLotsIndex", "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [{"AttributeName": "strategy", "KeyType": "HASH"}, {"AttributeName": "GSI5PK", "KeyType": "RANGE"}],
            }],
        )
    try:
        with pytest.raises(TableSchemaError) as err:
            LedgerReader(dynamodb=DynamoDBResource(), table_name=name).read_closed_lots(baseline.stems, START, END)
        message = str(err.value)
        assert name in message
        assert ("TRADE_LEDGER__TABLE_NAME" in message and "does not exist" in message) if which == "missing" else "expected [GSI5PK HASH (S), GSI5SK RANGE (S)]" in message
    finally:
        if which != "missing":
            client.delete_table(TableName=name)
