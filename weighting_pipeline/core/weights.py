"""Assemble the per-week weights frame from multipliers and the baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd

from weighting_pipeline.core.allocation import bounded_weights, naive_weights
from weighting_pipeline.core.multipliers import MultiplierBounds

WEIGHT_COLUMNS = [
    "partition_key",
    "strategy",
    "sharpe",
    "skip_reason",
    "multiplier",
    "baseline",
    "naive_weight",
    "weight",
]


def dynamic_weights(
    multipliers: pd.DataFrame, baseline: pd.Series, bounds: MultiplierBounds = MultiplierBounds()
) -> pd.DataFrame:
    """Bounded weights for every (partition_key, strategy) in ``multipliers``.

    ``multipliers`` is the frame of ``core.multipliers.multipliers``;
    ``baseline`` is indexed by baseline key, fractions summing to 1. Weights
    are fractions (0.3 = 30%) and each week sums to 1.
    """
    strategies = list(baseline.index)
    wide = multipliers.pivot(index="partition_key", columns="strategy", values="multiplier")
    wide = wide.reindex(columns=strategies)
    b = baseline.to_numpy(np.float64)
    m = wide.to_numpy(np.float64)
    frames = {
        "baseline": np.broadcast_to(b, m.shape),
        "naive_weight": naive_weights(b, m),
        "weight": bounded_weights(b, m, bounds),
    }
    key = pd.MultiIndex.from_arrays([multipliers["partition_key"], multipliers["strategy"]])
    out = multipliers[["partition_key", "strategy", "sharpe", "skip_reason", "multiplier"]].copy()
    for name, values in frames.items():
        stacked = pd.DataFrame(values, index=wide.index, columns=strategies).stack(future_stack=True)
        out[name] = stacked.reindex(key).to_numpy(np.float64)
    return out.reset_index(drop=True)


def turnover(weights: pd.Series, previous: pd.Series) -> float:
    """Half the L1 distance between two weight vectors (0 = same, 1 = disjoint).

    Both are indexed by strategy; a strategy missing from one side counts as 0.
    """
    both = pd.concat([weights, previous], axis=1).fillna(0.0)
    return 0.5 * float(np.abs(both.iloc[:, 0] - both.iloc[:, 1]).sum())
