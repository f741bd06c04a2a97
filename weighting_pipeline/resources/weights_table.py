"""The weights table: write weeks (conditional PutItems, newer run wins), get a week, unpublish one."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from pydantic import Field

from weighting_pipeline.publication.item import PK
from weighting_pipeline.resources.dynamodb import DynamoDBResource
from weighting_pipeline.resources.table_schema import describe, require_keys

# A week is replaced only by a run started no earlier than the one that wrote it
# (or by anything, over an item from before run_started_at existed).
NEWER_WINS = "attribute_not_exists(run_started_at) OR run_started_at <= :mine"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_wire(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in item.items()}


def from_wire(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


class WeightsWriteError(RuntimeError):
    """Writing weeks failed; names the weeks that were and were not written."""

    def __init__(self, written: list[str], not_written: list[str], cause: str):
        self.written, self.not_written = written, not_written
        super().__init__(
            f"writing weights failed ({cause}); weeks confirmed written: {written or 'none'}; "
            f"weeks NOT confirmed written: {not_written} (a write whose answer was lost may still have landed). "
            "Each week is one item, so no week is half-written; re-run the same partitions to complete."
        )


@dataclass
class WriteResult:
    """What ``put_weeks`` did: ``written`` weeks, and ``superseded`` weeks (left in
    place because a run started later, or an unpublish, wrote them) with the item
    that won (Python types); ``requests`` PutItem calls, botocore's own
    ``request_retries`` of throttled, failed or timed-out calls."""

    written: list[str] = field(default_factory=list)
    superseded: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: int = 0
    request_retries: int = 0


class WeightsTable(dg.ConfigurableResource):
    """The strategy-weights table (STRATEGY_WEIGHTS__TABLE_NAME)."""

    dynamodb: DynamoDBResource
    table_name: str = Field(description="The strategy-weights table (STRATEGY_WEIGHTS__TABLE_NAME).")
    write_concurrency: int = Field(
        default=8, gt=0, description="PutItem requests in flight at once when writing many weeks."
    )

    @classmethod
    def from_env(cls) -> WeightsTable:
        """The table STRATEGY_WEIGHTS__TABLE_NAME names, through the standard AWS chain (operator commands)."""
        return cls(dynamodb=DynamoDBResource(), table_name=os.environ["STRATEGY_WEIGHTS__TABLE_NAME"])

    def check_table(self, client=None) -> None:
        """Fail with ``TableSchemaError`` unless the table exists keyed PK (hash) / SK (range)."""
        client = client or self.dynamodb.get_client()
        table = describe(client, self.table_name, "STRATEGY_WEIGHTS__TABLE_NAME")
        require_keys(
            table["KeySchema"],
            table["AttributeDefinitions"],
            [("PK", "HASH"), ("SK", "RANGE")],
            f"weights table {self.table_name!r}",
        )

    def get_week(self, partition_key: str, client=None) -> dict[str, Any] | None:
        """The stored item of a week (Python types, Decimal numbers), tombstones included, or None."""
        client = client or self.dynamodb.get_client()
        got = client.get_item(
            TableName=self.table_name, Key={"PK": {"S": PK}, "SK": {"S": partition_key}}, ConsistentRead=True
        )
        return from_wire(got["Item"]) if "Item" in got else None

    def query_weeks(self, first: str, last: str, attributes: tuple[str, ...], client=None) -> dict[str, dict[str, Any]]:
        """Week -> ``attributes`` of its stored item (tombstones included), for the weeks
        ``first``..``last``: one paged, consistent Query on the weights partition."""
        client = client or self.dynamodb.get_client()
        names = {f"#a{i}": a for i, a in enumerate(("SK", *attributes))}
        pages = client.get_paginator("query").paginate(
            TableName=self.table_name,
            KeyConditionExpression="PK = :pk AND SK BETWEEN :first AND :last",
            ExpressionAttributeValues={":pk": {"S": PK}, ":first": {"S": first}, ":last": {"S": last}},
            ProjectionExpression=", ".join(names),
            ExpressionAttributeNames=names,
            ConsistentRead=True,
        )
        return {item["SK"]: item for page in pages for item in map(from_wire, page.get("Items", []))}

    def replace_week(self, item: dict[str, Any], client=None) -> dict[str, Any] | None:
        """Put ``item`` whatever the week holds (an unpublish tombstone); the item it replaced, or None."""
        client = client or self.dynamodb.get_client()
        self.check_table(client)
        got = client.put_item(TableName=self.table_name, Item=to_wire(item), ReturnValues="ALL_OLD")
        return from_wire(got["Attributes"]) if "Attributes" in got else None

    def put_weeks(self, items: list[dict[str, Any]], client=None) -> WriteResult:
        """Write week items, one conditional PutItem each (``NEWER_WINS`` on ``run_started_at``),
        ``write_concurrency`` at a time. BatchWriteItem takes no conditions.

        A week whose stored item comes from a later run, or is a later tombstone,
        is left in place and reported in ``superseded``: losing is not an error.
        The table's key schema is checked first (``check_table``). If any request
        fails (after botocore's retries), the others still run, then
        ``WeightsWriteError`` lists what was and was not written.
        """
        client = client or self.dynamodb.get_client()
        self.check_table(client)  # a wrong table fails here, before any week is written
        for item in items:
            if "run_started_at" not in item:
                raise ValueError(f"week {item.get('SK')!r}: an item without run_started_at cannot be written")
        with ThreadPoolExecutor(max_workers=min(self.write_concurrency, len(items) or 1)) as pool:
            outcomes = list(pool.map(lambda item: self._put_if_newer(client, item), items))
        result = WriteResult(requests=len(items))
        failed: list[tuple[str, BaseException]] = []
        for item, (winner, retries, error) in zip(items, outcomes):
            result.request_retries += retries
            if error is not None:
                failed.append((item["SK"], error))
            elif winner is not None:
                result.superseded[item["SK"]] = winner
            else:
                result.written.append(item["SK"])
        if failed:
            week, error = failed[0]
            cause = f"{len(failed)} request(s) failed, first for {week}: {type(error).__name__}: {error}"
            raise WeightsWriteError(sorted(result.written), sorted(w for w, _ in failed), cause) from error
        return result

    def _put_if_newer(self, client, item: dict[str, Any]) -> tuple[dict[str, Any] | None, int, BaseException | None]:
        """(the item that won over ``item``, or None if ``item`` was written; retries; the error, if the request failed)."""
        wire = to_wire(item)
        try:
            response = client.put_item(
                TableName=self.table_name,
                Item=wire,
                ConditionExpression=NEWER_WINS,
                ExpressionAttributeValues={":mine": wire["run_started_at"]},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except client.exceptions.ConditionalCheckFailedException as lost:
            winner = lost.response.get("Item")
            retries = lost.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            try:
                return (from_wire(winner) if winner else self.get_week(item["SK"], client)) or {}, retries, None
            except Exception as exc:
                return None, retries, exc
        except Exception as exc:
            return None, 0, exc
        return None, response.get("ResponseMetadata", {}).get("RetryAttempts", 0), None
