"""One week's item in the weights table: its layout, and the checks a published week passes.

This module is the one definition of the format. The pipeline writes items with
these keys and runs ``check_weights`` on each item before it writes it; the
reader runs the same ``check_weights``, then ``check_in_force``, on each item it
reads. What one side writes and the other accepts therefore cannot drift apart.
Standard library only.

Item layout (DynamoDB attribute types in brackets; keys ``PK = "WEIGHTS#WEEK"``,
``SK = <partition key>``)::

    EntityType            [S] "DYNAMIC_WEIGHTS"
    partition_key         [S] "2026-03-01": the week's start, a Sunday (New York date)
    valid_from            [S] the week's end, Sunday 18:00 New York, ISO-8601 with its offset
    valid_until           [S] one calendar week later, when the next week takes over
    window_start          [S] start of the lookback window
    computed_at, run_id   [S] when (UTC) and by which Dagster run
    run_started_at        [N] epoch seconds UTC: creation time of the run's root run; a write
                              replaces an item only if its run started no earlier
    parameters            [M] the algorithm's parameters; min_multiplier and max_multiplier
                              [N] are the bounds every weight keeps around its baseline
    baseline_file, baseline_sha256, baseline_uri, baseline_version, package_version,
    lock_sha256, code_version, ledger_index, weights_sha256
                          [S] how the week was computed; weights_sha256 is the SHA-256 of
                              the week's weights in the pipeline's canonical encoding
    weights               [M] baseline key -> [N] fraction of capital, summing to 1
    target_weights        [M] the week's weights before smoothing (equal to weights without it)
    multipliers           [M] baseline key -> [N] multiplier of the baseline
    baseline_allocations  [M] baseline key -> [N] the baseline the week was computed from
    sharpe_ratios, scores [M] qualified strategies only; score [S] names the score
    skipped_strategies    [M] baseline key -> [S] why it kept its baseline weight
    market_data           [M] only under RETURN_BASIS=market: the daily bars' bucket and ETags
    forced_publication    [S] only on a week written under the run tag weighting/publish=force
    ttl                   [N] epoch seconds: max(write time, valid_until) + the table's TTL days

An unpublished week is a *tombstone*: the same key and ``partition_key``, an
``unpublished`` map (by, reason, at, replaced_run_id, replaced_weights_sha256),
``run_started_at`` = the time of the unpublish and a ``ttl``; no weights. It
reads as no item.

Numbers are Decimal on both sides: floats are written as the shortest decimal
that round-trips (``Decimal(repr(x))``), the same text trading's
``Decimal(str(x))`` gives a float allocation.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

PK = "WEIGHTS#WEEK"
ENTITY_TYPE = "DYNAMIC_WEIGHTS"
TOMBSTONE = "unpublished"  # the attribute that makes an item a tombstone
FIRST_WEEK = "2020-01-05"  # the first partition key: the week that starts Sunday 2020-01-05 18:00 New York
SUM_TOLERANCE = 1e-9  # |sum of a week's weights - 1|, on fractions
BOUND_TOLERANCE = 1e-12  # absolute, on fractions: room for float rounding only

# A week ends Sunday 18:00 New York: 22:00 UTC in daylight time (UTC-4), 23:00 UTC in
# standard time (UTC-5). Which of the two is read from the item itself (valid_from), so
# the reader needs no time-zone database (a Lambda runtime need not carry one).
_EARLIEST_END_UTC = timedelta(hours=22)
_SUNDAY = 6  # date.weekday()


class ItemError(ValueError):
    """An item cannot be served; the message says which week and why."""


def number(value: Any, what: str) -> Decimal:
    """A DynamoDB Number (``{"N": "0.25"}``, or a bare value) as a finite Decimal."""
    if isinstance(value, dict) and "N" in value:
        value = value["N"]
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise ItemError(f"{what} is not a number: {value!r}") from None
    if not result.is_finite():
        raise ItemError(f"{what} is not finite: {value!r}")
    return result


def text(item: Mapping[str, Any], name: str) -> str:
    """A String attribute of a wire-format item."""
    value = item.get(name)
    if not (isinstance(value, dict) and isinstance(value.get("S"), str)):
        raise ItemError(f"{name} is missing or not a string")
    return value["S"]


def number_map(item: Mapping[str, Any], name: str) -> dict[str, Decimal]:
    """A Map attribute of Numbers, as ``{key: Decimal}``."""
    value = item.get(name)
    value = value.get("M") if isinstance(value, dict) and set(value) == {"M"} else None
    if not isinstance(value, dict):
        raise ItemError(f"{name} is missing or not a map")
    return {str(k): number(v, f"{name} of {k}") for k, v in value.items()}


def is_tombstone(item: Mapping[str, Any] | None) -> bool:
    """Whether a stored item (either format) is an unpublish tombstone."""
    return item is not None and TOMBSTONE in item


def timestamp(item: Mapping[str, Any], name: str, key: str) -> datetime:
    """An ISO-8601 String attribute with a UTC offset, as an aware datetime."""
    raw = text(item, name)
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ItemError(f"item for {key} has an unreadable {name} {raw!r}") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ItemError(f"item for {key} has a {name} without a UTC offset ({raw!r})")
    return value


def check_weights(item: Mapping[str, Any], key: str, baseline: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """The weights (fractions of capital, Decimal) of the wire-format ``item`` of week ``key``.

    Raises ``ItemError`` with the reason unless the item is week ``key``; was
    computed from exactly ``baseline`` (its ``baseline_allocations`` equal
    ``baseline``, key for key, as Decimals); holds finite weights >= 0 for exactly
    the baseline's keys, summing to 1 within ``SUM_TOLERANCE``; and keeps each
    weight within its multiplier band ``[min_multiplier, max_multiplier] x
    baseline`` (``BOUND_TOLERANCE`` for rounding).
    """
    if text(item, "partition_key") != key:
        raise ItemError(f"item for {key} says partition_key {text(item, 'partition_key')!r}")
    computed_from = number_map(item, "baseline_allocations")
    if computed_from != dict(baseline):
        raise ItemError(f"item for {key} was computed from another baseline ({_difference(computed_from, baseline)})")
    weights = number_map(item, "weights")
    if set(weights) != set(baseline):
        missing, extra = sorted(set(baseline) - set(weights)), sorted(set(weights) - set(baseline))
        raise ItemError(f"item for {key} covers other strategies than the baseline (missing {missing}, extra {extra})")
    parameters = item.get("parameters")
    parameters = parameters.get("M") if isinstance(parameters, dict) else None
    if not isinstance(parameters, dict):
        raise ItemError(f"item for {key}: parameters is missing or not a map")
    lo = number(parameters.get("min_multiplier"), "min_multiplier")
    hi = number(parameters.get("max_multiplier"), "max_multiplier")
    if not (0 < lo <= 1 <= hi):
        raise ItemError(f"item for {key} has impossible multiplier bounds [{lo}, {hi}]")
    total = sum(weights.values(), Decimal(0))
    if abs(total - 1) > Decimal(str(SUM_TOLERANCE)):
        raise ItemError(f"item for {key} weights sum to {total}, not 1")
    tol = Decimal(str(BOUND_TOLERANCE))
    for name, w in weights.items():
        b = baseline[name]
        if w < 0 or w < lo * b - tol or w > hi * b + tol:
            raise ItemError(f"item for {key}: weight {w} of {name} is outside [{lo}, {hi}] x baseline {b}")
    return weights


def _difference(stored: Mapping[str, Decimal], given: Mapping[str, Decimal]) -> str:
    """The first few differences between the week's baseline and the caller's, for the reason."""
    if set(stored) != set(given):
        return f"strategies only in the week's: {sorted(set(stored) - set(given))}, only in this one: {sorted(set(given) - set(stored))}"
    moved = [f"{k} {stored[k]} there, {given[k]} here" for k in sorted(given) if stored[k] != given[k]]
    return "; ".join(moved[:3]) + (f"; and {len(moved) - 3} more" if len(moved) > 3 else "")


def validity(item: Mapping[str, Any], key: str) -> tuple[datetime, datetime]:
    """The item's ``valid_from`` and ``valid_until`` (aware datetimes)."""
    return timestamp(item, "valid_from", key), timestamp(item, "valid_until", key)


