"""Kernel benchmark: closed lots -> weights in memory, against the loop baseline.

Each size runs in a fresh process, so peak RSS (ru_maxrss) is that size's
own: the lots are generated, saved as Parquet with only the kernel's columns,
and loaded back by the measuring process, as a pipeline would load them.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

KERNEL_COLUMNS = ["strategy", "fully_closed_at", "entry_qty", "entry_price", "realized_pnl"]


def measure(n_strategies: int, n_weeks: int, n_lots: int, repeats: int, loop_strategies: int) -> dict:
    """Run in a child process; returns timings, RSS and the loop comparison."""
    import pandas as pd

    from benchmarks.ledgers import equal_baseline, ledger
    from benchmarks.loop_baseline import loop_weights
    from weighting_pipeline.core.chain import run_chain

    lots, keys, names = ledger(n_strategies, n_weeks, n_lots)
    with tempfile.NamedTemporaryFile(suffix=".parquet") as f:
        lots[KERNEL_COLUMNS].to_parquet(f.name)
        del lots
        lots = pd.read_parquet(f.name)
    baseline = equal_baseline(names)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = run_chain(lots, keys, baseline)
        times.append(time.perf_counter() - t)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # The loop on a subset of strategies (its cost is linear in strategies), against the
    # kernel on the same subset: timings scale up, results must agree to 1e-9.
    sub_names = names[:loop_strategies]
    sub = lots[lots["strategy"].isin(sub_names)]
    sub_baseline = equal_baseline(sub_names)
    rows = list(
        zip(
            sub["strategy"].astype(str),
            sub["fully_closed_at"].dt.to_pydatetime(),
            sub["entry_qty"],
            sub["entry_price"],
            sub["realized_pnl"],
        )
    )
    loop_times = []
    for _ in range(repeats):
        t = time.perf_counter()
        ref = loop_weights(rows, keys, sub_baseline.to_dict())
        loop_times.append(time.perf_counter() - t)
    fast = run_chain(sub, keys, sub_baseline)["dynamic_weights"]
    got = fast["weight"].to_numpy()
    want = np.array(
        [ref[k][s]["weight"] for k, s in zip(fast["partition_key"].astype(str), fast["strategy"].astype(str))]
    )
    return {
        "strategies": n_strategies,
        "weeks": n_weeks,
        "lots": int(len(lots)),
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "peak_rss_mb": rss_mb,
        "loop_strategies": loop_strategies,
        "loop_median_s": statistics.median(loop_times),
        "loop_full_estimate_s": statistics.median(loop_times) * n_strategies / loop_strategies,
        "max_abs_diff_vs_loop": float(np.max(np.abs(got - want))),
        "weights_rows": int(len(out["dynamic_weights"])),
    }


def run(n_strategies: int, n_weeks: int, n_lots: int, repeats: int = 3, loop_strategies: int = 100) -> dict:
    """Measure one size in a fresh Python process."""
    code = (
        "import json, sys; from benchmarks.kernel import measure; "
        f"print(json.dumps(measure({n_strategies}, {n_weeks}, {n_lots}, {repeats}, {min(loop_strategies, n_strategies)})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])
