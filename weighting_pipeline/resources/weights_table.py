"""The weights table: put one week (PutItem), many weeks (BatchWriteItem), get a week."""

from __future__ import annotations

import random
import time
from typing import Any, Callable

import dagster as dg
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from pydantic import Field

from weighting_pipeline.resources.dynamodb import DynamoDBResource
from weighting_pipeline.resources.table_schema import describe, require_keys
from weighting_pipeline.publication.item import PK

BATCH_LIMIT = 25  # DynamoDB's BatchWriteItem maximum

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_wire(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in item.items()}


def from_wire(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


class WeightsWriteError(RuntimeError):
    """A batch write gave up; names the weeks that were and were not written."""

    def __init__(self, written: list[str], not_written: list[str], cause: str):
        self.written, self.not_written = written, not_written
        super().__init__(
            f"writing weights stopped ({cause}); weeks confirmed written: {written or 'none'}; "
            f"weeks NOT confirmed written: {not_written} (a write whose answer was lost may still have landed). "
            "Each week is one item, so no week is half-written; re-run the same partitions to complete."
        )


class WeightsTable(dg.ConfigurableResource):
    """The strategy-weights table (STRATEGY_WEIGHTS__TABLE_NAME)."""

    dynamodb: DynamoDBResource
    table_name: str = Field(description="The strategy-weights table (STRATEGY_WEIGHTS__TABLE_NAME).")
    max_retry_seconds: float = Field(default=60.0, description="Cap on total backoff for unprocessed batch items.")

    def check_table(self, client=None) -> None:
        """Fail with ``TableSchemaError`` unless the table exists keyed PK (hash) / SK (range)."""
        client = client or self.dynamodb.get_client()
        table = describe(client, self.table_name, "STRATEGY_WEIGHTS__TABLE_NAME")
        require_keys(table["KeySchema"], table["AttributeDefinitions"], [("PK", "HASH"), ("SK", "RANGE")], f"weights table {self.table_name!r}")

    def get_week(self, partition_key: str, client=None) -> dict[str, Any] | None:
        """The stored item of a week (Python types, Decimal numbers), or None."""
        client = client or self.dynamodb.get_client()
        got = client.get_item(
            TableName=self.table_name, Key={"PK": {"S": PK}, "SK": {"S": partition_key}}, ConsistentRead=True
        )
        return from_wire(got["Item"]) if "Item" in got else None

    def delete_week(self, partition_key: str, client=None) -> dict[str, Any] | None:
        """Delete a week's item; the item it held (Python types), or None if there was none."""
        client = client or self.dynamodb.get_client()
        self.check_table(client)
        got = client.delete_item(
            TableName=self.table_name, Key={"PK": {"S": PK}, "SK": {"S": partition_key}}, ReturnValues="ALL_OLD"
        )
        return from_wire(got["Attributes"]) if "Attributes" in got else None

    def put_weeks(
        self, items: list[dict[str, Any]], sleep: Callable[[float], None] = time.sleep, client=None
    ) -> dict[str, int]:
        """Write week items: PutItem for one, BatchWriteItem (<= 25 a call) for more.

        Unprocessed batch items are retried with exponential backoff and full
        jitter, for at most ``max_retry_seconds`` in total; then
        ``WeightsWriteError`` lists what was and was not written. Returns
        counters (``requests``, ``unprocessed_retries``, and ``request_retries``:
        botocore's own retries of throttled, failed or timed-out calls). The table's key schema
        is checked first (``check_table``).
        """
        client = client or self.dynamodb.get_client()
        self.check_table(client)  # a wrong table fails here, before any week is written
        stats = {"requests": 0, "unprocessed_retries": 0, "request_retries": 0}
        if len(items) == 1:
            response = client.put_item(TableName=self.table_name, Item=to_wire(items[0]))
            stats["requests"] = 1
            stats["request_retries"] = response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            return stats
        written: list[str] = []
        pending = [to_wire(i) for i in items]
        budget = self.max_retry_seconds
        attempt = 0
        while pending:
            chunk, pending = pending[:BATCH_LIMIT], pending[BATCH_LIMIT:]
            request = {self.table_name: [{"PutRequest": {"Item": i}} for i in chunk]}
            while request:
                try:
                    response = client.batch_write_item(RequestItems=request)
                except Exception as exc:
                    not_written = [r["PutRequest"]["Item"]["SK"]["S"] for r in request[self.table_name]]
                    not_written += [i["SK"]["S"] for i in pending]
                    raise WeightsWriteError(written, not_written, f"{type(exc).__name__}: {exc}") from exc
                stats["requests"] += 1
                stats["request_retries"] += response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
                left = response.get("UnprocessedItems") or {}
                sent = {r["PutRequest"]["Item"]["SK"]["S"] for r in request[self.table_name]}
                unsent = {r["PutRequest"]["Item"]["SK"]["S"] for r in left.get(self.table_name, [])}
                written.extend(sorted(sent - unsent))
                request = left if unsent else None
                if request:
                    stats["unprocessed_retries"] += 1
                    delay = random.uniform(0, min(5.0, 0.05 * 2**attempt))
                    attempt += 1
                    if delay > budget:
                        not_written = sorted(unsent) + [i["SK"]["S"] for i in pending]
                        raise WeightsWriteError(written, not_written, f"unprocessed items after {attempt} retries")
                    budget -= delay
                    sleep(delay)
                else:
                    attempt = 0
        return stats
