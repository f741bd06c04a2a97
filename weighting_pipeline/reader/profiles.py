"""The reader trading code imports: ``get_strategy_profile``.

It never raises on anything the weights table holds: whatever is missing,
late, expired, unreachable or malformed, trading gets the configured baseline
and a WARNING saying why. It imports boto3 and the pure core only (no Dagster),
and uses short timeouts so an outage costs trading about two seconds.

The API is the one trading's pull request 2957 designed
(``the_alchemiser/shared/config/strategy_profiles.py``): ``get_strategy_profile(stage,
use_dynamic)`` returning a ``StrategyProfile`` whose first three fields are
``files``, ``allocations`` and ``is_dynamic``. The DynamoDB client and the
parsed baseline are kept per process, so a Lambda container pays for them once.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd

from weighting_pipeline.core.baseline import Baseline, load_baseline, packaged_config_path
from weighting_pipeline.core.calendar import FIRST_WEEK, current_partition_key, previous_key
from weighting_pipeline.core.invariants import BOUND_TOLERANCE, SUM_TOLERANCE
from weighting_pipeline.publication.item import PK, TOMBSTONE

log = logging.getLogger("weighting_pipeline.reader.profiles")

GRACE_ENV = "STRATEGY_WEIGHTS__GRACE_HOURS"
DEFAULT_GRACE_HOURS = 24.0


@dataclass(frozen=True)
class StrategyProfile:
    """What trading runs this week.

    ``files`` are the baseline's strategy files, in its order; ``allocations``
    maps each to its fraction of capital (Decimal, summing to 1);
    ``is_dynamic`` says whether they are the pipeline's weights or the
    baseline; ``source`` is the partition key of the weights used, or
    ``"baseline: <reason>"``.
    """

    files: list[str]
    allocations: dict[str, Decimal]
    is_dynamic: bool = False
    source: str = "baseline"


class _Reject(Exception):
    """An item is unusable; the message is the fallback reason."""


_lock = threading.Lock()
_baselines: dict[tuple[str, int], Baseline] = {}
_clients: dict[tuple, Any] = {}
# What the client is built from: a change (another endpoint, region or profile) builds another.
_CLIENT_ENV = ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE")


def _baseline(stage: str | None) -> Baseline:
    """The stage's baseline, parsed once per process and again whenever the
    file's modification time changes. ``STRATEGY_CONFIG__PATH`` is a local
    file here: trading reads its own config (an ``s3://`` URI is for the pipeline)."""
    path = os.environ.get("STRATEGY_CONFIG__PATH") or packaged_config_path(stage or os.environ.get("APP__STAGE") or "dev")
    try:
        key = (str(path), os.stat(path).st_mtime_ns)
    except OSError:
        return load_baseline(path)  # it raises the error that names the file
    with _lock:
        if key not in _baselines:
            _baselines.clear()
            _baselines[key] = load_baseline(path)
        return _baselines[key]


def _client():
    from weighting_pipeline.reader.dynamodb_client import client_config, make_client

    key = tuple(os.environ.get(name) for name in _CLIENT_ENV)
    with _lock:
        if key not in _clients:
            # Two attempts of <= 0.5 s connect + 0.5 s read: about 2 s worst case per call.
            _clients[key] = make_client(client_config(max_attempts=2, connect_timeout=0.5, read_timeout=0.5, pool=2))
        return _clients[key]


def _number(value: Any, what: str) -> Decimal:
    if isinstance(value, dict) and "N" in value:
        value = value["N"]
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise _Reject(f"{what} is not a number: {value!r}") from None
    if not number.is_finite():
        raise _Reject(f"{what} is not finite: {value!r}")
    return number


def _map(item: dict, name: str) -> dict[str, Any]:
    value = item.get(name, {})
    value = value.get("M") if isinstance(value, dict) and set(value) == {"M"} else None
    if not isinstance(value, dict):
        raise _Reject(f"{name} is missing or not a map")
    return value


def _text(item: dict, name: str) -> str:
    value = item.get(name)
    if not (isinstance(value, dict) and isinstance(value.get("S"), str)):
        raise _Reject(f"{name} is missing or not a string")
    return value["S"]


def _unpublished(tombstone: bool) -> str:
    return " (unpublished)" if tombstone else ""


def validate_item(item: dict, key: str, baseline: Baseline, now: pd.Timestamp, usable_until_extra: pd.Timedelta) -> dict[str, Decimal]:
    """Weights of a wire-format item, or ``_Reject`` with the reason.

    The item must be the week ``key``, not expired (``ttl`` and
    ``valid_until`` + ``usable_until_extra``), cover exactly the baseline, and
    hold finite weights >= 0, summing to 1 within 1e-9, each within its
    multiplier band of the *current* baseline.
    """
    if _text(item, "partition_key") != key:
        raise _Reject(f"item for {key} says partition_key {_text(item, 'partition_key')!r}")
    ttl = _number(item.get("ttl"), "ttl")
    if ttl <= Decimal(int(now.timestamp())):
        raise _Reject(f"item for {key} has expired (ttl {ttl})")
    try:
        valid_until = pd.Timestamp(_text(item, "valid_until"))
    except ValueError:
        raise _Reject(f"item for {key} has an unreadable valid_until") from None
    if valid_until.tzinfo is None or now >= valid_until + usable_until_extra:
        raise _Reject(f"item for {key} is no longer valid (valid_until {valid_until})")
    weights = {name: _number(v, f"weight of {name}") for name, v in _map(item, "weights").items()}
    if set(weights) != set(baseline.keys):
        missing, extra = sorted(set(baseline.keys) - set(weights)), sorted(set(weights) - set(baseline.keys))
        raise _Reject(f"item for {key} covers other strategies than the baseline (missing {missing}, extra {extra})")
    params = _map(item, "parameters")
    lo = _number(params.get("min_multiplier"), "min_multiplier")
    hi = _number(params.get("max_multiplier"), "max_multiplier")
    if not (0 < lo <= 1 <= hi):
        raise _Reject(f"item for {key} has impossible multiplier bounds [{lo}, {hi}]")
    total = sum(weights.values(), Decimal(0))
    if abs(total - 1) > Decimal(str(SUM_TOLERANCE)):
        raise _Reject(f"item for {key} weights sum to {total}, not 1")
    tol = Decimal(str(BOUND_TOLERANCE))
    for name, w in weights.items():
        b = Decimal(repr(float(baseline.allocations[name])))
        if w < 0 or w < lo * b - tol or w > hi * b + tol:
            raise _Reject(f"item for {key}: weight {w} of {name} is outside [{lo}, {hi}] x baseline {b}")
    return weights


def get_strategy_profile(
    stage: str | None = None, use_dynamic: bool = True, *, now: pd.Timestamp | None = None, client=None
) -> StrategyProfile:
    """Allocations for the week in force at ``now`` (default: the current time).

    ``stage`` picks the baseline (``strategy.<stage>.json``; None means
    ``APP__STAGE``, and ``STRATEGY_CONFIG__PATH`` overrides both). With
    ``use_dynamic=False`` the baseline is returned without touching DynamoDB.
    Otherwise the weights of the latest week whose end is <= ``now`` are
    used. If that item is missing or is an unpublish tombstone, last week's is used until its
    ``valid_until`` plus a grace (``STRATEGY_WEIGHTS__GRACE_HOURS``, default
    24). In every other case, and on any error, the baseline is returned and
    the reason logged at WARNING. Raises only if the baseline config itself
    is broken, since then there is nothing safe to return.
    """
    baseline = _baseline(stage)
    files = baseline.keys
    fallback = {k: Decimal(repr(float(v))) for k, v in baseline.allocations.items()}

    def fall_back(reason: str) -> StrategyProfile:
        log.warning("Using baseline allocations: %s", reason)
        return StrategyProfile(files, dict(fallback), False, f"baseline: {reason}")

    if not use_dynamic:
        return StrategyProfile(files, dict(fallback), False, "baseline: use_dynamic=False")
    try:
        now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
        if now.tzinfo is None:
            return fall_back(f"now={now} has no time zone")
        table = os.environ.get("STRATEGY_WEIGHTS__TABLE_NAME")
        if not table:
            return fall_back("STRATEGY_WEIGHTS__TABLE_NAME is not set")
        key = current_partition_key(now, FIRST_WEEK)
        if key is None:
            return fall_back(f"no complete week before {now}")
        try:
            grace = pd.Timedelta(hours=float(os.environ.get(GRACE_ENV, DEFAULT_GRACE_HOURS)))
        except ValueError:
            grace = pd.Timedelta(hours=DEFAULT_GRACE_HOURS)
        client = client or _client()
        gone: dict[str, bool] = {}
        for candidate, extra in ((key, pd.Timedelta(0)), (previous_key(key), grace)):
            try:
                got = client.get_item(TableName=table, Key={"PK": {"S": PK}, "SK": {"S": candidate}}, ConsistentRead=True)
            except Exception as exc:
                return fall_back(f"weights table {table} unreachable ({type(exc).__name__}: {exc})")
            item = got.get("Item")
            if item is None or TOMBSTONE in item:  # an unpublished week reads as no item
                if candidate == key:
                    gone[candidate] = item is not None
                    continue  # a late weekly run: try last week's within its grace
                return fall_back(f"no weights item for {key}{_unpublished(gone[key])} and none for {candidate}{_unpublished(item is not None)}")
            try:
                weights = validate_item(item, candidate, baseline, now, extra)
            except _Reject as exc:
                return fall_back(str(exc))
            allocations = {**fallback, **weights}
            if candidate != key:
                log.warning("Weights for %s are missing%s; using %s within its grace period", key, _unpublished(gone[key]), candidate)
            return StrategyProfile(files, allocations, True, candidate)
        return fall_back(f"no weights item for {key}")
    except Exception as exc:  # the promise: never raise into trading
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return fall_back(f"unexpected {type(exc).__name__}: {exc}")
