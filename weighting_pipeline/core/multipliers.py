"""Map scores (the Sharpe ratio by default) to allocation multipliers of the baseline.

``mapping="minmax"`` (the seed's): per week, the qualified strategies' scores
are min-max normalised to [0, 1] and mapped linearly onto ``[min_multiplier,
max_multiplier]``: the best gets the maximum, the worst the minimum. Skipped
strategies get 1.0, and so does every strategy of a week with fewer than two
qualifiers or with all scores equal.

``mapping="median_power"`` (the trading author's later designs, without their
defects): with ``med`` the median of the week's qualified scores (at least 2),
a qualified strategy with score ``s > 0`` gets ``clip((s / med) ** alpha, min,
max)`` and one with ``s <= 0`` gets ``min`` (a loss is never turned into a gain,
and no root of a negative ratio is taken); every strategy gets 1.0 when ``med <=
0`` or fewer than 2 qualify; unqualified strategies get 1.0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from weighting_pipeline.core.grid import cells, to_matrix
from weighting_pipeline.core.shrinkage import james_stein

MAPPINGS = ("minmax", "median_power")


@dataclass(frozen=True)
class MultiplierBounds:
    """Multiplier bounds, unitless factors of the baseline: ``0 < min <= 1 <= max``."""

    min_multiplier: float = 0.5
    max_multiplier: float = 2.0

    def __post_init__(self) -> None:
        lo, hi = self.min_multiplier, self.max_multiplier
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError(f"multiplier bounds must be finite, got min={lo!r}, max={hi!r}")
        if not 0 < lo <= 1:
            raise ValueError(f"min_multiplier must satisfy 0 < min <= 1, got {lo!r}")
        if hi < 1:
            raise ValueError(f"max_multiplier must be >= 1, got {hi!r}")


def multiplier_matrix(
    sharpe: np.ndarray, bounds: MultiplierBounds = MultiplierBounds(), mapping: str = "minmax", alpha: float = 0.5
) -> np.ndarray:
    """Multipliers for a (weeks x strategies) score matrix; NaN marks a skipped strategy.
    ``mapping`` and ``alpha``: see the module docstring."""
    sharpe = np.asarray(sharpe, dtype=np.float64)
    qualified = np.isfinite(sharpe)
    n_qualified = qualified.sum(axis=1, keepdims=True)
    if mapping == "median_power":
        return _median_power(sharpe, qualified, n_qualified, bounds, alpha)
    if mapping != "minmax":
        raise ValueError(f"mapping must be one of {', '.join(MAPPINGS)}, got {mapping!r}")
    masked_lo = np.where(qualified, sharpe, np.inf).min(axis=1, keepdims=True)
    masked_hi = np.where(qualified, sharpe, -np.inf).max(axis=1, keepdims=True)
    spread = masked_hi - masked_lo
    active = qualified & (n_qualified >= 2) & (spread > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = (sharpe - masked_lo) / spread
    span = bounds.max_multiplier - bounds.min_multiplier
    # Clip guards the last ulp so the bounds hold exactly.
    mult = np.clip(bounds.min_multiplier + scaled * span, bounds.min_multiplier, bounds.max_multiplier)
    return np.where(active, mult, 1.0)


def _median_power(
    score: np.ndarray, qualified: np.ndarray, n_qualified: np.ndarray, bounds: MultiplierBounds, alpha: float
) -> np.ndarray:
    with np.errstate(invalid="ignore", all="ignore"):
        med = (
            np.nanmedian(np.where(qualified, score, np.nan), axis=1, keepdims=True)
            if score.shape[1]
            else np.full((len(score), 1), np.nan)
        )
        active = qualified & (n_qualified >= 2) & (med > 0)
        ratio = np.where(active & (score > 0), score / med, 1.0)
        mult = np.where(
            score > 0, np.clip(ratio**alpha, bounds.min_multiplier, bounds.max_multiplier), bounds.min_multiplier
        )
    return np.where(active, mult, 1.0)


def multipliers(
    sharpe: pd.DataFrame,
    bounds: MultiplierBounds = MultiplierBounds(),
    mapping: str = "minmax",
    alpha: float = 0.5,
    shrinkage: str = "none",
) -> pd.DataFrame:
    """Add a ``multiplier`` column to a Sharpe frame (see ``core.sharpe``), mapping
    its ``score`` column; with
    ``shrinkage="james_stein"`` the scores are first shrunk (``core.shrinkage``, with the
    ``sharpe_se_hac`` standard errors) and the frame gains ``shrunk_score`` and
    ``shrinkage_factor``.

    The frame must hold every (partition_key, strategy) pair once, as
    ``sharpe_ratios`` returns it. Row order is kept.
    """
    keys, strategies, w, s = cells(sharpe)
    shape = (len(keys), len(strategies))
    score = to_matrix(sharpe, "score", shape, w, s)
    out = sharpe.copy()
    if shrinkage == "james_stein":
        # What is mapped: the scores shrunk by the week's James-Stein factor (core.shrinkage).
        score, factor = james_stein(score, to_matrix(sharpe, "sharpe_se_hac", shape, w, s))
        out["shrunk_score"] = score[w, s]
        out["shrinkage_factor"] = factor[w]
    mult = multiplier_matrix(score, bounds, mapping, alpha)
    out["multiplier"] = mult[w, s]
    return out
