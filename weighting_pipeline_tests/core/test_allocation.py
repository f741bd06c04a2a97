import numpy as np
import pytest

from benchmarks.loop_baseline import active_set_weights
from weighting_pipeline.core.allocation import bounded_weights, naive_weights
from weighting_pipeline.core.multipliers import MultiplierBounds, multiplier_matrix

SHARPE = np.array([1.8, 1.2, 0.8, 0.5, -0.2])
BASELINE = np.array([0.20, 0.25, 0.20, 0.15, 0.20])


def test_worked_example_from_the_spec():
    m = multiplier_matrix(SHARPE[None, :])[0]
    np.testing.assert_allclose(m, [2.0, 1.55, 1.25, 1.025, 0.5], atol=1e-12)
    naive = naive_weights(BASELINE, m)
    np.testing.assert_allclose(100 * naive, [30.98, 30.01, 19.36, 11.91, 7.74], atol=0.005)
    assert naive[-1] / BASELINE[-1] == pytest.approx(0.387, abs=5e-4)  # the broken promise
    w = bounded_weights(BASELINE, m)
    np.testing.assert_allclose(100 * w, [30.22, 29.28, 18.89, 11.62, 10.00], atol=0.005)
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(w >= 0.5 * BASELINE - 1e-15) and np.all(w <= 2.0 * BASELINE + 1e-15)


@pytest.mark.parametrize(
    "baseline, mult, bounds, expected",
    [
        # every multiplier 1: weights equal the baseline
        ([0.5, 0.3, 0.2], [1.0, 1.0, 1.0], (0.5, 2.0), [0.5, 0.3, 0.2]),
        # a zero-baseline strategy stays at zero (never NaN); naive would give 0.2 < 0.5 * 0.5,
        # so the second is held at its floor 0.25 and the first takes 0.75
        ([0.5, 0.5, 0.0], [2.0, 0.5, 1.0], (0.5, 2.0), [0.75, 0.25, 0.0]),
        # min = max = 1: nothing can move
        ([0.4, 0.6], [1.0, 1.0], (1.0, 1.0), [0.4, 0.6]),
        # the upper bound binds: naive gives 0.6/0.85 = 0.706 > 1.2 * 0.5, so the first is held
        # at 0.6 and the second takes the remaining 0.4 (inside its [0.25, 0.6] band)
        ([0.5, 0.5], [1.2, 0.5], (0.5, 1.2), [0.6, 0.4]),
        # no bound binds: plain renormalisation
        ([0.9, 0.1], [1.0, 2.0], (0.5, 2.0), [0.9 / 1.1, 0.2 / 1.1]),
        # single strategy: it gets everything
        ([1.0], [2.0], (0.5, 2.0), [1.0]),
    ],
)
def test_bounded_weights_table(baseline, mult, bounds, expected):
    w = bounded_weights(np.array(baseline), np.array(mult), MultiplierBounds(*bounds))
    np.testing.assert_allclose(w, expected, atol=1e-12)


def test_vectorised_rows_match_active_set_loop_on_random_inputs():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 40))
        b = rng.dirichlet(np.full(n, 0.7))
        b[rng.random(n) < 0.1] = 0.0
        if b.sum() == 0:
            b[0] = 1.0
        b = b / b.sum()
        lo, hi = float(rng.uniform(0.1, 1.0)), float(rng.uniform(1.0, 4.0))
        m = rng.uniform(lo, hi, size=(3, n))
        w = bounded_weights(b, m, MultiplierBounds(lo, hi))
        for row, mrow in zip(w, m):
            keys = [str(i) for i in range(n)]
            ref = active_set_weights(dict(zip(keys, b)), dict(zip(keys, mrow)), lo, hi)
            np.testing.assert_allclose(row, [ref[k] for k in keys], atol=1e-12)
            assert abs(row.sum() - 1) < 1e-12
            assert np.all(row >= lo * b - 1e-15) and np.all(row <= hi * b + 1e-15)


@pytest.mark.parametrize(
    "baseline, mult",
    [([0.7, 0.2, 0.1], [1.0, 1.0, 1.0]), ([0.5, 0.3, 0.2], [1.0, 0.7, 0.5])],
)
def test_max_multiplier_one_when_the_upper_bounds_sum_a_hair_under_one(baseline, mult):
    # Found by hypothesis: with max_multiplier = 1, f(k) tops out at sum(b), which float
    # sums leave 1 ulp under 1.0; the solver then took the first breakpoint and gave
    # weights summing to 0.5. The only feasible answer is every weight at hi * b.
    bounds = MultiplierBounds(0.5, 1.0)
    w = bounded_weights(np.array(baseline), np.array(mult), bounds)
    np.testing.assert_allclose(w, baseline, rtol=0, atol=1e-15)
    assert abs(w.sum() - 1.0) <= 1e-12
