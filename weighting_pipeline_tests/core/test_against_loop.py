"""The vectorised chain against the independent per-week, per-strategy loop."""

import numpy as np
import pandas as pd
import pytest

from benchmarks.loop_baseline import loop_weights
from weighting_pipeline.core.chain import WeightingParams, run_chain
from weighting_pipeline_devtools.demo_ledger import synthetic_lots

KEYS = [str(d.date()) for d in pd.date_range("2025-09-07", "2026-01-04", freq="7D")]  # spans the Nov DST change


def loop_of(lots, keys, baseline, params):
    rows = [
        (r.strategy, r.fully_closed_at.to_pydatetime(), r.entry_qty, r.entry_price, r.realized_pnl)
        for r in lots.itertuples()
    ]
    return loop_weights(
        rows,
        keys,
        baseline.to_dict(),
        lookback_days=params.lookback_days,
        risk_free_rate=params.risk_free_rate,
        min_lots=params.min_lots,
        min_days=params.min_days,
        min_multiplier=params.min_multiplier,
        max_multiplier=params.max_multiplier,
    )


@pytest.mark.parametrize("seed, density, lookback", [(1, 0.6, 90), (2, 0.15, 90), (3, 1.2, 30), (4, 0.05, 60)])
def test_vectorised_matches_loop_on_random_ledgers(baseline, seed, density, lookback):
    params = WeightingParams(lookback_days=lookback)
    lots = synthetic_lots(baseline.keys, "2025-05-01", "2026-01-20", density, seed=seed)
    # strategies appearing mid-range, and weeks with no lots at all for some
    lots = lots[~((lots["strategy"] == "gold.clj") & (lots["fully_closed_at"] < pd.Timestamp("2025-11-01", tz="UTC")))]
    lots = lots[
        ~((lots["strategy"] == "ftlt/tqqq_ftlt.clj") & (lots["fully_closed_at"] > pd.Timestamp("2025-10-01", tz="UTC")))
    ]
    out = run_chain(lots, KEYS, baseline.allocations, params)["dynamic_weights"]
    ref = loop_of(lots, KEYS, baseline.allocations, params)
    assert len(out) == len(KEYS) * len(baseline.keys)
    reasons_seen = set()
    for row in out.itertuples():
        expected = ref[row.partition_key][row.strategy]
        assert row.skip_reason == expected["skip_reason"], (row.partition_key, row.strategy)
        reasons_seen.add(row.skip_reason.split(":")[0])
        assert row.multiplier == pytest.approx(expected["multiplier"], abs=1e-9)
        assert row.weight == pytest.approx(expected["weight"], abs=1e-9)
        if not row.skip_reason:
            assert row.sharpe == pytest.approx(expected["sharpe"], abs=1e-9)
    assert "" in reasons_seen  # the comparison covered qualified strategies, not only skips


DST_KEYS = [str(d.date()) for d in pd.date_range("2025-10-19", "2026-03-15", freq="7D")]  # 169 h and 167 h weeks


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_range_is_bit_identical_to_single_weeks(baseline, seed):
    lots = synthetic_lots(baseline.keys, "2025-06-01", "2026-03-25", 0.5, seed=seed)
    closed = lots["fully_closed_at"]
    # a 100-day gap: some windows hold no lots at all
    lots = lots[~((closed > pd.Timestamp("2025-11-20", tz="UTC")) & (closed < pd.Timestamp("2026-02-28", tz="UTC")))]
    # a strategy that only starts mid-range
    lots = lots[
        ~(
            (lots["strategy"] == "simons_full_kmlm.clj")
            & (lots["fully_closed_at"] < pd.Timestamp("2026-01-01", tz="UTC"))
        )
    ]
    whole = run_chain(lots, DST_KEYS, baseline.allocations)["dynamic_weights"]
    sizes = whole.groupby("partition_key", observed=True)["skip_reason"].apply(lambda r: (r == "").sum())
    assert (sizes == 0).any() and (sizes > 1).any()  # the ranges really include empty and full weeks
    for key in DST_KEYS:
        single = run_chain(lots, [key], baseline.allocations)["dynamic_weights"]
        part = whole[whole["partition_key"] == key].reset_index(drop=True)
        for col in ("sharpe", "multiplier", "weight"):
            assert np.array_equal(single[col].to_numpy(), part[col].to_numpy(), equal_nan=True), (key, col)
        assert list(single["skip_reason"]) == list(part["skip_reason"])


def test_lots_after_a_week_end_never_change_that_week(baseline):
    lots = synthetic_lots(baseline.keys, "2025-05-01", "2026-01-20", 0.5, seed=5)
    key = KEYS[3]
    before = run_chain(lots, [key], baseline.allocations)["dynamic_weights"]
    later = synthetic_lots(baseline.keys, "2025-10-05", "2026-01-20", 3.0, seed=6)  # closes from the week end on
    later = later[later["fully_closed_at"] >= pd.Timestamp("2025-10-05 22:00", tz="UTC")]
    after = run_chain(pd.concat([lots, later], ignore_index=True), [key], baseline.allocations)["dynamic_weights"]
    assert np.array_equal(before["weight"].to_numpy(), after["weight"].to_numpy())


@pytest.mark.parametrize(
    "kwargs, problem",
    [
        ({"lookback_days": 0}, "lookback_days"),
        ({"min_multiplier": 1.2}, "min_multiplier"),
        ({"max_multiplier": 0.9}, "max_multiplier"),
        ({"min_multiplier": 0.0}, "min_multiplier"),
        ({"risk_free_rate": float("nan")}, "risk_free_rate"),
        ({"min_lots": 1}, "min_lots"),
    ],
)
def test_invalid_params_are_named(kwargs, problem):
    with pytest.raises(ValueError, match=problem):
        WeightingParams(**kwargs)
