from decimal import Decimal

import pytest
from botocore.stub import Stubber

from weighting_pipeline.resources.dynamodb import DynamoDBResource
from weighting_pipeline.resources.weights_table import WeightsTable, WeightsWriteError, to_wire


def week(key):
    return {"PK": "WEIGHTS#WEEK", "SK": key, "partition_key": key, "weights": {"a.clj": Decimal("1")}, "ttl": 4102444800}


def table(tables, **kw):
    return WeightsTable(dynamodb=DynamoDBResource(), table_name=tables["weights"], **kw)


def test_batch_writes_respect_the_25_item_limit_and_round_trip(tables):
    t = table(tables)
    keys = [f"2025-{m:02d}-{d:02d}" for m in range(1, 3) for d in range(1, 16)]  # 30 weeks
    stats = t.put_weeks([week(k) for k in keys])
    assert stats["requests"] == 2  # 25 + 5: DynamoDB Local rejects a 26-item batch outright
    client = DynamoDBResource().get_client()
    for k in keys:
        assert t.get_week(k, client)["weights"] == {"a.clj": Decimal("1")}


def test_single_week_uses_put_item(tables):
    t = table(tables)
    assert t.put_weeks([week("2026-01-04")])["requests"] == 1
    assert t.get_week("2026-01-04") is not None
    assert t.get_week("2026-01-11") is None


def _stubbed(tables):
    """A real client whose next calls are scripted: the real DescribeTable answer, then batch answers."""
    t = table(tables)
    client = DynamoDBResource().new_client()
    real = client.describe_table(TableName=tables["weights"])["Table"]
    described = {"Table": {k: real[k] for k in ("TableName", "KeySchema", "AttributeDefinitions")}}
    stub = Stubber(client)
    stub.add_response("describe_table", described, {"TableName": tables["weights"]})
    return t, client, stub


def test_unprocessed_items_are_retried_with_backoff(tables):
    t, client, stub = _stubbed(tables)
    items = [week("2026-01-04"), week("2026-01-11")]
    left = {tables["weights"]: [{"PutRequest": {"Item": to_wire(items[1])}}]}
    stub.add_response("batch_write_item", {"UnprocessedItems": left})
    stub.add_response("batch_write_item", {"UnprocessedItems": {}})
    sleeps = []
    with stub:
        stats = t.put_weeks(items, sleep=sleeps.append, client=client)
    stub.assert_no_pending_responses()
    assert stats == {"requests": 2, "unprocessed_retries": 1, "request_retries": 0}
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.05


def test_retry_budget_exhausted_names_written_and_unwritten_weeks(tables):
    t, client, stub = _stubbed(tables)
    t = table(tables, max_retry_seconds=0.0)
    items = [week("2026-01-04"), week("2026-01-11")]
    left = {tables["weights"]: [{"PutRequest": {"Item": to_wire(items[1])}}]}
    stub.add_response("batch_write_item", {"UnprocessedItems": left})
    with stub, pytest.raises(WeightsWriteError) as err:
        t.put_weeks(items, sleep=lambda s: None, client=client)
    assert err.value.written == ["2026-01-04"] and err.value.not_written == ["2026-01-11"]
    assert "2026-01-11" in str(err.value)


@pytest.mark.parametrize("which", ["missing", "wrong key schema"])
def test_a_missing_or_misshapen_weights_table_fails_before_writing(tables, client, which):
    from weighting_pipeline.resources.table_schema import TableSchemaError

    name = tables["weights"] + "-odd"
    if which == "wrong key schema":
        client.create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST",
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

    from weighting_pipeline.resources.weights_io_manager import DynamoDBWeightsIOManager
    from weighting_pipeline.settings import WeightingSettings

    with pytest.raises(ValidationError, match="ttl_days"):
        DynamoDBWeightsIOManager(table=WeightsTable(dynamodb=DynamoDBResource(), table_name="t"), settings=WeightingSettings(), ttl_days=ttl_days)
