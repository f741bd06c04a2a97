from decimal import Decimal

import pandas as pd
import pytest

from weighting_pipeline.resources.dynamodb import DynamoDBResource
from weighting_pipeline.resources.ledger_reader import LedgerReader
from weighting_pipeline_devtools.demo_ledger import synthetic_ledger
from weighting_pipeline_tests.conftest import seed_ledger
from weighting_pipeline_tests.real_lot import REAL_ITEM, REAL_PNL, exit_record, raw_item

START, END = pd.Timestamp("2026-01-01", tz="UTC"), pd.Timestamp("2026-03-01", tz="UTC")


def reader(table, **kw):
    return LedgerReader(
        dynamodb=DynamoDBResource(), table_name=table if isinstance(table, str) else table["ledger"], **kw
    )


@pytest.fixture
def gsi7_ledger(tables, client):
    """A ledger table that also has the proposed close-date index (GSI7)."""
    from weighting_pipeline.ops.tables import create_ledger_table

    name = tables["ledger"] + "-gsi7"
    create_ledger_table(client, name, close_date_index=True)
    yield name
    client.delete_table(TableName=name)


def test_a_real_item_is_read_as_the_trading_system_wrote_it(tables):
    seed_ledger(tables["ledger"], None, [REAL_ITEM])
    stems = {"holy_grail": "ftlt/holy_grail.clj"}
    read = reader(tables).read_lots(stems, START, END)
    assert read.report.skipped_total == 0 and len(read.lots) == 1
    lot = read.lots.iloc[0]
    assert lot["lot_id"] == REAL_ITEM["lot_id"] and lot["strategy"] == "ftlt/holy_grail.clj"
    assert (lot["entry_qty"], lot["entry_price"], lot["realized_pnl"]) == (3.217, 71.42, REAL_PNL)
    assert lot["fully_closed_at"] == pd.Timestamp("2026-01-12T15:45:00Z")
    assert lot["entry_timestamp"] == pd.Timestamp("2026-01-09T14:30:12.123456Z")


@pytest.mark.parametrize("plan", ["GSI7", "GSI5"])
def test_reads_exactly_the_window_with_pagination(tables, gsi7_ledger, baseline, plan):
    table = gsi7_ledger if plan == "GSI7" else tables["ledger"]
    ledger = synthetic_ledger(baseline.keys, "2025-07-01", "2026-04-01", 0.8, seed=21)
    seed_ledger(table, ledger, close_date_index=plan == "GSI7")
    lots = ledger.lots
    read = reader(table, page_size=40, index=plan).read_lots(baseline.stems, START, END)
    expected = lots[(lots["fully_closed_at"] >= START) & (lots["fully_closed_at"] < END)]
    assert read.report.skipped_total == 0
    assert sorted(read.lots["lot_id"]) == sorted(expected["lot_id"])
    merged = read.lots.merge(expected, on="lot_id", suffixes=("", "_expected"))
    for col in ("entry_qty", "entry_price", "realized_pnl"):  # to the bit: the writer's frame is what parsing gives
        assert (merged[col] == merged[f"{col}_expected"]).all(), col
    assert (merged["fully_closed_at"] == merged["fully_closed_at_expected"]).all()
    assert (merged["entry_timestamp"] == merged["entry_timestamp_expected"]).all()
    assert (merged["strategy"] == merged["strategy_expected"]).all()  # baseline keys, not ledger stems
    assert read.pages > len(baseline.keys)  # more than one page per strategy
    # Exit records in the window, of open lots and of lots closed after it too, to the bit.
    exits = ledger.exits[(ledger.exits["exit_timestamp"] >= START) & (ledger.exits["exit_timestamp"] < END)]
    assert (~exits["lot_closed"]).any() and (exits.merge(lots, on="lot_id")["fully_closed_at"] >= END).any()
    got = read.exits.merge(
        exits, on=["lot_id", "exit_timestamp"], suffixes=("", "_expected"), how="outer", indicator=True
    )
    assert (got["_merge"] == "both").all() and len(got) == len(exits)
    assert (got["realized_pnl"] == got["realized_pnl_expected"]).all()
    assert (got["fully_closed_at"].isna() == ~got["lot_closed"]).all()
    n_open = len(ledger.lot_id) - int(ledger.closed.sum())  # every open lot is read: its exits are not indexed
    if plan == "GSI7":  # the close-date range starts at the (padded) window start
        assert read.index == "GSI7-StrategyClosedAtIndex"
        assert read.scanned == int((lots["fully_closed_at"] >= START - pd.Timedelta(days=1)).sum()) + n_open
    else:  # no close-date key: DynamoDB reads all closed history, the filter trims what is sent
        assert read.index == "GSI5-StrategyLotsIndex" and read.scanned == len(lots) + n_open
        assert read.report.items < len(lots) and read.read_amplification > 2


