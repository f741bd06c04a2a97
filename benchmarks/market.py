"""Market-basis benchmark: the chain on one ledger, marked to market against the lot basis.

A ledger of one lot a session per strategy, each strategy trading its own symbol,
held 5 to 20 sessions (``devtools.holding_ledger``), over every window of the
weeks; both bases run in this process: the lot basis from its closed lots, the
market basis from its positions (``held_by_week`` of every window, deduplicated,
as ``closed_lots`` stores them) and the bars. The ratio is the cost of marking
every held lot to market every session.
"""

from __future__ import annotations

import statistics
import time


def run(n_strategies: int, n_weeks: int, repeats: int = 3) -> dict:
    import pandas as pd

    from benchmarks.basis import _timed
    from benchmarks.ledgers import equal_baseline, strategies, week_keys
    from weighting_pipeline.core.calendar import WeekWindows, local_day_number
    from weighting_pipeline.core.chain import WeightingParams, run_chain
    from weighting_pipeline.core.deployed import held_by_week
    from weighting_pipeline.core.lots import distinct_lots
    from weighting_pipeline.core.market import Bars
    from weighting_pipeline_devtools.holding_ledger import holding_ledger

    keys = week_keys(n_weeks)
    names = strategies(n_strategies)
    first = str((pd.Timestamp(keys[0]) - pd.Timedelta(days=130)).date())
    last = str((pd.Timestamp(keys[-1]) + pd.Timedelta(days=8)).date())
    simulated = holding_ledger(names, first, last, seed=5)
    baseline = equal_baseline(names)
    market = WeightingParams(return_basis="market")
    weeks = WeekWindows.for_keys(keys, market.lookback_days)
    t_bars = time.perf_counter()
    bars = Bars.from_frames(
        {s: simulated.bars(s) for s in simulated.symbols}, local_day_number(first), local_day_number(last)
    )
    t_bars = time.perf_counter() - t_bars
    positions = distinct_lots(held_by_week(simulated.ledger.positions, weeks))
    lots = simulated.ledger.lots
    lot_times, _ = _timed(lambda: run_chain(lots, keys, baseline, WeightingParams()), repeats)
    times, out = _timed(lambda: run_chain(positions, keys, baseline, market, bars=bars), repeats)
    assert out["dynamic_weights"]["weight"].notna().all()
    return {
        "strategies": n_strategies,
        "weeks": n_weeks,
        "lots": len(simulated.ledger.lot_id),
        "position_rows": len(positions),
        "sessions": len(bars.days),
        "bars_s": t_bars,
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "lot_median_s": statistics.median(lot_times),
        "ratio": statistics.median(times) / statistics.median(lot_times),
    }
