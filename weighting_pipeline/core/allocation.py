"""Turn baseline allocations and multipliers into weights that sum to 1.

Naive renormalisation ``b*m / sum(b*m)`` can push a strategy outside its
promised band (in the worked example the worst lands at 0.387x its baseline).
Bounded renormalisation keeps the band:

    w_i = clip(k * b_i * m_i, lo * b_i, hi * b_i),  with k such that sum(w) = 1.

``f(k) = sum_i clip(k * a_i, lo_i, hi_i)`` is continuous, piecewise linear and
non-decreasing in k, with breakpoints ``lo_i / a_i`` and ``hi_i / a_i``. We
sort the breakpoints, evaluate f at each from cumulative slopes and offsets,
and solve the one linear piece that crosses 1: exact, no iteration.
"""

from __future__ import annotations

import numpy as np

from weighting_pipeline.core.multipliers import MultiplierBounds

SLEEVES = ("none", "folder")


class SleeveError(ValueError):
    """A sleeve (group of strategies) whose bands cannot reach its total."""


def folder_groups(keys) -> list[str]:
    """Each baseline key's sleeve under ``SLEEVES=folder``: its folder (``ftlt/holy_grail.clj``
    is in ``ftlt``), or ``""`` (the root group) for a key without one."""
    return [k.rsplit("/", 1)[0] if "/" in k else "" for k in keys]


def sleeve_weights(
    baseline: np.ndarray,
    multipliers: np.ndarray,
    groups,
    bounds: MultiplierBounds = MultiplierBounds(),
    totals: dict | None = None,
) -> np.ndarray:
    """Bounded renormalisation within each sleeve: every group ``g`` of strategies (``groups``,
    one label per column) gets ``w_i = clip(k_g * b_i * m_i, lo * b_i, hi * b_i)`` with ``k_g``
    solved exactly so that the group sums to ``totals[g]`` (default: its baseline total ``B_g``).
    Dividing by the total makes it ``bounded_weights`` on ``b / B_g`` with the bands scaled by
    ``B_g / T_g``, which is a valid problem exactly when ``lo * B_g <= T_g <= hi * B_g``.
    Vectorised over rows (weeks); a group whose bands cannot reach its total is a
    ``SleeveError`` naming it."""
    m = np.atleast_2d(np.asarray(multipliers, np.float64))
    b = np.asarray(baseline, np.float64)
    labels = np.asarray(list(groups), dtype=object)
    out = np.zeros(m.shape)
    for g in dict.fromkeys(labels.tolist()):  # first-seen order
        cols = np.flatnonzero(labels == g)
        own = float(b[cols].sum())
        total = own if totals is None or g not in totals else float(totals[g])
        lo, hi = bounds.min_multiplier * own, bounds.max_multiplier * own
        if not (lo * (1 - 1e-12) <= total <= hi * (1 + 1e-12)) or (total > 0 and own <= 0):
            raise SleeveError(
                f"sleeve {g or '(root)'!r} cannot total {total:g}: its {len(cols)} strategies' bands "
                f"allow {lo:g} to {hi:g} (baseline total {own:g}, multipliers {bounds.min_multiplier:g} to "
                f"{bounds.max_multiplier:g})"
            )
        if total <= 0:
            continue
        scale = own / total  # 1 for the baseline total: the bands as they are
        scaled = MultiplierBounds(min(bounds.min_multiplier * scale, 1.0), max(bounds.max_multiplier * scale, 1.0))
        out[:, cols] = bounded_weights(b[cols] / own, m[:, cols], scaled) * total
    return out


def naive_weights(baseline: np.ndarray, multipliers: np.ndarray) -> np.ndarray:
    """``b*m / sum(b*m)`` per row; shown for comparison only, never published."""
    a = np.asarray(baseline, np.float64) * np.asarray(multipliers, np.float64)
    return a / a.sum(axis=-1, keepdims=True)


def bounded_weights(
    baseline: np.ndarray, multipliers: np.ndarray, bounds: MultiplierBounds = MultiplierBounds()
) -> np.ndarray:
    """Bounded renormalisation, vectorised over rows (weeks).

    Parameters
    ----------
    baseline : (S,) or (W, S) fractions, >= 0, each row summing to 1.
    multipliers : (W, S) or (S,) within ``[bounds.min, bounds.max]``.

    Returns
    -------
    (W, S) weights (or (S,) for 1-D input) with ``lo*b <= w <= hi*b`` and
    each row summing to 1 up to float rounding (~1e-15).
    """
    m = np.asarray(multipliers, np.float64)
    one_d = m.ndim == 1
    m = np.atleast_2d(m)
    b = np.broadcast_to(np.asarray(baseline, np.float64), m.shape)
    lo_b = bounds.min_multiplier * b
    hi_b = bounds.max_multiplier * b
    a = b * m
    live = a > 0  # zero-baseline strategies stay at 0 and have no breakpoints

    with np.errstate(divide="ignore", invalid="ignore"):
        k_enter = np.where(live, lo_b / a, np.inf)  # below: held at lo*b
        k_leave = np.where(live, hi_b / a, np.inf)  # above: held at hi*b
    # Each breakpoint changes f's slope and intercept; f(k) = base + icpt + slope*k.
    points = np.concatenate([k_enter, k_leave], axis=1)
    d_slope = np.concatenate([np.where(live, a, 0.0), np.where(live, -a, 0.0)], axis=1)
    d_icpt = np.concatenate([np.where(live, -lo_b, 0.0), np.where(live, hi_b, 0.0)], axis=1)
    order = np.argsort(points, axis=1, kind="stable")
    points = np.take_along_axis(points, order, axis=1)
    slope = np.cumsum(np.take_along_axis(d_slope, order, axis=1), axis=1)
    icpt = lo_b.sum(axis=1, keepdims=True) + np.cumsum(np.take_along_axis(d_icpt, order, axis=1), axis=1)
    finite = np.isfinite(points)
    with np.errstate(invalid="ignore"):
        f_at = np.where(finite, icpt + slope * np.where(finite, points, 0.0), np.inf)

    # First breakpoint where f reaches 1; the crossing lies on the piece before it.
    # When max_multiplier is 1, f tops out at sum(b), which rounding can leave a
    # hair under 1: then every weight sits at its upper bound (the last breakpoint).
    reached = f_at >= 1.0
    last = np.maximum(finite.sum(axis=1) - 1, 0)
    j = np.where(reached.any(axis=1), np.argmax(reached, axis=1), last)
    rows = np.arange(m.shape[0])
    prev = np.maximum(j - 1, 0)
    piece_slope = slope[rows, prev]
    piece_icpt = icpt[rows, prev]
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where((j > 0) & (piece_slope > 0), (1.0 - piece_icpt) / piece_slope, points[rows, j])
    with np.errstate(invalid="ignore"):
        w = np.where(live, np.clip(k[:, None] * a, lo_b, hi_b), 0.0)
    return w[0] if one_d else w
