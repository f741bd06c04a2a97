"""One DynamoDB item per week of weights: the Decimal boundary, on the writer's side.

The item's layout, and the checks every published week passes, are defined once,
in the reader package trading installs (``weighting_pipeline_reader.item``); this
module builds items to that layout from a week's frames and provenance, and the
IO manager runs the reader's ``check_weights`` on each before writing it.

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
from weighting_pipeline_reader.item import ENTITY_TYPE, PK, TOMBSTONE, is_tombstone

DEFAULT_TTL_DAYS = 7


def to_decimal(x: float) -> Decimal:
    """A finite float as the shortest Decimal that round-trips; refuses NaN/inf."""
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"refusing to store non-finite number {x!r}")
    return Decimal(repr(x))


def _iso(ts: pd.Timestamp) -> str:
    return ts.isoformat()


PROVENANCE_TEXT = (
    "baseline_file",
    "baseline_sha256",
    "baseline_uri",
    "baseline_version",
    "package_version",
    "lock_sha256",
    "code_version",
    "ledger_index",
    "weights_sha256",
)


def expiry(written_at: pd.Timestamp, valid_until: pd.Timestamp, ttl_days: int) -> int:
    """The ``ttl`` attribute: epoch seconds of max(write time, valid_until) + ``ttl_days``."""
    return int(math.ceil((max(written_at, valid_until) + pd.Timedelta(days=ttl_days)).timestamp()))


def week_items(
    weekly: WeeklyWeights, weeks: WeekWindows, *, written_at: pd.Timestamp, ttl_days: int
) -> list[dict[str, Any]]:
    """Items (Python types, Decimal numbers) for each week of ``weekly``."""
    items = []
    started = to_decimal(weekly.run_started_at)
    by_week = {str(k): rows for k, rows in weekly.frame.groupby("partition_key", observed=True, sort=False)}
    for key, valid_from, valid_until, window_start in zip(
        weeks.keys, weeks.ends, weeks.valid_until, weeks.window_starts
    ):
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
                "sharpe_ratios": {s: to_decimal(v) for s, v, q in zip(strategies, rows["sharpe"], qualified) if q},
                # What the multipliers mapped: the score's name and each qualified strategy's value.
                "score": weekly.params.score,
                "scores": {s: to_decimal(v) for s, v, q in zip(strategies, rows["score"], qualified) if q},
                "skipped_strategies": {
                    s: str(r) for s, r, q in zip(strategies, rows["skip_reason"], qualified) if not q
                },
                "parameters": {k: v if isinstance(v, str) else to_decimal(v) for k, v in provenance.parameters.items()},
                **{name: getattr(provenance, name) for name in PROVENANCE_TEXT},
                **(
                    {
                        "market_data": {
                            "bucket": str(provenance.market_data.get("bucket", "")),
                            "bars": {str(k): str(v) for k, v in provenance.market_data.get("bars", {}).items()},
                        }
                    }
                    if provenance.market_data
                    else {}
                ),
                "ttl": expiry(written_at, valid_until, ttl_days),
            }
        )
        decision = weekly.decisions.get(key)
        if decision is not None and decision.forced:
            items[-1]["forced_publication"] = decision.reason
    return items


def is_live(item: dict[str, Any] | None) -> bool:
    """Whether a stored item holds published weights (not missing, not a tombstone)."""
    return item is not None and not is_tombstone(item)


def tombstone(
    key: str,
    *,
    by: str,
    reason: str,
    at: pd.Timestamp,
    replaced: dict[str, Any] | None,
    ttl_days: int = DEFAULT_TTL_DAYS,
) -> dict[str, Any]:
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
        scores = item["scores"]
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
