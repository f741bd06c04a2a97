"""Partial adjustment toward each week's target weights (``SMOOTHING``, ``SMOOTHING_START``).

The trading author's pull request 2977 moves the live weights a fraction of the
way to the new target at each rebalance: ``w_new = w_old + lambda (w_target -
w_old)``. Here ``target_t`` is week ``t``'s weights as computed without smoothing
(``core.weights``), and the published weights are

    w_t = w_{t-1} + lambda (target_t - w_{t-1})     for every week t from SMOOTHING_START on,
    w_{SMOOTHING_START - 1} = the baseline,

so ``w_t = (1 - lambda)^(n) b + sum_k lambda (1 - lambda)^(t - k) target_k``: a convex
combination of the baseline and the targets since the start. It is a function
of the ledger and the settings only (never of what was published before), so a
single week, a range and a rerun give the same numbers. Each target lies within
its bands ``[lo b, hi b]`` and sums to 1, and so does the baseline; a convex
combination of points of that (convex) set stays in it, so every ``w_t`` keeps
the bands and sums to 1, to rounding. A week whose target fails the blocking
invariants (not finite, out of its bands) is no step: ``w_t = w_{t-1}``.

The recursion runs over weeks in one pass, vectorised over strategies, always
from the start week, in the same order whatever weeks a run holds: the bits of
``w_t`` do not depend on how the weeks were run.
"""

from __future__ import annotations

import numpy as np

SMOOTHING_TOLERANCE = 1e-9  # a target this close to its bands and to summing to 1 is a valid step


def smooth(targets: np.ndarray, baseline: np.ndarray, lam: float, valid: np.ndarray | None = None) -> np.ndarray:
    """(weeks, strategies) smoothed weights from (weeks, strategies) ``targets`` (the start
    week first, every week since in order), the baseline (strategies,) and ``lam`` in
    (0, 1]; ``valid`` marks the weeks whose targets may be stepped toward (default: all)."""
    targets = np.asarray(targets, dtype=float)
    valid = np.ones(len(targets), dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    out = np.empty_like(targets)
    previous = np.asarray(baseline, dtype=float)
    for t in range(len(targets)):
        if valid[t]:
            previous = previous + lam * (targets[t] - previous)
        out[t] = previous
    return out


def smooth_from(
    keys, targets: np.ndarray, baseline: np.ndarray, lam: float, start: str, lo: float, hi: float
) -> np.ndarray:
    """(weeks, strategies) weights of the weeks ``keys`` (in order) from their ``targets``:
    the weeks from ``start`` on smoothed (``smooth``, stepping toward valid targets only),
    the weeks before it left at their targets."""
    targets = np.asarray(targets, dtype=float)
    after = np.array([k >= start for k in keys], dtype=bool)
    out = targets.copy()
    if lam < 1.0 and after.any():
        sub = targets[after]
        out[after] = smooth(sub, baseline, lam, valid_targets(sub, baseline, lo, hi))
    return out


def valid_targets(targets: np.ndarray, baseline: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Whether each week's target is a valid step: finite, within ``[lo b, hi b]`` and summing to 1."""
    targets = np.asarray(targets, dtype=float)
    b = np.asarray(baseline, dtype=float)
    finite = np.isfinite(targets).all(axis=1)
    with np.errstate(invalid="ignore"):
        within = ((targets >= lo * b - SMOOTHING_TOLERANCE) & (targets <= hi * b + SMOOTHING_TOLERANCE)).all(axis=1)
        sums = np.abs(np.where(np.isfinite(targets), targets, 0.0).sum(axis=1) - 1.0) <= SMOOTHING_TOLERANCE
    return finite & within & sums
