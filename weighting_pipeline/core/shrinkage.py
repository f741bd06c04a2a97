"""James-Stein shrinkage of the week's scores before they are mapped (``SCORE_SHRINKAGE``).

A 90-day Sharpe ratio has a standard error of about 2 (annualised), as large as
the spread between strategies: the extremes of a week's scores are mostly noise,
and the min-max mapping hands them the extreme multipliers. Shrinking each score
toward the week's cross-sectional mean by how much of the spread noise explains
stops that (Efron and Morris 1973, the positive-part James-Stein estimator with
an estimated mean):

    s_bar = mean of the N qualified scores
    D     = sum_i (s_i - s_bar)^2 / SE_i^2          (the spread in units of noise)
    c     = max(0, 1 - (N - 3) / D)                 (1: no shrinkage, 0: all to the mean)
    s_i'  = s_bar + c (s_i - s_bar)

``SE_i`` is each score's standard error (annualised, like the score). With equal
standard errors this is the classical estimator; with unequal ones, dividing
each squared deviation by its own variance is the usual heteroscedastic
approximation. Weeks with fewer than four qualified strategies are left as they
are (the factor needs N - 3 > 0). The factor is the same for every strategy of
a week, so the ordering is kept and only the spread shrinks.
"""

from __future__ import annotations

import numpy as np

SHRINKAGES = ("none", "james_stein")


def james_stein(score: np.ndarray, se: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(shrunk, factor)``: each row's (week's) scores shrunk toward the mean of its
    qualified ones (finite score and standard error > 0; others are returned as they
    are), and each row's factor ``c`` (NaN where fewer than four qualify)."""
    score, se = np.atleast_2d(np.asarray(score, float)), np.atleast_2d(np.asarray(se, float))
    ok = np.isfinite(score) & np.isfinite(se) & (se > 0)
    n = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(ok, score, 0.0).sum(axis=1) / n
        spread = np.where(ok, (score - mean[:, None]) ** 2 / np.where(ok, se, 1.0) ** 2, 0.0).sum(axis=1)
        factor = np.where(n >= 4, np.clip(1.0 - (n - 3) / spread, 0.0, 1.0), np.nan)
    factor = np.where((n >= 4) & ~(spread > 0), 0.0, factor)  # no spread at all: every score is the mean already
    shrunk = np.where(ok & (n >= 4)[:, None], mean[:, None] + factor[:, None] * (score - mean[:, None]), score)
    return shrunk, factor
