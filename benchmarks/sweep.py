"""Sweep benchmark: settings per second after the one ledger read, at 50 strategies x 261 weeks.

The ledger is generated, put in canonical order (as the ledger reader returns
it) and held in memory; what is timed is ``core.sweep.sweep`` over the issue's
grid, which includes computing each week's realised returns once. Baseline: the
same settings one at a time through ``setting_holdout`` (every frame built, as
the assets do), timed in the same process.
"""

from __future__ import annotations

import statistics
import time

GRID = {"lookback_days": [30, 60, 90, 120], "max_multiplier": [1.5, 2.0, 3.0], "score": ["sharpe", "sortino"]}
SMOKE_GRID = {"lookback_days": [30, 60], "max_multiplier": [1.5, 2.0]}


def run(n_strategies: int, n_weeks: int, n_lots: int, repeats: int = 3, smoke: bool = False) -> dict:
    from itertools import product

    import numpy as np

    from benchmarks.ledgers import equal_baseline, ledger
    from weighting_pipeline.core.backtest import weekly_realised_returns
    from weighting_pipeline.core.chain import WeightingParams
    from weighting_pipeline.core.lots import canonical_order
    from weighting_pipeline.core.sweep import setting_holdout, sweep

    grid = SMOKE_GRID if smoke else GRID
    lots, keys, names = ledger(n_strategies, n_weeks + 1, n_lots, lookback_days=max(grid["lookback_days"]))
    lots, keys = canonical_order(lots), keys[1:]  # the first week only supplies weights
    baseline = equal_baseline(names)
    n_settings = int(np.prod([len(v) for v in grid.values()]))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        result = sweep(lots, keys, baseline, grid)
        times.append(time.perf_counter() - t)

    t = time.perf_counter()
    realised, closed = weekly_realised_returns(lots, keys, names)
    for i, values in enumerate(product(*grid.values())):
        params = WeightingParams().replace(**dict(zip(grid, values)))
        reference = setting_holdout(lots, keys, baseline, params, realised, closed)
        assert np.array_equal(reference["active"].to_numpy(), result.actives[i].to_numpy()), params
    one_by_one = time.perf_counter() - t
    median = statistics.median(times)
    return {
        "strategies": n_strategies,
        "weeks": len(keys),
        "lots": len(lots),
        "settings": n_settings,
        "median_s": median,
        "min_s": min(times),
        "max_s": max(times),
        "settings_per_s": n_settings / median,
        "one_by_one_s": one_by_one,
        "ratio": one_by_one / median,
    }
