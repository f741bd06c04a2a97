"""Create the ledger and weights tables, idempotently (for local use and first deploys).

The weights table gets TTL on ``ttl``. A ledger table gets the trading
system's key schema and its five indexes (``TRADING_LEDGER_INDEXES``); only
the GSI7 benchmark asks for the proposed close-date index as well. Existing
tables are left as they are.
"""

from __future__ import annotations

import os

from botocore.exceptions import ClientError

from weighting_pipeline.resources.table_schema import GSI5, GSI7

# The trade-ledger table as the trading system's stack declares it (PK/SK, all
# projections ALL); the pipeline reads GSI5 only.
TRADING_LEDGER_INDEXES = (
    "GSI1-CorrelationIndex",
    "GSI2-SymbolIndex",
    "GSI3-StrategyIndex",
    "GSI4-CorrelationSnapshotIndex",
    GSI5,
)


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
        client.create_table(
            TableName=table, AttributeDefinitions=attrs, KeySchema=schema, BillingMode="PAY_PER_REQUEST"
        )
        client.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        created = True
    status = client.describe_time_to_live(TableName=table)["TimeToLiveDescription"].get("TimeToLiveStatus")
    if status not in ("ENABLED", "ENABLING"):
        client.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
    return created


def create_ledger_table(client, table: str, close_date_index: bool = False) -> bool:
    """Create a trade-ledger table as the trading system has it: PK/SK and
    GSI1..GSI5 (``GSInPK``/``GSInSK``). ``close_date_index`` adds GSI7
    (strategy, fully_closed_at), a proposal for the trading system's table
    that only the GSI7 benchmark uses. Returns True if created."""
    if _exists(client, table):
        return False
    attrs, schema = _key("PK", "SK")
    names = TRADING_LEDGER_INDEXES + ((GSI7,) if close_date_index else ())
    gsis = []
    for name in names:
        prefix = name.split("-")[0]
        gsi_attrs, gsi_schema = _key(f"{prefix}PK", f"{prefix}SK")
        attrs += gsi_attrs
        gsis.append({"IndexName": name, "KeySchema": gsi_schema, "Projection": {"ProjectionType": "ALL"}})
    client.create_table(
        TableName=table,
        AttributeDefinitions=attrs,
        KeySchema=schema,
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=gsis,
    )
    client.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return True


def create_tables(client, ledger_table: str, weights_table: str, close_date_index: bool = False) -> dict[str, bool]:
    """Both tables; returns which were newly created."""
    return {
        ledger_table: create_ledger_table(client, ledger_table, close_date_index),
        weights_table: create_weights_table(client, weights_table),
    }


def setup_tables() -> dict[str, bool]:
    """``setup-tables``: both tables where the AWS env vars point, named by
    ``TRADE_LEDGER__TABLE_NAME`` and ``STRATEGY_WEIGHTS__TABLE_NAME``; prints what it did."""
    from weighting_pipeline.resources.dynamodb import DynamoDBResource

    missing = [v for v in ("TRADE_LEDGER__TABLE_NAME", "STRATEGY_WEIGHTS__TABLE_NAME") if not os.environ.get(v)]
    if missing:
        raise KeyError(f"setup-tables needs {' and '.join(missing)} (the table names)")
    made = create_tables(
        DynamoDBResource().get_client(),
        os.environ["TRADE_LEDGER__TABLE_NAME"],
        os.environ["STRATEGY_WEIGHTS__TABLE_NAME"],
    )
    for table, created in made.items():
        print(f"table {table}: {'created' if created else 'already there'}")
    return made