def check_in_force(item: Mapping[str, Any], key: str, now: datetime, grace: timedelta = timedelta(0)) -> None:
    """Raise ``ItemError`` unless week ``key``'s ``item`` may be served at ``now`` (aware):
    its ``ttl`` has not passed (DynamoDB deletes expired items late) and
    ``valid_from <= now < valid_until + grace``."""
    ttl = number(item.get("ttl"), "ttl")
    if ttl <= int(now.timestamp()):
        raise ItemError(f"item for {key} has expired (ttl {ttl})")
    valid_from, valid_until = validity(item, key)
    if now < valid_from:
        raise ItemError(f"item for {key} is not in force before {valid_from.isoformat()}")
    if now >= valid_until + grace:
        raise ItemError(f"item for {key} is no longer valid (valid_until {valid_until.isoformat()})")


def latest_week(now: datetime, first_week: str = FIRST_WEEK) -> str | None:
    """The latest week (partition key) that may have ended at ``now`` (aware), or None
    before ``first_week`` could have.

    A week ends Sunday 18:00 New York, which is 22:00 or 23:00 UTC. This is the
    week whose end is the latest Sunday 22:00 UTC at or before ``now``: the week
    in force, except in the hour after 22:00 UTC on a Sunday in standard time,
    when that week's ``valid_from`` (23:00 UTC) says it is not in force yet and
    the week before it still is.
    """
    shifted = now.astimezone(timezone.utc) - _EARLIEST_END_UTC
    day = shifted.date()
    end = day - timedelta(days=(day.weekday() - _SUNDAY) % 7)
    start = end - timedelta(days=7)
    return start.isoformat() if start >= date.fromisoformat(first_week) else None


def previous_week(key: str) -> str:
    """The partition key one week before ``key``."""
    return (date.fromisoformat(key) - timedelta(days=7)).isoformat()