def test_auto_uses_gsi7_only_when_the_table_has_it(tables, gsi7_ledger, baseline):
    assert reader(gsi7_ledger).read_lots(baseline.stems, START, END).index.startswith("GSI7")
    assert reader(tables).read_lots(baseline.stems, START, END).index.startswith("GSI5")
    with pytest.raises(ValueError, match="has no index GSI7"):
        reader(tables, index="GSI7").read_lots(baseline.stems, START, END)


def test_local_ledger_tables_have_the_real_tables_key_schema_and_indexes(tables, client):
    table = client.describe_table(TableName=tables["ledger"])["Table"]
    assert [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]] == [("PK", "HASH"), ("SK", "RANGE")]
    indexes = {
        g["IndexName"]: [(k["AttributeName"], k["KeyType"]) for k in g["KeySchema"]]
        for g in table["GlobalSecondaryIndexes"]
    }
    assert indexes == {
        f"GSI{i}-{name}Index": [(f"GSI{i}PK", "HASH"), (f"GSI{i}SK", "RANGE")]
        for i, name in enumerate(["Correlation", "Symbol", "Strategy", "CorrelationSnapshot", "StrategyLots"], start=1)
    }


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
        {**raw_item("twice", strategy="defence"), "PK": "LOT#twice-copy"},
    ]
    seed_ledger(tables["ledger"], None, items)
    read = reader(tables).read_lots(baseline.stems, START, END)
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


def open_item(lot_id: str, **overrides) -> dict:
    """``REAL_ITEM`` after its first fill only: open, 2.017 left, under an ``OPEN#`` key."""
    fields = dict(
        GSI5SK="OPEN#TQQQ#" + REAL_ITEM["entry_timestamp"],
        fully_closed_at=None,
        is_open=True,
        remaining_qty="2.017",
        exit_records=[exit_record(0)],
        realized_pnl="0.81600",
    )
    return raw_item(lot_id, **{**fields, **overrides})


def test_open_lots_add_their_exit_records_not_lots(tables, baseline):
    never_sold = open_item("open-0", exit_records=[])
    seed_ledger(tables["ledger"], None, [open_item("open-1"), never_sold, raw_item("closed-1")])
    read = reader(tables).read_lots(baseline.stems, START, END)
    assert read.report.skipped_total == 0
    assert list(read.lots["lot_id"]) == ["closed-1"]
    rows = read.exits[
        ["lot_id", "exit_seq", "exit_timestamp", "realized_pnl", "entry_qty", "entry_price"]
    ].values.tolist()
    t0, t1 = pd.Timestamp(exit_record(0)["exit_timestamp"]), pd.Timestamp(exit_record(1)["exit_timestamp"])
    assert rows == [
        ["closed-1", 0, t0, 0.816, 3.217, 71.42],
        ["open-1", 0, t0, 0.816, 3.217, 71.42],
        ["closed-1", 1, t1, -0.94799, 3.217, 71.42],
    ]
    assert read.exits["fully_closed_at"].isna().tolist() == [False, True, False]
    assert read.report.items == 2  # the lot that never sold is not returned (it has no exit records)


