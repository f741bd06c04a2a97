import numpy as np
import pytest

from weighting_pipeline.core.multipliers import MultiplierBounds, multiplier_matrix

nan = np.nan


@pytest.mark.parametrize(
    "sharpe, expected",
    [
        ([2.0, 1.0, 0.0], [2.0, 1.25, 0.5]),
        ([nan, 1.0, 3.0], [1.0, 0.5, 2.0]),  # skipped strategy gets 1.0
        ([nan, 1.0, nan], [1.0, 1.0, 1.0]),  # a single qualifier: all neutral
        ([nan, nan, nan], [1.0, 1.0, 1.0]),
        ([0.7, 0.7, 0.7], [1.0, 1.0, 1.0]),  # all equal: all neutral
        ([-3.0, -1.0, nan, -2.0], [0.5, 2.0, 1.0, 1.25]),
    ],
)
def test_multiplier_table(sharpe, expected):
    np.testing.assert_allclose(multiplier_matrix(np.array([sharpe]))[0], expected, atol=1e-12)


def test_rows_are_independent_weeks():
    m = multiplier_matrix(np.array([[1.0, 2.0], [5.0, 5.0]]))
    np.testing.assert_allclose(m, [[0.5, 2.0], [1.0, 1.0]])


def test_custom_bounds_map_best_and_worst_exactly():
    m = multiplier_matrix(np.array([[0.1, 0.2, 0.3]]), MultiplierBounds(0.8, 1.5))[0]
    assert m[0] == 0.8 and m[2] == 1.5


@pytest.mark.parametrize("lo, hi", [(0.0, 2.0), (1.2, 2.0), (0.5, 0.9), (nan, 2.0), (0.5, float("inf"))])
def test_invalid_bounds_are_rejected_with_the_values(lo, hi):
    with pytest.raises(ValueError, match="multiplier"):
        MultiplierBounds(lo, hi)
