"""Hand-built wire-format items (as boto3's low-level client returns them) for the reader's tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

BASELINE = {"files": ["a.clj", "ftlt/b.clj", "c.clj"], "allocations": {"a.clj": 0.5, "ftlt/b.clj": 0.3, "c.clj": 0.2}}
WEIGHTS = {"a.clj": "0.6", "ftlt/b.clj": "0.25", "c.clj": "0.15"}  # within [0.5, 2] x baseline, summing to 1
KEY = "2040-02-19"  # a winter week: it ends Sunday 2040-02-26 18:00 EST = 23:00 UTC
PREVIOUS = "2040-02-12"
EST = timezone(timedelta(hours=-5))


def end_of(key: str) -> datetime:
    """The week's end, Sunday 18:00 New York (these tests' weeks are all in standard time)."""
    return datetime.fromisoformat(key).replace(hour=18, tzinfo=EST) + timedelta(days=7)


def wire_item(key: str = KEY, weights: dict[str, str] | None = None, baseline: dict | None = None) -> dict:
    """A published week's item, in the wire format, with the attributes the reader reads."""
    numbers = lambda values: {"M": {k: {"N": str(v)} for k, v in values.items()}}  # noqa: E731
    valid_from = end_of(key)
    return {
        "PK": {"S": "WEIGHTS#WEEK"},
        "SK": {"S": key},
        "partition_key": {"S": key},
        "valid_from": {"S": valid_from.isoformat()},
        "valid_until": {"S": (valid_from + timedelta(days=7)).isoformat()},
        "weights": numbers(weights or WEIGHTS),
        "baseline_allocations": numbers((baseline or BASELINE)["allocations"]),
        "parameters": {"M": {"min_multiplier": {"N": "0.5"}, "max_multiplier": {"N": "2.0"}, "score": {"S": "sharpe"}}},
        "ttl": {"N": str(int((valid_from + timedelta(days=14)).timestamp()))},
    }


def tombstone(key: str) -> dict:
    return {
        "PK": {"S": "WEIGHTS#WEEK"},
        "SK": {"S": key},
        "partition_key": {"S": key},
        "unpublished": {"M": {"by": {"S": "ops"}}},
        "ttl": {"N": "9999999999"},
    }


class Table:
    """Serves the given items by week, as DynamoDB's GetItem does (this is the content under
    test; the real DynamoDB path is tested against DynamoDB Local in the project's tests)."""

    def __init__(self, items: dict[str, dict]):
        self.items = items
        self.asked: list[str] = []

    def get_item(self, TableName: str, Key: dict, ConsistentRead: bool) -> dict:
        week = Key["SK"]["S"]
        self.asked.append(week)
        item = self.items.get(week)
        return {} if item is None else {"Item": item}


def decimals(allocations: dict) -> dict[str, Decimal]:
    return {k: Decimal(str(v)) for k, v in allocations.items()}
