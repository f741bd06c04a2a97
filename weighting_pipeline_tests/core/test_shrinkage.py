"""SCORE_SHRINKAGE=james_stein (core.shrinkage) against a hand computation."""

import math

import numpy as np
import pandas as pd
import pytest

from weighting_pipeline.core.chain import WeightingParams
from weighting_pipeline.core.multipliers import multipliers
from weighting_pipeline.core.shrinkage import james_stein


def test_james_stein_by_hand():
    s = [3.0, -1.0, 1.0, 5.0, math.nan]
    se = [2.0, 2.0, 1.0, 2.0, 1.0]
    # Four qualified: mean 2; D = (1/4 + 9/4 + 1/1 + 9/4) = 5.75; c = 1 - (4 - 3) / 5.75.
    c = 1 - 1 / 5.75
    shrunk, factor = james_stein([s], [se])
    assert factor[0] == pytest.approx(c, rel=1e-15)
    np.testing.assert_allclose(shrunk[0, :4], [2 + c * 1, 2 - c * 3, 2 - c * 1, 2 + c * 3], rtol=1e-15)
    assert math.isnan(shrunk[0, 4])  # unqualified: left as it is


def test_noise_as_large_as_the_spread_shrinks_everything_to_the_mean():
    shrunk, factor = james_stein([[1.0, 2.0, 3.0, 4.0, 5.0]], [[10.0] * 5])
    assert factor[0] == 0.0 and np.allclose(shrunk, 3.0)


def test_fewer_than_four_and_no_spread_are_left_alone_or_at_the_mean():
    shrunk, factor = james_stein([[1.0, 5.0, 2.0]], [[1.0, 1.0, 1.0]])
    assert math.isnan(factor[0]) and np.array_equal(shrunk[0], [1.0, 5.0, 2.0])
    shrunk, factor = james_stein([[2.0, 2.0, 2.0, 2.0]], [[1.0, 1.0, 1.0, 1.0]])
    assert factor[0] == 0.0 and np.array_equal(shrunk[0], [2.0] * 4)


def test_the_multipliers_map_the_shrunk_scores_and_keep_the_raw_ones():
    frame = pd.DataFrame(
        {
            "partition_key": "2026-03-01",
            "strategy": list("abcd"),
            "sharpe": [3.0, -1.0, 1.0, 5.0],
            "sharpe_se_hac": [2.0, 2.0, 1.0, 2.0],
            "skip_reason": "",
        }
    )
    frame["score"] = frame["sharpe"]
    out = multipliers(frame, shrinkage="james_stein")
    c = 1 - 1 / 5.75
    np.testing.assert_allclose(out["shrunk_score"], [2 + c, 2 - 3 * c, 2 - c, 2 + 3 * c])
    np.testing.assert_allclose(out["shrinkage_factor"], c)
    assert out["score"].tolist() == [3.0, -1.0, 1.0, 5.0]
    # Min-max of the shrunk scores is min-max of the raw ones (one factor a week) ...
    np.testing.assert_allclose(out["multiplier"], multipliers(frame)["multiplier"])
    # ... but median_power sees the smaller spread.
    shrunk = multipliers(frame, mapping="median_power", shrinkage="james_stein")["multiplier"]
    raw = multipliers(frame, mapping="median_power")["multiplier"]
    assert not np.allclose(shrunk, raw) and (np.abs(np.log(shrunk)) <= np.abs(np.log(raw)) + 1e-12).all()


def test_shrinkage_needs_calibrated_standard_errors():
    with pytest.raises(
        ValueError,
        match="score_shrinkage=james_stein needs calibrated standard errors of the score: "
        "score=sharpe on return_basis=market, got score=sharpe, return_basis=lot",
    ):
        WeightingParams(score_shrinkage="james_stein")
    WeightingParams(score_shrinkage="james_stein", return_basis="market")
    with pytest.raises(ValueError, match="score_shrinkage must be one of none, james_stein, got 'ledoit'"):
        WeightingParams(score_shrinkage="ledoit")
