"""One DynamoDB item per week of weights: the Decimal boundary.

Item layout (keys ``PK = "WEIGHTS#WEEK"``, ``SK = <partition key>``)::

    EntityType            "DYNAMIC_WEIGHTS"
    partition_key         "2026-03-01"  (week start)
    valid_from            week end, ISO-8601 with the New York offset
    valid_until           one calendar week later
    window_start          start of the lookback window
    computed_at, run_id   when and by which Dagster run
    run_started_at        Number, epoch seconds UTC: creation time of the run's root run
                          (``dagster/root_run_id``); a write replaces an item only if its
                          run started no earlier (``weights_table.NEWER_WINS``)
    parameters            map of the algorithm's parameters
    baseline_file, baseline_sha256, baseline_uri, baseline_version,
    package_version, lock_sha256, code_version, ledger_index, weights_sha256
                          how the week was computed (``provenance.Provenance``);
                          weights_sha256 is the SHA-256 of the week's weights in
                          ``provenance.CANONICAL_WEIGHTS``, recomputable from ``weights``
    weights, target_weights, multipliers, sharpe_ratios, baseline_allocations
                          maps of baseline key -> Number (Decimal, never float);
                          target_weights are the week's weights without SMOOTHING
                          (equal to weights when it is 1);
                          sharpe_ratios holds qualified strategies only
    skipped_strategies    map of baseline key -> reason
    market_data           only under RETURN_BASIS=market: the daily bars the week was marked
                          with, {"bucket": ..., "bars": {"<SYMBOL>/daily.parquet": ETag}}
    forced_publication    only on a week written under the run tag weighting/publish=force:
                          which rule the tag lifted (``core.publication_rules``)
    ttl                   Number, epoch seconds: max(write time, valid_until) + ttl_days

``unpublish`` replaces a week's item with a *tombstone* (``tombstone``): the
same key, ``partition_key``, ``unpublished`` (a map: by, reason, at, and the
run_id and weights_sha256 of the item it replaced), ``run_started_at`` = the
time of the unpublish, and a ``ttl``; no weights. Trading's reader treats it as
no item, and a run started before the unpublish cannot write over it.

Floats become ``Decimal(repr(x))``: the shortest decimal that round-trips to
the same float, so stored weights sum to 1 as closely as the floats did.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from weighting_pipeline.core.calendar import WeekWindows
from weighting_pipeline.publication.provenance import WeeklyWeights

PK = "WEIGHTS#WEEK"
ENTITY_TYPE = "DYNAMIC_WEIGHTS"
TOMBSTONE = "unpublished"  # the attribute that makes an item a tombstone
DEFAULT_TTL_DAYS = 7


def to_decimal(x: float) -> Decimal:
    """A finite float as the shortest Decimal that round-trips; refuses NaN/inf."""
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"refusing to store non-finite number {x!r}")
    return Decimal(repr(x))


def _iso(ts: pd.Timestamp) -> str:
    return ts.isoformat()


PROVENANCE_TEXT = ("baseline_file", "baseline_sha256", "baseline_uri", "baseline_version", "package_version", "lock_sha256", "code_version",
                   "ledger_index", "weights_sha256")


def expiry(written_at: pd.Timestamp, valid_until: pd.Timestamp, ttl_days: int) -> int:
    """The ``ttl`` attribute: epoch seconds of max(write time, valid_until) + ``ttl_days``."""
    return int(math.ceil((max(written_at, valid_until) + pd.Timedelta(days=ttl_days)).timestamp()))


def week_items(weekly: WeeklyWeights, weeks: WeekWindows, *, written_at: pd.Timestamp, ttl_days: int) -> list[dict[str, Any]]:
    """Items (Python types, Decimal numbers) for each week of ``weekly``."""
    items = []
    started = to_decimal(weekly.run_started_at)
    by_week = {str(k): rows for k, rows in weekly.frame.groupby("partition_key", observed=True, sort=False)}
    for key, valid_from, valid_until, window_start in zip(weeks.keys, weeks.ends, weeks.valid_until, weeks.window_starts):
        rows = by_week[key]
        provenance = weekly.provenance[key]
        strategies = [str(s) for s in rows["strategy"]]
        qualified = (rows["skip_reason"] == "").to_numpy()
        items.append(
            {
                "PK": PK,
                "SK": key,
                "EntityType": ENTITY_TYPE,
                "partition_key": key,
                "valid_from": _iso(valid_from),
                "valid_until": _iso(valid_until),
                "window_start": _iso(window_start),
                "computed_at": _iso(written_at.tz_convert("UTC")),
                "run_id": provenance.run_id,
                "run_started_at": started,
                "weights": {s: to_decimal(v) for s, v in zip(strategies, rows["weight"])},
                "target_weights": {s: to_decimal(v) for s, v in zip(strategies, rows["target_weight"])},
                "multipliers": {s: to_decimal(v) for s, v in zip(strategies, rows["multiplier"])},
                "baseline_allocations": {s: to_decimal(v) for s, v in zip(strategies, rows["baseline"])},
                "sharpe_ratios": {
                    s: to_decimal(v) for s, v, q in zip(strategies, rows["sharpe"], qualified) if q
                },
                # What the multipliers mapped: the score's name and each qualified strategy's value.
                "score": weekly.params.score,
                "scores": {s: to_decimal(v) for s, v, q in zip(strategies, rows["score"], qualified) if q},
                "skipped_strategies": {
                    s: str(r) for s, r, q in zip(strategies, rows["skip_reason"], qualified) if not q
                },
                "parameters": {k: v if isinstance(v, str) else to_decimal(v) for k, v in provenance.parameters.items()},
                **{name: getattr(provenance, name) for name in PROVENANCE_TEXT},
                **({"market_data": {"bucket": str(provenance.market_data.get("bucket", "")),
                                    "bars": {str(k): str(v) for k, v in provenance.market_data.get("bars", {}).items()}}}
                   if provenance.market_data else {}),
                "ttl": expiry(written_at, valid_until, ttl_days),
            }
        )
        decision = weekly.decisions.get(key)
        if decision is not None and decision.forced:
            items[-1]["forced_publication"] = decision.reason
    return items


def is_tombstone(item: dict[str, Any] | None) -> bool:
    """Whether a stored item (Python types or wire format) is an unpublish tombstone."""
    return item is not None and TOMBSTONE in item


def is_live(item: dict[str, Any] | None) -> bool:
    """Whether a stored item holds published weights (not missing, not a tombstone)."""
    return item is not None and not is_tombstone(item)


def tombstone(key: str, *, by: str, reason: str, at: pd.Timestamp, replaced: dict[str, Any] | None, ttl_days: int = DEFAULT_TTL_DAYS) -> dict[str, Any]:
    """The item that takes week ``key``'s place when it is unpublished at ``at`` (UTC).

    ``replaced`` is the stored item (Python types) it replaces, or None. Its
    ``run_started_at`` is ``at``, so only runs started after the unpublish can
    publish the week again; it expires like an item written at ``at``."""
    weeks = WeekWindows.for_keys([key], lookback_days=1)
    live = replaced if replaced is not None and not is_tombstone(replaced) else None
    return {
        "PK": PK,
        "SK": key,
        "EntityType": ENTITY_TYPE,
        "partition_key": key,
        TOMBSTONE: {
            "by": by,
            "reason": reason,
            "at": _iso(at.tz_convert("UTC")),
            "replaced_run_id": live.get("run_id", "") if live else "",
            "replaced_weights_sha256": live.get("weights_sha256", "") if live else "",
        },
        "run_started_at": to_decimal(at.timestamp()),
        "ttl": expiry(at, weeks.valid_until[0], ttl_days),
    }


def items_to_frame(items: list[dict[str, Any]]) -> pd.DataFrame:
    """Stored items -> a weights frame (float columns), for loading the asset."""
    rows = []
    for item in items:
        sharpe = item.get("sharpe_ratios", {})
        scores = item.get("scores", sharpe)  # items from before scores were recorded ranked on the Sharpe ratio
        skipped = item.get("skipped_strategies", {})
        for s, w in item["weights"].items():
            rows.append(
                {
                    "partition_key": item["partition_key"],
                    "strategy": s,
                    "sharpe": float(sharpe[s]) if s in sharpe else np.nan,
                    "score": float(scores[s]) if s in scores else np.nan,
                    "skip_reason": skipped.get(s, ""),
                    "multiplier": float(item["multipliers"][s]),
                    "baseline": float(item["baseline_allocations"][s]),
                    "weight": float(w),
                }
            )
    return pd.DataFrame(rows)
