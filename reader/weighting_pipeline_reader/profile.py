"""``get_strategy_profile``: the allocations trading runs, from the weights table or trading's own baseline.

It never raises on anything the table holds, or on the table being unset,
missing or unreachable: trading then gets the baseline it passed in, and a
WARNING saying why. The DynamoDB client is built once per process (per
endpoint, region and profile), so a warm Lambda pays only for the ``GetItem``;
its timeouts bound an outage to about two seconds.

The API is the one trading's pull request 2957 designed (a ``StrategyProfile``
whose first fields are ``files``, ``allocations`` and ``is_dynamic``), with the
baseline taken from the caller: trading's ``Settings().strategy`` is the one
truth, so a week computed from any other baseline is never served.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from weighting_pipeline_reader.item import (
    PK,
    ItemError,
    check_in_force,
    check_weights,
    is_tombstone,
    latest_week,
    previous_week,
    validity,
)

log = logging.getLogger("weighting_pipeline_reader")

TABLE_ENV = "STRATEGY_WEIGHTS__TABLE_NAME"
GRACE_ENV = "STRATEGY_WEIGHTS__GRACE_HOURS"
DEFAULT_GRACE_HOURS = 24.0


@dataclass(frozen=True)
class StrategyProfile:
    """What trading runs.

    ``files`` are the baseline's strategy files, in its order; ``allocations``
    maps each to its fraction of capital (Decimal; 0.25 is 25%), summing to 1
    when the baseline does; ``is_dynamic`` says whether they are a published
    week's weights or the baseline; ``source`` is that week's partition key
    (its start date, ``"2026-11-15"``) or ``"baseline: <reason>"``.
    """

    files: list[str]
    allocations: dict[str, Decimal]
    is_dynamic: bool = False
    source: str = "baseline"


_lock = threading.Lock()
_clients: dict[tuple[str | None, ...], Any] = {}
# What a client is built from: a change (another endpoint, region or profile) builds another.
_CLIENT_ENV = ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE")


def _client() -> Any:
    from weighting_pipeline_reader.client import client_config, make_client

    key = tuple(os.environ.get(name) for name in _CLIENT_ENV)
    with _lock:
        if key not in _clients:
            # Two attempts of <= 0.5 s connect + 0.5 s read: about 2 s worst case per call.
            _clients[key] = make_client(client_config(max_attempts=2, connect_timeout=0.5, read_timeout=0.5, pool=2))
        return _clients[key]


def read_baseline(baseline: Any) -> tuple[list[str], dict[str, Decimal]]:
    """The files and allocations (Decimal fractions) of the caller's baseline.

    ``baseline`` is trading's ``Settings().strategy`` (anything with ``dsl_files``
    and ``dsl_allocations``) or a strategy config as its JSON files hold it,
    ``{"files": [...], "allocations": {...}}``. Each allocation becomes
    ``Decimal(str(value))`` and a file without one gets 0, as trading's
    coordinator does. Raises ``TypeError`` or ``ValueError`` naming the problem:
    that is the caller's own configuration, and there is nothing safe to return.
    """
    if hasattr(baseline, "dsl_files") and hasattr(baseline, "dsl_allocations"):
        files, allocations = baseline.dsl_files, baseline.dsl_allocations
    elif isinstance(baseline, Mapping) and isinstance(baseline.get("allocations"), Mapping):
        allocations = baseline["allocations"]
        files = baseline.get("files") or list(allocations)
    else:
        raise TypeError(
            "baseline must be trading's Settings().strategy (dsl_files and dsl_allocations) or a strategy config "
            f"{{'files': [...], 'allocations': {{...}}}}, not {type(baseline).__name__}"
        )
    if isinstance(files, str) or not files:
        raise ValueError(f"the baseline names no strategy files (files={files!r})")
    out: dict[str, Decimal] = {}
    for file in files:
        value = allocations.get(file, 0.0)
        try:
            fraction = Decimal(str(value))
        except (InvalidOperation, ValueError):
            fraction = Decimal("NaN")
        if isinstance(value, bool) or not fraction.is_finite() or fraction < 0:
            raise ValueError(f"the baseline's allocation of {file!r} is not a finite number >= 0: {value!r}")
        out[str(file)] = fraction
    return [str(f) for f in files], out


class _Unreachable(Exception):
    """The table could not be read; the message is the fallback reason."""


def _get(client: Any, table: str, week: str) -> dict[str, Any] | None:
    """Week ``week``'s item (wire format), or None."""
    try:
        got = client.get_item(TableName=table, Key={"PK": {"S": PK}, "SK": {"S": week}}, ConsistentRead=True)
    except Exception as exc:  # missing table, no network, throttling, no credentials: botocore's errors vary
        raise _Unreachable(f"weights table {table} unreachable ({type(exc).__name__}: {exc})") from None
    item = got.get("Item")
    return item if isinstance(item, dict) else None


