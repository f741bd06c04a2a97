"""Check a DynamoDB table (or index) exists with the key schema we rely on.

Both tables are checked with one DescribeTable before use, so a wrong table
name or an incompatible table fails the run with the table, the setting and
the problem named, before anything is read or written.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

# The trade ledger's indexes the reader queries (owned by the trading system's stack).
GSI5 = "GSI5-StrategyLotsIndex"  # GSI5PK = STRATEGY_LOTS#<name>, GSI5SK = CLOSED#<symbol>#<entry time>
GSI7 = "GSI7-StrategyClosedAtIndex"  # GSI7PK = STRATEGY_LOTS#<name>, GSI7SK = fully_closed_at


class TableSchemaError(ValueError):
    """A table or index is missing or has a different key schema."""


def describe(client, table: str, setting: str) -> dict[str, Any]:
    """DescribeTable's ``Table``; ``setting`` is the env var that names it."""
    try:
        return client.describe_table(TableName=table)["Table"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise TableSchemaError(
                f"table {table!r} ({setting}) does not exist at {client.meta.endpoint_url}"
            ) from None
        raise


def require_keys(found: list[dict], attributes: list[dict], expected: list[tuple[str, str]], what: str) -> None:
    """``found`` is a KeySchema; ``expected`` lists (attribute, HASH|RANGE), all of type S."""
    got = [(k["AttributeName"], k["KeyType"]) for k in found]
    types = {a["AttributeName"]: a["AttributeType"] for a in attributes}
    if got != expected or any(types.get(name) != "S" for name, _ in expected):
        want = ", ".join(f"{n} {t} (S)" for n, t in expected)
        have = ", ".join(f"{n} {t} ({types.get(n, '?')})" for n, t in got)
        raise TableSchemaError(f"{what} has key schema [{have}], expected [{want}]")