def test_positions_hold_every_lot_held_in_the_window_open_lots_never_sold_from_too(tables, baseline):
    never_sold = open_item("open-0", exit_records=[], remaining_qty="3.217", realized_pnl="0")
    later = open_item(
        "open-later", exit_records=[], entry_timestamp="2026-03-01T15:00:00+00:00"
    )  # after the window, inside the read's pad
    seed_ledger(tables["ledger"], None, [open_item("open-1"), never_sold, later, raw_item("closed-1")])
    now = pd.Timestamp("2026-03-05", tz="UTC")
    read = reader(tables).read_lots(baseline.stems, START, END, now=now, positions=True)
    assert read.report.skipped_total == 0 and read.report.items == 4  # the OPEN# read no longer asks for an exit
    rows = read.positions[["lot_id", "exit_seq", "exit_qty", "realized_pnl"]].values.tolist()
    assert rows == [
        ["closed-1", 0, 1.2, 0.816],
        ["open-1", 0, 1.2, 0.816],
        ["closed-1", 1, 2.017, -0.94799],
        ["closed-1", -1, 0.0, 0.0],
        ["open-0", -1, 0.0, 0.0],
        ["open-1", -1, 0.0, 0.0],
    ]
    entry = read.positions[read.positions["exit_seq"] == -1].set_index("lot_id")
    assert entry.loc["open-0", ["entry_qty", "entry_price"]].tolist() == [3.217, 71.42] and pd.isna(
        entry.loc["open-0", "exit_timestamp"]
    )
    # The lot basis reads what it always read: no positions, and no lot without exits.
    plain = reader(tables).read_lots(baseline.stems, START, END, now=now)
    assert plain.positions is None and plain.report.items == 2
    with pytest.raises(ValueError, match="this read did not ask for them"):
        plain.bookings("exit", "deployed")


@pytest.mark.parametrize(
    "overrides, reason",
    [
        ({"entry_timestamp": "2026-02-20T15:00:00+00:00"}, "entry_timestamp is in the future"),
        ({"entry_timestamp": "soon"}, "entry_timestamp missing or not an ISO-8601 time"),
        ({"exit_records": None}, "exit_records missing or not a list"),
        ({"entry_qty": "NaN"}, "entry_qty missing or not a finite decimal"),
    ],
)
def test_each_bad_lot_never_sold_from_is_skipped_with_its_reason(tables, baseline, overrides, reason):
    seed_ledger(
        tables["ledger"],
        None,
        [open_item("ok-0", exit_records=[]), open_item("bad-0", **{"exit_records": [], **overrides})],
    )
    read = reader(tables).read_lots(
        baseline.stems, START, END, now=pd.Timestamp("2026-02-15", tz="UTC"), positions=True
    )
    assert dict(read.report.skipped) == {reason: 1} and read.report.examples[reason] == ["bad-0"]
    assert read.positions["lot_id"].tolist() == ["ok-0"]


def test_a_lot_closed_after_the_window_brings_its_exits_inside_it(tables, baseline):
    seed_ledger(tables["ledger"], None, [REAL_ITEM])  # fills on Jan 9 and Jan 12, closed on Jan 12
    read = reader(tables).read_lots({"holy_grail": "ftlt/holy_grail.clj"}, START, pd.Timestamp("2026-01-11", tz="UTC"))
    assert read.lots.empty and read.report.skipped_total == 0
    assert read.exits["realized_pnl"].tolist() == [0.816]
    assert read.exits["fully_closed_at"].tolist() == [pd.Timestamp(REAL_ITEM["fully_closed_at"])]


@pytest.mark.parametrize(
    "overrides, reason",
    [
        ({"is_open": False}, "is_open is not true under an OPEN# sort key"),
        ({"exit_records": [exit_record(0, exit_qty="3.3")]}, "exit quantities exceed entry_qty"),
        (
            {"exit_records": [exit_record(0, exit_timestamp=None)]},
            "an exit record has no exit_timestamp with a UTC offset",
        ),
        (
            {"exit_records": [exit_record(0, exit_timestamp="2026-01-09T19:02:47")]},
            "an exit record has no exit_timestamp with a UTC offset",
        ),
        (
            {"exit_records": [exit_record(0, exit_timestamp="2026-01-39T19:02:47Z")]},
            "an exit record's exit_timestamp is not an ISO-8601 time",
        ),
        (
            {"exit_records": [exit_record(0, exit_timestamp="2026-01-08T19:02:47+00:00")]},
            "an exit record is before entry_timestamp",
        ),
        (
            {"exit_records": [exit_record(0, exit_timestamp="2026-02-20T19:02:47+00:00")]},
            "an exit record is in the future",
        ),
        ({"entry_timestamp": "soon"}, "entry_timestamp missing or not an ISO-8601 time"),
    ],
)
def test_each_bad_open_lot_is_skipped_with_its_reason(tables, baseline, overrides, reason):
    seed_ledger(tables["ledger"], None, [open_item("ok-1"), open_item("bad-1", **overrides)])
    read = reader(tables).read_lots(baseline.stems, START, END, now=pd.Timestamp("2026-02-15", tz="UTC"))
    assert dict(read.report.skipped) == {reason: 1} and read.report.examples[reason] == ["bad-1"]
    assert read.exits["lot_id"].tolist() == ["ok-1"]


