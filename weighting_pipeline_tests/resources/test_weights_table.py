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
    t = table(tables)
    client = DynamoDBResource().get_client()
    return t, client, Stubber(client)


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
    assert stats == {"requests": 2, "unprocessed_retries": 1}
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
