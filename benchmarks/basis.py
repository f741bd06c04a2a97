"""Return-basis benchmark: the chain on one ledger, lot basis against deployed basis.

Both run in this process on the same generated ledger with ``pnl_date=exit``: the
lot basis from its exit records, the deployed basis from its positions (entry
rows and exit records: ``held_by_week`` of every window, deduplicated, as the
``closed_lots`` asset stores them), so the ratio is the cost of reading and
summing the deployed notional.
"""

from __future__ import annotations

import statistics
import time


def _timed(fn, repeats: int) -> tuple[list[float], object]:
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return times, out


def run(n_strategies: int, n_weeks: int, n_lots: int, repeats: int = 3) -> dict:
    from benchmarks.ledgers import equal_baseline, generated
    from weighting_pipeline.core.calendar import WeekWindows
    from weighting_pipeline.core.chain import WeightingParams, run_chain
    from weighting_pipeline.core.deployed import held_by_week
    from weighting_pipeline.core.lots import distinct_lots

    ledger, keys, names = generated(n_strategies, n_weeks, n_lots)
    baseline = equal_baseline(names)
    exits = ledger.exit_records
    lot, deployed = WeightingParams(pnl_date="exit"), WeightingParams(pnl_date="exit", return_basis="deployed")
    weeks = WeekWindows.for_keys(keys, deployed.lookback_days)
    t_held = time.perf_counter()
    positions = distinct_lots(held_by_week(ledger.positions, weeks))
    t_held = time.perf_counter() - t_held
    lot_times, _ = _timed(lambda: run_chain(exits, keys, baseline, lot), repeats)
    times, out = _timed(lambda: run_chain(positions, keys, baseline, deployed), repeats)
    weights = out["dynamic_weights"]
    assert weights["weight"].notna().all()
    return {
        "strategies": n_strategies,
        "weeks": n_weeks,
        "lots": len(ledger.lot_id),
        "exit_rows": len(exits),
        "position_rows": len(positions),
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "lot_median_s": statistics.median(lot_times),
        "ratio": statistics.median(times) / statistics.median(lot_times),
        "held_by_week_s": t_held,
    }