def test_raw_items_hook_returns_what_botocore_parses(tables, baseline):
    from weighting_pipeline.resources.ledger_reader import raw_query_items

    seed_ledger(
        tables["ledger"],
        synthetic_ledger(baseline.keys, "2026-01-01", "2026-01-20", 1.0, seed=5),
        [raw_item("x1", is_open=True)],
    )
    query = {
        "TableName": tables["ledger"],
        "IndexName": "GSI5-StrategyLotsIndex",
        "KeyConditionExpression": "GSI5PK = :pk",
        "ExpressionAttributeValues": {":pk": {"S": "STRATEGY_LOTS#gold"}},
        "Limit": 7,
    }
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


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({}, (3.217, 71.42, REAL_PNL)),  # the real item: numbers as S, times with +00:00, one without a fraction
        (
            {
                "entry_qty": Decimal("3.217"),
                "entry_price": Decimal("71.42"),  # DynamoDB numbers (N) are read too
                "exit_records": [
                    exit_record(0, exit_qty=Decimal("1.2"), realized_pnl=Decimal("0.816")),
                    exit_record(1, exit_qty=Decimal("2.017"), realized_pnl=Decimal("-0.94799")),
                ],
            },
            (3.217, 71.42, REAL_PNL),
        ),
        ({"entry_qty": "3217E-3"}, (3.217, 71.42, REAL_PNL)),  # str(Decimal) exponent forms
        ({"entry_price": "1.2E+3"}, (3.217, 1200.0, REAL_PNL)),
        (
            {"exit_records": [exit_record(0, exit_qty="12E-1", realized_pnl="0E-8"), exit_record(1, exit_qty="2.017")]},
            (3.217, 71.42, -0.94799),
        ),
        ({"exit_records": [exit_record(0, realized_pnl="-1.5E+2"), exit_record(1)]}, (3.217, 71.42, -150 - 0.94799)),
        (
            {
                "entry_qty": "0.12345678",
                "exit_records": [exit_record(0, exit_qty="0.12345678", realized_pnl="0.0839506104")],
            },
            (0.12345678, 71.42, 0.0839506104),
        ),
        # attributes the pipeline does not use are not checked
        (
            {
                "remaining_qty": "0E-8",
                "entry_cost_basis": "not a number",
                "realized_pnl": "NaN",
                "exit_records": [exit_record(0, exit_price="?"), exit_record(1, exit_price=None)],
            },
            (3.217, 71.42, REAL_PNL),
        ),
        # isoformat with and without a fraction, and other offsets
        (
            {"entry_timestamp": "2026-01-09T14:30:12+00:00", "fully_closed_at": "2026-01-12T15:45:00.000001+00:00"},
            (3.217, 71.42, REAL_PNL),
        ),
        ({"fully_closed_at": "2026-01-12T10:45:00-05:00"}, (3.217, 71.42, REAL_PNL)),
    ],
)
def test_each_real_format_field_is_read(tables, baseline, overrides, expected):
    seed_ledger(tables["ledger"], None, [raw_item("real", **overrides)])
    read = reader(tables).read_lots(baseline.stems, START, END, now=pd.Timestamp("2026-02-15", tz="UTC"))
    assert dict(read.report.skipped) == {}
    lot = read.lots.iloc[0]
    assert (lot["entry_qty"], lot["entry_price"], lot["realized_pnl"]) == expected
    assert lot["fully_closed_at"] == pd.Timestamp(overrides.get("fully_closed_at", REAL_ITEM["fully_closed_at"]))


