"""Create the ledger and weights tables, idempotently (for local use and first deploys).

The weights table gets TTL on ``ttl``; the ledger table gets GSI5 (and, if
asked, GSI7 on close time). Existing tables are left as they are.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from weighting_pipeline.resources.table_schema import GSI5, GSI7


def _exists(client, table: str) -> bool:
    try:
        client.describe_table(TableName=table)
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return False
        raise


def _key(*names: str) -> tuple[list, list]:
    attrs = [{"AttributeName": n, "AttributeType": "S"} for n in names]
    schema = [{"AttributeName": names[0], "KeyType": "HASH"}, {"AttributeName": names[1], "KeyType": "RANGE"}]
    return attrs, schema


def create_weights_table(client, table: str) -> bool:
    """Create the weights table (PK/SK) with TTL on ``ttl``. Returns True if created."""
    created = False
    if not _exists(client, table):
        attrs, schema = _key("PK", "SK")
        client.create_table(TableName=table, AttributeDefinitions=attrs, KeySchema=schema, BillingMode="PAY_PER_REQUEST")
        client.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        created = True
    status = client.describe_time_to_live(TableName=table)["TimeToLiveDescription"].get("TimeToLiveStatus")
    if status not in ("ENABLED", "ENABLING"):
        client.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
    return created


def create_ledger_table(client, table: str, close_date_index: bool = True) -> bool:
    """Create a trade-ledger table (PK/SK) with GSI5, as the trading system has it,
    and GSI7 (strategy, fully_closed_at) unless ``close_date_index`` is False."""
    if _exists(client, table):
        return False
    attrs, schema = _key("PK", "SK")
    indexes = [("GSI5PK", "GSI5SK", GSI5)] + ([("GSI7PK", "GSI7SK", GSI7)] if close_date_index else [])
    gsis = []
    for pk, sk, name in indexes:
        gsi_attrs, gsi_schema = _key(pk, sk)
        attrs += gsi_attrs
        gsis.append({"IndexName": name, "KeySchema": gsi_schema, "Projection": {"ProjectionType": "ALL"}})
    client.create_table(
        TableName=table, AttributeDefinitions=attrs, KeySchema=schema, BillingMode="PAY_PER_REQUEST", GlobalSecondaryIndexes=gsis
    )
    client.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return True


def create_tables(client, ledger_table: str, weights_table: str, close_date_index: bool = True) -> dict[str, bool]:
    """Both tables; returns which were newly created."""
    return {
        ledger_table: create_ledger_table(client, ledger_table, close_date_index),
        weights_table: create_weights_table(client, weights_table),
    }
