from decimal import Decimal
from unittest.mock import patch

import pandas as pd
import pytest
from botocore.exceptions import EndpointConnectionError

from weighting_pipeline.publication.item import is_tombstone, tombstone
from weighting_pipeline.resources.dynamodb import DynamoDBResource
from weighting_pipeline.resources.weights_table import WeightsTable, WeightsWriteError, to_wire


def week(key, started=1000, run_id="r"):
    return {
        "PK": "WEIGHTS#WEEK",
        "SK": key,
        "partition_key": key,
        "weights": {"a.clj": Decimal("1")},
        "ttl": 4102444800,
        "run_id": run_id,
        "run_started_at": Decimal(started),
    }


def table(tables, **kw):
    return WeightsTable(dynamodb=DynamoDBResource(), table_name=tables["weights"], **kw)


def test_many_weeks_are_one_conditional_put_each_and_round_trip(tables):
    t = table(tables)
    keys = [f"2025-{m:02d}-{d:02d}" for m in range(1, 3) for d in range(1, 16)]  # 30 weeks
    result = t.put_weeks([week(k) for k in keys])
    assert result.requests == 30 and sorted(result.written) == keys and result.superseded == {}
    client = DynamoDBResource().get_client()
    for k in keys:
        assert t.get_week(k, client)["weights"] == {"a.clj": Decimal("1")}


def test_an_item_from_a_later_run_is_left_in_place_and_reported(tables):
    t = table(tables)
    assert t.put_weeks([week("2026-01-04", started=2000, run_id="newer")]).written == ["2026-01-04"]
    result = t.put_weeks(
        [week("2026-01-04", started=1000, run_id="older"), week("2026-01-11", started=1000, run_id="older")]
    )
    assert result.written == ["2026-01-11"]
    assert result.superseded["2026-01-04"]["run_id"] == "newer"
    assert t.get_week("2026-01-04")["run_id"] == "newer"
    # The same start time wins: a retry of the run that wrote the week (it keeps its root run's time).
    assert t.put_weeks([week("2026-01-04", started=2000, run_id="newer-retry")]).written == ["2026-01-04"]
    assert t.put_weeks([week("2026-01-04", started=3000, run_id="newest")]).written == ["2026-01-04"]
    assert t.get_week("2026-01-04")["run_id"] == "newest"


def test_an_item_written_before_run_started_at_existed_is_replaced(tables, client):
    legacy = to_wire({k: v for k, v in week("2026-01-04", run_id="legacy").items() if k != "run_started_at"})
    client.put_item(TableName=tables["weights"], Item=legacy)
    assert table(tables).put_weeks([week("2026-01-04", started=1)]).written == ["2026-01-04"]


def test_a_tombstone_holds_against_older_runs_only(tables):
    # Unpublished now, as `unpublish` does: a tombstone stamped with an old time
    # carries an expired ttl, and DynamoDB Local's TTL sweeper may delete it mid-test.
    at = pd.Timestamp.now(tz="UTC").floor("s")
    now = int(at.timestamp())
    t = table(tables)
    t.put_weeks([week("2026-01-04", started=now - 1000, run_id="first")])
    replaced = t.replace_week(
        tombstone("2026-01-04", by="ops", reason="bad week", at=at, replaced=t.get_week("2026-01-04"))
    )
    assert replaced["run_id"] == "first"
    stored = t.get_week("2026-01-04")
    assert is_tombstone(stored) and stored["unpublished"]["replaced_run_id"] == "first" and "weights" not in stored
    assert stored["ttl"] > now  # alive for as long as any run that could publish over it
    assert (
        t.put_weeks([week("2026-01-04", started=now - 500, run_id="slow")]).superseded["2026-01-04"]["unpublished"][
            "by"
        ]
        == "ops"
    )
    assert is_tombstone(t.get_week("2026-01-04"))
    assert t.put_weeks([week("2026-01-04", started=now + 500, run_id="after")]).written == ["2026-01-04"]
    assert t.get_week("2026-01-04")["run_id"] == "after"


def test_a_failed_request_names_written_and_unwritten_weeks_and_the_others_land(tables):
    t = table(tables)
    client = DynamoDBResource().new_client()
    real = client.put_item

    def put_item(**kwargs):  # the fault: one week's request fails after botocore's retries
        if kwargs["Item"]["SK"]["S"] == "2026-01-11":
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
        return real(**kwargs)

    items = [week(k) for k in ("2026-01-04", "2026-01-11", "2026-01-18")]
    with patch.object(client, "put_item", side_effect=put_item), pytest.raises(WeightsWriteError) as err:
        t.put_weeks(items, client=client)
    assert err.value.written == ["2026-01-04", "2026-01-18"] and err.value.not_written == ["2026-01-11"]
    assert "2026-01-11" in str(err.value) and "EndpointConnectionError" in str(err.value)
    assert t.get_week("2026-01-18") is not None and t.get_week("2026-01-11") is None


def test_an_item_without_run_started_at_is_refused_before_any_write(tables):
    t = table(tables)
    bare = {k: v for k, v in week("2026-01-11").items() if k != "run_started_at"}
    with pytest.raises(ValueError, match="2026-01-11.*run_started_at"):
        t.put_weeks([week("2026-01-04"), bare])
    assert t.get_week("2026-01-04") is None


@pytest.mark.parametrize("which", ["missing", "wrong key schema"])
def test_a_missing_or_misshapen_weights_table_fails_before_writing(tables, client, which):
    from weighting_pipeline.resources.table_schema import TableSchemaError

    name = tables["weights"] + "-odd"
    if which == "wrong key schema":
        client.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "partition_key", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "partition_key", "KeyType": "HASH"}],
        )
    try:
        t = WeightsTable(dynamodb=DynamoDBResource(), table_name=name)
        with pytest.raises(TableSchemaError) as err:
            t.put_weeks([week("2026-01-04"), week("2026-01-11")])
        message = str(err.value)
        assert name in message
        if which == "missing":
            assert "STRATEGY_WEIGHTS__TABLE_NAME" in message and "does not exist" in message
        else:
            assert "expected [PK HASH (S), SK RANGE (S)]" in message
            assert client.scan(TableName=name)["Count"] == 0  # nothing written (a test-only Scan)
    finally:
        if which != "missing":
            client.delete_table(TableName=name)


@pytest.mark.parametrize("ttl_days", [0, -1])
def test_ttl_days_must_be_positive(ttl_days):
    from pydantic import ValidationError

    from weighting_pipeline.resources.publication_log import PublicationLog
    from weighting_pipeline.resources.weights_io_manager import DynamoDBWeightsIOManager

    with pytest.raises(ValidationError, match="ttl_days") as refused:
        DynamoDBWeightsIOManager(
            table=WeightsTable(dynamodb=DynamoDBResource(), table_name="t"),
            log=PublicationLog(base_path="unused"),
            ttl_days=ttl_days,
        )
    assert [e["loc"] for e in refused.value.errors()] == [("ttl_days",)]  # only ttl_days: no argument it lacks