@pytest.mark.parametrize(
    "overrides, reason",
    [
        ({"lot_id": Decimal(7)}, "lot_id missing or not a string"),
        ({"strategy_name": None}, "strategy_name missing or not a string"),
        ({"entry_qty": "three"}, "entry_qty missing or not a finite decimal"),
        ({"entry_qty": "1,5"}, "entry_qty missing or not a finite decimal"),
        ({"entry_qty": None}, "entry_qty missing or not a finite decimal"),
        ({"entry_price": "NaN"}, "entry_price missing or not a finite decimal"),  # str(Decimal("NaN"))
        ({"entry_price": "Infinity"}, "entry_price missing or not a finite decimal"),
        ({"entry_price": "sNaN"}, "entry_price missing or not a finite decimal"),
        ({"entry_price": ""}, "entry_price missing or not a finite decimal"),
        ({"entry_price": True}, "entry_price missing or not a finite decimal"),
        ({"entry_price": None}, "entry_price missing or not a finite decimal"),
        ({"entry_qty": "-3.217"}, "entry_qty and entry_price must be finite and > 0"),
        ({"entry_qty": Decimal(-3)}, "entry_qty and entry_price must be finite and > 0"),
        ({"entry_price": "0E-8"}, "entry_qty and entry_price must be finite and > 0"),
        ({"fully_closed_at": Decimal(20260112)}, "missing fully_closed_at"),  # a string as a number
        ({"exit_records": "sold"}, "exit_records missing or empty"),
        ({"exit_records": ["sold"]}, "an exit record is not a map"),
        (
            {"exit_records": [exit_record(0, realized_pnl="five"), exit_record(1)]},
            "an exit record has no finite realized_pnl",
        ),
        (
            {"exit_records": [exit_record(0, realized_pnl="-Infinity"), exit_record(1)]},
            "an exit record has no finite realized_pnl",
        ),
        (
            {"exit_records": [exit_record(0), exit_record(1, realized_pnl=None)]},
            "an exit record has no finite realized_pnl",
        ),
        (
            {"exit_records": [exit_record(0, exit_qty=None), exit_record(1)]},
            "an exit record has no finite exit_qty > 0",
        ),
        (
            {"exit_records": [exit_record(0, exit_qty="0E-3"), exit_record(1)]},
            "an exit record has no finite exit_qty > 0",
        ),
        (
            {"exit_records": [exit_record(0, exit_qty="1.2E+3"), exit_record(1)]},
            "exit quantities do not add up to entry_qty (partially closed)",
        ),
        ({"exit_records": [exit_record(1)]}, "exit quantities do not add up to entry_qty (partially closed)"),
        ({"is_open": True}, "is_open is true"),  # open, yet fully_closed_at is set
        ({"fully_closed_at": None, "is_open": False}, "missing fully_closed_at"),  # closed, yet no close time
        ({"entry_timestamp": None}, "entry_timestamp missing or not an ISO-8601 time"),
        ({"fully_closed_at": "2026-02-20T10:00:00+00:00"}, "fully_closed_at is in the future"),
        ({"entry_timestamp": "2026-01-09 at 14:30"}, "entry_timestamp missing or not an ISO-8601 time"),
        ({"fully_closed_at": "2026-01-12T15:45:00"}, "fully_closed_at has no UTC offset"),
        (
            {"exit_records": [exit_record(0, exit_timestamp="2026-01-13T10:00:00+00:00"), exit_record(1)]},
            "an exit record is after fully_closed_at",
        ),
        (
            {"exit_records": [exit_record(0, exit_timestamp="09/01/2026 19:02Z"), exit_record(1)]},
            "an exit record's exit_timestamp is not an ISO-8601 time",
        ),
        (
            {"exit_records": [exit_record(0), exit_record(1, exit_timestamp=None)]},
            "an exit record has no exit_timestamp with a UTC offset",
        ),
    ],
)
def test_each_bad_item_is_skipped_with_its_reason(tables, baseline, overrides, reason):
    bad = {k: v for k, v in {**raw_item("bad-1"), **overrides}.items() if v is not None}
    seed_ledger(tables["ledger"], None, [raw_item("ok-1"), bad])
    now = pd.Timestamp("2026-02-15", tz="UTC")
    read = reader(tables).read_lots(baseline.stems, START, END, now=now)
    assert list(read.lots["lot_id"]) == ["ok-1"] and set(read.exits["lot_id"]) == {
        "ok-1"
    }  # a skipped lot brings no exits
    assert dict(read.report.skipped) == {reason: 1}
    example = read.report.examples[reason][0]
    assert example == "bad-1" or example.startswith("<item ")


