"""Assemble the per-week weights frame from multipliers and the baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd

from weighting_pipeline.core.allocation import bounded_weights, folder_groups, naive_weights, sleeve_weights
from weighting_pipeline.core.grid import cells, to_matrix
from weighting_pipeline.core.multipliers import MultiplierBounds
from weighting_pipeline.core.smoothing import smooth_from

WEIGHT_COLUMNS = [
    "partition_key",
    "strategy",
    "sharpe",
    "score",  # what the multipliers mapped (the Sharpe ratio unless SCORE says otherwise)
    "skip_reason",
    "multiplier",
    "baseline",
    "naive_weight",
    "weight",  # published: the target, or under SMOOTHING the partial step toward it (core.smoothing)
    "target_weight",  # the week's weights without smoothing
]


def dynamic_weights(
    multipliers: pd.DataFrame, baseline: pd.Series, bounds: MultiplierBounds = MultiplierBounds(), sleeves: str = "none"
) -> pd.DataFrame:
    """Bounded weights for every (partition_key, strategy) in ``multipliers``.

    ``multipliers`` is the frame of ``core.multipliers.multipliers``;
    ``baseline`` is indexed by baseline key, fractions summing to 1. Weights
    are fractions (0.3 = 30%) and each week sums to 1. ``sleeves="folder"``
    renormalises within each folder of the baseline keys, each folder keeping
    its baseline total (``core.allocation.sleeve_weights``).
    """
    keys, strategies, w, s = cells(multipliers, list(baseline.index))
    b = baseline.to_numpy(np.float64)
    m = to_matrix(multipliers, "multiplier", (len(keys), len(strategies)), w, s)
    out = multipliers[["partition_key", "strategy", "sharpe", "skip_reason", "multiplier"]].copy()
    out["score"] = multipliers["score"]
    out["baseline"] = b[s]
    out["naive_weight"] = naive_weights(b, m)[w, s]
    if sleeves == "folder":
        out["weight"] = sleeve_weights(b, m, folder_groups(strategies), bounds)[w, s]
    else:
        out["weight"] = bounded_weights(b, m, bounds)[w, s]
    out["target_weight"] = out["weight"]
    return out[WEIGHT_COLUMNS].reset_index(drop=True)


def smoothed_weights(
    frame: pd.DataFrame, baseline: pd.Series, lam: float, start: str, bounds: MultiplierBounds
) -> pd.DataFrame:
    """``frame`` (a ``dynamic_weights`` frame holding every week from ``start`` on that it
    holds any of, in order) with ``weight`` the partial adjustment toward ``target_weight``
    from ``start`` on (``core.smoothing``); weeks before ``start`` keep their targets."""
    if lam >= 1.0 or frame.empty:
        return frame
    keys, strategies, w, s = cells(frame, list(baseline.index))
    targets = to_matrix(frame, "target_weight", (len(keys), len(strategies)), w, s)
    weights = smooth_from(
        keys, targets, baseline.to_numpy(np.float64), lam, start, bounds.min_multiplier, bounds.max_multiplier
    )
    out = frame.copy()
    out["weight"] = weights[w, s]
    return out


def turnover(weights: pd.Series, previous: pd.Series) -> float:
    """Half the L1 distance between two weight vectors (0 = same, 1 = disjoint).

    Both are indexed by strategy; a strategy missing from one side counts as 0.
    """
    both = pd.concat([weights, previous], axis=1).fillna(0.0)
    return 0.5 * float(np.abs(both.iloc[:, 0] - both.iloc[:, 1]).sum())
