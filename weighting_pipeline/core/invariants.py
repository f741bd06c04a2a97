"""Invariants of published weights, as pure functions.

The same functions guard three places: the asset checks in the Dagster UI, the
IO manager's refusal to write, and the trading reader's fallback. Each returns
the weeks that break the rule with a short description, so a failure names
what is wrong, and what it measured per week (a turnover, a count), so every
week's check can show its own numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from weighting_pipeline.core.multipliers import MultiplierBounds
from weighting_pipeline.core.weights import turnover

SUM_TOLERANCE = 1e-9
BOUND_TOLERANCE = 1e-12  # absolute, on fractions: room for float rounding only


@dataclass(frozen=True)
class Invariant:
    """The outcome of one rule over a set of weeks.

    ``failures`` maps week -> problem; ``measured`` maps week -> the numbers
    the rule looked at (absent for rules that only pass or fail). ``causes``
    maps a failed week -> what went wrong without this week's numbers (for
    example "turnover above 25%"), so that the same problem reads the same from
    week to week and is alerted once; a failed week absent from it has the
    rule's name as its cause.
    """

    name: str
    description: str
    failures: dict[str, str] = field(default_factory=dict)
    measured: dict[str, dict[str, float]] = field(default_factory=dict)
    causes: dict[str, str] = field(default_factory=dict)

    def cause(self, week: str) -> str:
        """The stable cause of a failed ``week`` (see ``causes``)."""
        return self.causes.get(week, self.name)

    @property
    def passed(self) -> bool:
        return not self.failures


def _per_week(frame: pd.DataFrame, bad: np.ndarray, describe) -> dict[str, str]:
    failures: dict[str, str] = {}
    if bad.any():
        for key, rows in frame[bad].groupby("partition_key", observed=True, sort=True):
            failures[str(key)] = describe(rows)
    return failures


def multipliers_within_bounds(frame: pd.DataFrame, bounds: MultiplierBounds) -> Invariant:
    m = frame["multiplier"].to_numpy(np.float64)
    bad = ~((m >= bounds.min_multiplier) & (m <= bounds.max_multiplier))
    return Invariant(
        "multipliers_within_bounds",
        f"every multiplier lies within [{bounds.min_multiplier}, {bounds.max_multiplier}]",
        _per_week(frame, bad, lambda r: ", ".join(f"{s}={v!r}" for s, v in zip(r["strategy"], r["multiplier"]))),
    )


def weights_sum_to_one(frame: pd.DataFrame) -> Invariant:
    sums = frame.groupby("partition_key", observed=True)["weight"].sum()
    bad = sums[~(np.abs(sums - 1.0) <= SUM_TOLERANCE)]
    return Invariant(
        "weights_sum_to_one",
        f"each week's weights sum to 1 within {SUM_TOLERANCE}",
        {str(k): f"sum is {v!r}" for k, v in bad.items()},
    )


def weights_within_bounds(frame: pd.DataFrame, bounds: MultiplierBounds) -> Invariant:
    w = frame["weight"].to_numpy(np.float64)
    b = frame["baseline"].to_numpy(np.float64)
    lo, hi = bounds.min_multiplier * b, bounds.max_multiplier * b
    bad = ~((w >= lo - BOUND_TOLERANCE) & (w <= hi + BOUND_TOLERANCE))
    return Invariant(
        "weights_within_bounds",
        f"every weight lies within [{bounds.min_multiplier}, {bounds.max_multiplier}] x its baseline",
        _per_week(
            frame, bad, lambda r: ", ".join(f"{s}: weight {w!r} vs baseline {b!r}" for s, w, b in zip(r["strategy"], r["weight"], r["baseline"]))
        ),
    )


def all_finite(frame: pd.DataFrame) -> Invariant:
    """No NaN or inf in weights, multipliers, baselines, or qualified Sharpe ratios and scores."""
    numeric = frame[["weight", "multiplier", "baseline"]].to_numpy(np.float64)
    bad = ~np.isfinite(numeric).all(axis=1)
    if "sharpe" in frame:
        qualified = (frame["skip_reason"] == "").to_numpy()
        for column in ("sharpe", "score"):
            if column in frame:
                bad |= qualified & ~np.isfinite(frame[column].to_numpy(np.float64))
    return Invariant(
        "no_nan_or_inf",
        "no NaN or inf in weights, multipliers, baselines or Sharpe ratios",
        _per_week(frame, bad, lambda r: "non-finite value for " + ", ".join(map(str, r["strategy"]))),
    )


def covers_baseline(frame: pd.DataFrame, baseline_keys: list[str]) -> Invariant:
    expected = set(baseline_keys)
    failures = {}
    for key, rows in frame.groupby("partition_key", observed=True, sort=True):
        names = [str(s) for s in rows["strategy"]]
        missing, extra = sorted(expected - set(names)), sorted(set(names) - expected)
        dupes = sorted({n for n in names if names.count(n) > 1})
        if missing or extra or dupes:
            failures[str(key)] = f"missing {missing}, unexpected {extra}, duplicated {dupes}"
    return Invariant("weights_cover_baseline", "each week's weights cover exactly the baseline strategies", failures)


def blocking_invariants(frame: pd.DataFrame, baseline_keys: list[str], bounds: MultiplierBounds) -> list[Invariant]:
    """Every rule a week must pass before it may be published."""
    return [
        multipliers_within_bounds(frame, bounds),
        weights_sum_to_one(frame),
        weights_within_bounds(frame, bounds),
        all_finite(frame),
        covers_baseline(frame, baseline_keys),
    ]


def enough_qualified(frame: pd.DataFrame) -> Invariant:
    """WARN rule: at least two strategies qualified (else weights equal the baseline)."""
    counts = (frame["skip_reason"] == "").groupby(frame["partition_key"], observed=True).sum()
    failures = {str(k): f"{int(n)} qualified" for k, n in counts.items() if n < 2}
    return Invariant(
        "enough_strategies_qualified",
        "at least two strategies qualified for a Sharpe ratio (otherwise weights equal the baseline)",
        failures,
        {str(k): {"qualified": int(n)} for k, n in counts.items()},
        dict(failures),  # "0 qualified" and "1 qualified" are the only causes
    )


def turnover_below_threshold(frame: pd.DataFrame, previous: pd.Series | None, threshold: float) -> Invariant:
    """WARN rule: each week's turnover ``0.5 * sum|w - w_prev|`` stays at or below ``threshold``.

    Weeks are taken in ascending key order; the first is compared with
    ``previous`` (the weights of the week before it, indexed by strategy, or
    None when that week has no weights: then it has no turnover), every other
    with the week before it in ``frame``. Turnover is a fraction of capital.
    """
    plain = frame.assign(partition_key=frame["partition_key"].astype(str), strategy=frame["strategy"].astype(str))
    wide = plain.pivot(index="partition_key", columns="strategy", values="weight").sort_index()
    failures, measured = {}, {}
    prior = previous
    for key, current in wide.iterrows():
        key = str(key)
        if prior is not None:
            value = turnover(current, prior)
            measured[key] = {"turnover": value}
            if value > threshold:
                failures[key] = f"turnover {value:.1%} > {threshold:.0%}"
        prior = current
    return Invariant(
        "turnover_below_threshold", f"week-over-week turnover stays at or below {threshold:.0%}", failures, measured,
        {k: f"turnover above {threshold:.0%}" for k in failures},
    )


NOISE_STANDARD_ERRORS = 2.0


def tilt_exceeds_noise(frame: pd.DataFrame, k: float = NOISE_STANDARD_ERRORS) -> Invariant:
    """WARN rule: the best and worst qualified Sharpe ratios of each week differ by
    more than ``k`` standard errors of their difference.

    The standard error of ``best - worst`` is ``sqrt(se_best^2 + se_worst^2)``
    (two independent estimates), each the Mertens/Opdyke ``sharpe_se`` (Lo's
    ``sharpe_se_iid`` where that is undefined); both annualised like the ratios.
    Within it, the ordering the multipliers follow is mostly noise. Weeks with
    fewer than two qualified strategies have no tilt to judge and pass.
    """
    failures, measured = {}, {}
    qualified = frame[(frame["skip_reason"] == "") & np.isfinite(frame["sharpe"].to_numpy(np.float64))]
    se = qualified["sharpe_se"] if "sharpe_se" in qualified else pd.Series(np.nan, index=qualified.index)
    if "sharpe_se_iid" in qualified:
        se = se.fillna(qualified["sharpe_se_iid"])
    qualified = qualified.assign(_se=se)
    for key, rows in qualified.groupby("partition_key", observed=True, sort=True):
        if len(rows) < 2:
            continue
        best, worst = rows.loc[rows["sharpe"].idxmax()], rows.loc[rows["sharpe"].idxmin()]
        spread = float(best["sharpe"] - worst["sharpe"])
        spread_se = float(np.hypot(best["_se"], worst["_se"]))
        numbers = {"best_sharpe": float(best["sharpe"]), "worst_sharpe": float(worst["sharpe"]), "spread": spread,
                   "spread_standard_error": spread_se, "spread_in_standard_errors": spread / spread_se if spread_se > 0 else np.nan}
        measured[str(key)] = {name: v for name, v in numbers.items() if np.isfinite(v)}
        if not spread > k * spread_se:
            failures[str(key)] = (f"best {best['strategy']} ({best['sharpe']:.2f}) and worst {worst['strategy']} "
                                  f"({worst['sharpe']:.2f}) differ by {spread:.2f}, within {k:g} standard errors "
                                  f"({k * spread_se:.2f}): the tilt is mostly noise")
    return Invariant("tilt_exceeds_noise", f"best and worst qualified Sharpe ratios differ by more than {k:g} standard errors",
                     failures, measured, {w: "the tilt is within noise" for w in failures})