def test_exit_quantities_that_add_up_within_rounding_are_accepted(tables, baseline):
    # 1.1 + 2.117 is 3.2169999999999996 in float64, not 3.217
    exits = [
        exit_record(0, exit_qty="1.1", realized_pnl="0.748"),
        exit_record(1, exit_qty="2.117", realized_pnl="-0.99499"),
    ]
    seed_ledger(tables["ledger"], None, [raw_item("split", exit_records=exits)])
    read = reader(tables).read_lots(baseline.stems, START, END)
    assert list(read.lots["lot_id"]) == ["split"] and read.report.skipped_total == 0
    assert read.lots["realized_pnl"].iloc[0] == 0.748 - 0.99499


def test_duplicate_lot_ids_across_pages_keep_the_first_and_count_the_rest(tables, baseline):
    items = [raw_item("dup"), {**raw_item("dup"), "PK": "LOT#dup-copy"}, raw_item("other")]
    seed_ledger(tables["ledger"], None, items)
    read = reader(tables, page_size=1).read_lots(baseline.stems, START, END)
    assert read.pages >= 3  # one item per page: the copies came on different pages
    assert sorted(read.lots["lot_id"]) == ["dup", "other"]
    assert dict(read.report.skipped) == {"duplicate lot_id (kept the first)": 1}


def test_unicode_and_odd_strategy_names_round_trip(tables, tmp_path):
    from weighting_pipeline.core.baseline import parse_baseline

    names = ["ölfeld_λ.py", "spaces and #hash.clj", "日本株.clj"]
    odd = parse_baseline({"files": names, "allocations": {n: 1 / 3 for n in names}}, "test")
    ledger = synthetic_ledger(names, "2026-01-05", "2026-02-20", 1.0, seed=4)
    seed_ledger(tables["ledger"], ledger)
    read = reader(tables).read_lots(odd.stems, START, END)
    assert read.report.skipped_total == 0
    assert sorted(read.lots["lot_id"]) == sorted(ledger.lots["lot_id"])
    assert set(read.lots["strategy"].astype(str)) == set(names)


def test_a_strategy_with_every_lot_out_of_window_reads_as_zero_lots(tables, baseline):
    ledger = synthetic_ledger(baseline.keys, "2025-06-01", "2025-08-01", 1.0, seed=5)
    seed_ledger(tables["ledger"], ledger)
    read = reader(tables).read_lots(baseline.stems, START, END)
    assert len(read.lots) == 0 and read.report.skipped_total == 0
    assert list(read.lots.columns) == list(ledger.lots.columns)


@pytest.mark.parametrize("which", ["missing", "wrong index keys"])
def test_a_missing_or_misshapen_ledger_table_fails_naming_it(tables, baseline, client, which):
    from weighting_pipeline.resources.table_schema import TableSchemaError

    name = tables["ledger"] + "-odd"
    if which == "wrong index keys":
        client.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": a, "AttributeType": "S"} for a in ("PK", "SK", "GSI5PK", "strategy")
            ],
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "GSI5-StrategyLotsIndex",
                    "Projection": {"ProjectionType": "ALL"},
                    "KeySchema": [
                        {"AttributeName": "strategy", "KeyType": "HASH"},
                        {"AttributeName": "GSI5PK", "KeyType": "RANGE"},
                    ],
                }
            ],
        )
    try:
        with pytest.raises(TableSchemaError) as err:
            LedgerReader(dynamodb=DynamoDBResource(), table_name=name).read_lots(baseline.stems, START, END)
        message = str(err.value)
        assert name in message
        assert (
            ("TRADE_LEDGER__TABLE_NAME" in message and "does not exist" in message)
            if which == "missing"
            else "expected [GSI5PK HASH (S), GSI5SK RANGE (S)]" in message
        )
    finally:
        if which != "missing":
            client.delete_table(TableName=name)
