"""The settings sweep: each row is that setting's backtest; the best is deflated."""

import numpy as np
import pandas as pd
import pytest

from weighting_pipeline.core import analytics
from weighting_pipeline.core.backtest import weekly_realised_returns
from weighting_pipeline.core.chain import WeightingParams
from weighting_pipeline.core.sweep import setting_holdout, sweep
from weighting_pipeline.local.demo_ledger import synthetic_lots

KEYS = [str(d.date()) for d in pd.date_range("2025-06-01", periods=30, freq="7D")]
BASELINE = pd.Series({"a.clj": 0.4, "b.clj": 0.3, "c.clj": 0.2, "d.clj": 0.1})


@pytest.fixture(scope="module")
def lots():
    return synthetic_lots(list(BASELINE.index), "2025-01-01", "2026-01-15", 1.2, seed=9)


def test_each_row_is_its_settings_backtest_and_the_best_is_deflated(lots):
    seen = []
    result = sweep(lots, KEYS, BASELINE, {"lookback_days": [60, 90], "max_multiplier": [1.5, 2.0]}, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert result.table[["lookback_days", "max_multiplier"]].values.tolist() == [[60, 1.5], [60, 2.0], [90, 1.5], [90, 2.0]]
    realised, closed = weekly_realised_returns(lots, KEYS[1:], list(BASELINE.index))
    one = setting_holdout(lots, KEYS, BASELINE, WeightingParams(lookback_days=90, max_multiplier=2.0), realised, closed)
    assert len(one) == len(KEYS) - 1 and one.index.tolist() == KEYS[1:]
    assert result.table.iloc[3]["information_ratio"] == pytest.approx(analytics.information_ratio(one["active"]))
    assert result.best["information_ratio"] == result.table["information_ratio"].max()
    assert 0 <= result.deflated_ratio <= 1


def test_the_first_backtested_week_uses_the_weights_computed_a_week_earlier(lots):
    realised, closed = weekly_realised_returns(lots, KEYS[1:], list(BASELINE.index))
    whole = setting_holdout(lots, KEYS, BASELINE, WeightingParams(), realised, closed)
    # Later lots cannot change an earlier week: cut the ledger at the end of week 10.
    cut = lots[lots["fully_closed_at"] < pd.Timestamp(KEYS[10], tz="America/New_York").tz_convert("UTC") + pd.Timedelta(days=7, hours=18)]
    r2, c2 = weekly_realised_returns(cut, KEYS[1:11], list(BASELINE.index))
    part = setting_holdout(cut, KEYS[:11], BASELINE, WeightingParams(), r2, c2)
    np.testing.assert_allclose(part["active"].to_numpy(), whole["active"].iloc[:10].to_numpy(), rtol=0, atol=1e-15)
