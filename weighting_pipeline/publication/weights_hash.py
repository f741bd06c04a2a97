"""The canonical weights hash: the audit contract that makes two publications comparable.

``weights_sha256`` is SHA-256 of a week's weights in the canonical encoding
``CANONICAL_WEIGHTS`` describes. It is stored in each week's DynamoDB item and
in the week's materialization, and an auditor can recompute it from either.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping

CANONICAL_WEIGHTS = (
    "UTF-8 JSON object of strategy -> weight, keys sorted, no whitespace (separators ',' and ':'), "
    "each weight a JSON number written as Python's repr of the float (the shortest decimal that "
    'round-trips), e.g. {"a.clj":0.25,"b.clj":0.75}'
)


def canonical_weights(weights: Mapping[str, float]) -> bytes:
    """``weights`` (strategy -> fraction of capital) in the canonical encoding."""
    values = {str(k): float(v) for k, v in weights.items()}
    bad = sorted(k for k, v in values.items() if not math.isfinite(v))
    if bad:
        raise ValueError(f"weights of {bad} are not finite; they have no canonical encoding")
    return json.dumps(values, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")


def weights_sha256(weights: Mapping[str, float]) -> str:
    """Hex SHA-256 of ``canonical_weights(weights)``: equal weights, equal hash."""
    return hashlib.sha256(canonical_weights(weights)).hexdigest()


def weights_sha256_or_none(weights: Mapping[str, float]) -> str | None:
    """``weights_sha256``, or None for weights with a NaN or inf (which are never published)."""
    try:
        return weights_sha256(weights)
    except ValueError:
        return None
