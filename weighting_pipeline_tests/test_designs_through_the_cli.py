"""The author's later design as settings, through the CLI: a 6-week range run on trading's
real 16-strategy baseline with MAPPING=median_power MAPPING_ALPHA=0.5 SLEEVES=folder
SMOOTHING=0.25 SMOOTHING_START=<first week> publishes, every week, the target weights a
hand computation gives from the week's own scores, and weights that move a quarter of
the way from the week before's (the baseline before the first) to them."""

import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from weighting_pipeline_devtools.holding_ledger import holding_ledger
from weighting_pipeline_devtools.processes import materialize_command
from weighting_pipeline_tests.core.test_mapping_and_sleeves import by_hand_median_power, solve_by_bisection
from weighting_pipeline_tests.stored_weeks import stored_weeks

REPO = Path(__file__).resolve().parents[1]
WEEKS = [str(d.date()) for d in pd.date_range("2026-02-01", periods=6, freq="7D")]
DESIGN = {
    "MAPPING": "median_power",
    "MAPPING_ALPHA": "0.5",
    "SLEEVES": "folder",
    "SMOOTHING": "0.25",
    "SMOOTHING_START": WEEKS[0],
}


@pytest.mark.slow
def test_median_power_in_folder_sleeves_smoothed_publishes_the_hand_computed_weights(
    tables, baseline, instance, tmp_path
):
    drift = np.random.default_rng(8).normal(0.002, 0.0015, len(baseline.keys))  # mostly positive scores: a median > 0
    tables.read_only_ledger(holding_ledger(baseline.keys, "2025-09-01", "2026-03-31", drift=drift, seed=8).ledger)
    cmd = materialize_command(
        "closed_lots,daily_returns,sharpe_ratios,multipliers,dynamic_weights",
        "--partition-range",
        f"{WEEKS[0]}...{WEEKS[-1]}",
    )
    env = {**os.environ, **DESIGN, "APP__STAGE": "prod", "INTERMEDIATES__BASE_PATH": str(tmp_path / "intermediates")}
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    items = stored_weeks(tables, WEEKS)
    assert sorted(items) == WEEKS
    keys = list(baseline.keys)
    b = pd.Series(baseline.allocations, dtype=float).reindex(keys).to_numpy()
    folders = {k: (k.rsplit("/", 1)[0] if "/" in k else "") for k in keys}
    tilted = 0
    previous = b.copy()  # the week before SMOOTHING_START: the baseline
    for week in WEEKS:
        item = items[week]
        assert {k: item["parameters"][k] for k in ("mapping", "sleeves", "smoothing_start")} == {
            "mapping": "median_power",
            "sleeves": "folder",
            "smoothing_start": WEEKS[0],
        }
        assert float(item["parameters"]["mapping_alpha"]) == 0.5 and float(item["parameters"]["smoothing"]) == 0.25
        scores = [float(item["scores"][k]) if k in item["scores"] else np.nan for k in keys]
        m = np.array(by_hand_median_power(scores))
        np.testing.assert_allclose([float(item["multipliers"][k]) for k in keys], m, rtol=0, atol=1e-12)
        target = np.array([float(item["target_weights"][k]) for k in keys])
        w = np.array([float(item["weights"][k]) for k in keys])
        for folder in set(folders.values()):
            cols = [i for i, k in enumerate(keys) if folders[k] == folder]
            np.testing.assert_allclose(
                target[cols], solve_by_bisection(b[cols], m[cols], 0.5, 2.0, b[cols].sum()), rtol=0, atol=1e-9
            )
            assert w[cols].sum() == pytest.approx(b[cols].sum(), abs=1e-9)  # each sleeve keeps its baseline total
        previous = previous + 0.25 * (target - previous)
        np.testing.assert_allclose(w, previous, rtol=0, atol=1e-9)
        assert (w >= 0.5 * b - 1e-12).all() and (w <= 2.0 * b + 1e-12).all() and w.sum() == pytest.approx(1.0, abs=1e-9)
        tilted += not np.allclose(target, b)
    assert tilted == len(WEEKS)  # the weights moved every week: the test checks a tilt, not the baseline


@pytest.mark.slow
def test_with_smoothing_a_week_alone_a_range_and_a_rerun_publish_the_same_bits(tables, baseline, tmp_path):
    from weighting_pipeline_tests.conftest import run_chain_in_dagster, temp_instance

    tables.read_only_ledger(holding_ledger(baseline.keys, "2025-09-01", "2026-03-31", drift=0.001, seed=9).ledger)
    environ = {"SMOOTHING": "0.3", "SMOOTHING_START": WEEKS[0]}
    with temp_instance(tmp_path / "range") as instance:
        assert run_chain_in_dagster(instance, partition_range=(WEEKS[0], WEEKS[-1]), environ=environ).success
        ranged = stored_weeks(tables, WEEKS)
        assert run_chain_in_dagster(instance, partition_range=(WEEKS[0], WEEKS[-1]), environ=environ).success
        rerun = stored_weeks(tables, WEEKS)
    with temp_instance(tmp_path / "alone") as instance:  # nothing computed or published before
        assert run_chain_in_dagster(instance, partition_key=WEEKS[3], environ=environ).success
        alone = stored_weeks(tables, [WEEKS[3]])[WEEKS[3]]
    for week in WEEKS:
        assert (
            rerun[week]["weights"] == ranged[week]["weights"]
            and rerun[week]["target_weights"] == ranged[week]["target_weights"]
        )
    assert alone["weights"] == ranged[WEEKS[3]]["weights"]  # Decimal for Decimal: the same bits
    assert ranged[WEEKS[3]]["weights"] != ranged[WEEKS[3]]["target_weights"]  # smoothing did something
