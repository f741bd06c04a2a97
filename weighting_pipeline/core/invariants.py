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
from scipy.stats import chi2

from weighting_pipeline.core.multipliers import MultiplierBounds
from weighting_pipeline.core.weights import turnover

# The published item's tolerances, defined once with its format (standard library only).
from weighting_pipeline_reader.item import BOUND_TOLERANCE, SUM_TOLERANCE


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
            frame,
            bad,
            lambda r: ", ".join(
                f"{s}: weight {w!r} vs baseline {b!r}" for s, w, b in zip(r["strategy"], r["weight"], r["baseline"])
            ),
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
        "turnover_below_threshold",
        f"week-over-week turnover stays at or below {threshold:.0%}",
        failures,
        measured,
        {k: f"turnover above {threshold:.0%}" for k in failures},
    )


NOISE_ALPHA = 0.05


# Bases whose daily returns are realised P&L of overlapping lots (core.returns): no
# standard error of a 90-day Sharpe ratio measured on them is calibrated (docs/analytics.md).
UNCALIBRATED_BASES = ("lot", "deployed")


def tilt_exceeds_noise(frame: pd.DataFrame, alpha: float = NOISE_ALPHA, return_basis: str = "lot") -> Invariant:
    """WARN rule (informational): do the week's qualified Sharpe ratios differ at all,
    beyond their standard errors? Cochran's Q test of homogeneity.

    With each qualified strategy's annualised Sharpe ratio ``S_i`` and its
    serial-correlation-robust standard error ``SE_i`` (``sharpe_se_hac``, ``core.hac``),
    ``w_i = 1 / SE_i^2``, ``S_bar = sum(w_i S_i) / sum(w_i)``,
    ``Q = sum(w_i (S_i - S_bar)^2)`` and ``p = P(chi2(N - 1) > Q)``. The week passes
    (the tilt has something to follow) when ``p < alpha``; otherwise the ordering
    the multipliers follow is mostly noise. Always the Sharpe ratios, whatever the
    score, because their standard errors are known. Assumes independent estimates.
    Weeks with fewer than two qualified strategies with a usable standard error have
    no tilt to judge and pass.

    On the ``UNCALIBRATED_BASES`` (realised P&L of lots held for days to weeks: a
    90-day window holds only a handful of independent holding periods) no standard
    error is calibrated: on simulated no-skill ledgers shaped like trading's, even the
    Newey-West one is about 2.4 times too small and Q claims a difference almost every
    week (docs/analytics.md). There every week with a tilt to judge is a WARN that says
    so, and nothing is claimed.
    """
    if return_basis in UNCALIBRATED_BASES:
        qualified = frame[(frame["skip_reason"] == "") & np.isfinite(frame["sharpe"].to_numpy(np.float64))]
        counts = qualified.groupby(qualified["partition_key"].astype(str), sort=True).size()
        why = (
            f"no calibrated noise test on the {return_basis} return basis: its daily returns are realised P&L of lots "
            "held for days to weeks, and no standard error of a 90-day Sharpe ratio on them is calibrated "
            "(docs/analytics.md); the tilt cannot be told from noise here"
        )
        weeks = [w for w, n in counts.items() if n >= 2]
        return Invariant(
            "tilt_exceeds_noise",
            "the qualified Sharpe ratios differ beyond their standard errors (calibrated bases only)",
            {w: why for w in weeks},
            {w: {"calibrated": False, "strategies": int(counts[w])} for w in weeks},
            {w: "no calibrated noise test on this basis" for w in weeks},
        )
    qualified = frame[(frame["skip_reason"] == "") & np.isfinite(frame["sharpe"].to_numpy(np.float64))]
    se = qualified["sharpe_se_hac"] if "sharpe_se_hac" in qualified else pd.Series(np.nan, index=qualified.index)
    usable = np.isfinite(se.to_numpy(np.float64)) & (se.to_numpy(np.float64) > 0)
    rows = pd.DataFrame(
        {
            "week": qualified["partition_key"].astype(str).to_numpy()[usable],
            "s": qualified["sharpe"].to_numpy(np.float64)[usable],
            "w": 1.0 / se.to_numpy(np.float64)[usable] ** 2,
        }
    )
    rows["ws"] = rows["w"] * rows["s"]
    by_week = rows.groupby("week", sort=True)
    s_bar = by_week["ws"].transform("sum") / by_week["w"].transform("sum")
    rows["q"] = rows["w"] * (rows["s"] - s_bar) ** 2
    weeks = rows.groupby("week", sort=True).agg(q=("q", "sum"), n=("q", "size"))
    weeks = weeks[weeks["n"] >= 2]
    dof = weeks["n"] - 1
    p_values = chi2.sf(weeks["q"].to_numpy(), dof.to_numpy())
    failures, measured = {}, {}
    for (week, row), k, p in zip(weeks.iterrows(), dof, p_values):
        measured[week] = {"q": float(row["q"]), "dof": int(k), "p_value": float(p), "strategies": int(row["n"])}
        if not p < alpha:
            failures[week] = (
                f"the {int(row['n'])} qualified Sharpe ratios do not differ beyond their standard errors "
                f"(Q = {row['q']:.2f} on {int(k)} degrees of freedom, p = {p:.3f} >= {alpha:g}): "
                "the tilt is mostly noise"
            )
    return Invariant(
        "tilt_exceeds_noise",
        f"the qualified Sharpe ratios differ beyond their standard errors (p < {alpha:g})",
        failures,
        measured,
        {w: "the tilt is within noise" for w in failures},
    )