def _unpublished(item: Mapping[str, Any] | None) -> str:
    return " (unpublished)" if is_tombstone(item) else ""


def _ordered(weights: dict[str, Decimal], files: list[str]) -> dict[str, Decimal]:
    return {f: weights[f] for f in files}


def _grace() -> timedelta:
    try:
        return timedelta(hours=float(os.environ.get(GRACE_ENV, DEFAULT_GRACE_HOURS)))
    except ValueError:
        log.warning(
            "%s=%r is not a number of hours; using %s", GRACE_ENV, os.environ.get(GRACE_ENV), DEFAULT_GRACE_HOURS
        )
        return timedelta(hours=DEFAULT_GRACE_HOURS)


def get_strategy_profile(
    baseline: Any,
    use_dynamic: bool = True,
    *,
    now: datetime | None = None,
    client: Any = None,
    table_name: str | None = None,
) -> StrategyProfile:
    """The allocations for the week in force at ``now`` (aware; default: the current time).

    ``baseline`` is trading's (see ``read_baseline``); it is what comes back,
    with ``is_dynamic`` False, whenever the table cannot be trusted. With
    ``use_dynamic=False`` it comes back without touching DynamoDB.

    Otherwise the table (``table_name``, default ``STRATEGY_WEIGHTS__TABLE_NAME``;
    endpoint, region and credentials from the standard AWS variables and chain)
    is read for the latest week whose end (Sunday 18:00 New York) is at or before
    ``now``. Its weights are served if the item passes ``item.check_weights``
    against ``baseline`` (so a week computed from another baseline is not) and
    is in force. If that week's item is missing or unpublished, the week
    before's is served until its ``valid_until`` plus a grace
    (``STRATEGY_WEIGHTS__GRACE_HOURS``, default 24). In every other case the
    baseline is returned, with the reason in ``source`` and a WARNING.
    """
    files, fallback = read_baseline(baseline)

    def fall_back(reason: str) -> StrategyProfile:
        log.warning("Using baseline allocations: %s", reason)
        return StrategyProfile(list(files), dict(fallback), False, f"baseline: {reason}")

    if not use_dynamic:
        return StrategyProfile(list(files), dict(fallback), False, "baseline: use_dynamic=False")
    try:
        now = datetime.now(timezone.utc) if now is None else now
        if now.tzinfo is None or now.utcoffset() is None:
            return fall_back(f"now={now} has no time zone")
        table = table_name or os.environ.get(TABLE_ENV)
        if not table:
            return fall_back(f"{TABLE_ENV} is not set")
        key = latest_week(now)
        if key is None:
            return fall_back(f"no complete week before {now.isoformat()}")
        client = client or _client()
        grace = _grace()
        previous = previous_week(key)
        current = _get(client, table, key)
        if current is not None and not is_tombstone(current):
            valid_from, _ = validity(current, key)
            if now >= valid_from:
                check_in_force(current, key, now)
                return StrategyProfile(list(files), _ordered(check_weights(current, key, fallback), files), True, key)
            # Sunday evening in standard time: the week starts at 23:00 UTC; the week before is still in force.
            missing = ""
        else:
            missing = f"no weights item for {key}{_unpublished(current)}"
        before = _get(client, table, previous)
        if before is None or is_tombstone(before):
            gone = f"{previous}{_unpublished(before)}"
            return fall_back(f"{missing} and none for {gone}" if missing else f"no weights item for {gone}")
        check_in_force(before, previous, now, grace)
        weights = check_weights(before, previous, fallback)
        if now >= validity(before, previous)[1]:
            log.warning(
                "Weights for %s are missing%s; using %s within its grace period", key, _unpublished(current), previous
            )
        return StrategyProfile(list(files), _ordered(weights, files), True, previous)
    except (_Unreachable, ItemError) as exc:
        return fall_back(str(exc))
    except Exception as exc:  # the promise: never raise into trading
        return fall_back(f"unexpected {type(exc).__name__}: {exc}")
