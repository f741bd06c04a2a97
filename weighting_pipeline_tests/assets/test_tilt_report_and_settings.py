"""tilt_report, the noise check, the Sharpe standard errors and the new settings,
asserted through what the Dagster instance recorded (what the UI shows)."""

import base64
import math
import re

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from weighting_pipeline.assets import ANALYSIS_ASSETS, CHAIN_ASSETS
from weighting_pipeline.core import analytics
from weighting_pipeline.core.chain import WeightingParams, run_chain
from weighting_pipeline.core.invariants import tilt_exceeds_noise
from weighting_pipeline.core.lots import canonical_order
from weighting_pipeline.dagster_internals import (
    PartitionKeyFilter,  # no public way to filter the event log by partition
)
from weighting_pipeline.deployments import build_resources
from weighting_pipeline.settings import WeightingSettings
from weighting_pipeline_tests.conftest import run_chain_in_dagster
from weighting_pipeline_tests.stored_weeks import stored_weeks

FIRST, LAST = "2026-01-04", "2026-03-15"
WEEKS = [str(d.date()) for d in pd.date_range(FIRST, LAST, freq="7D")]
LATER = "2026-03-29"  # one week without a backtest between LAST and it


def metadata(instance, asset, week=None):
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[week] if week else None), limit=1
    ).records
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}


def materialize_report(instance):
    return dg.materialize(
        [*CHAIN_ASSETS, *ANALYSIS_ASSETS],
        selection=["tilt_report"],
        instance=instance,
        resources=build_resources(WeightingSettings.from_env()),
        raise_on_error=False,
    )


def test_the_report_judges_every_backtested_week_as_the_instance_recorded_them(ledger, tables, instance):
    assert run_chain_in_dagster(instance, partition_range=(FIRST, LAST)).success
    assert run_chain_in_dagster(instance, partition_key=LATER).success
    assert materialize_report(instance).success
    weeks = [*WEEKS, LATER]
    per_week = {w: metadata(instance, "tilt_backtest", w) for w in weeks}
    report = metadata(instance, "tilt_report")
    assert (report["weeks"], report["first_week"], report["last_week"], report["weeks_missing_inside"]) == (
        len(weeks),
        FIRST,
        LATER,
        1,
    )

    active = [per_week[w]["active"] for w in weeks]
    tilt, base = ([per_week[w][c] for w in weeks] for c in ("r_tilt", "r_base"))
    assert report["active/information_ratio"] == pytest.approx(analytics.information_ratio(active), rel=1e-12)
    assert report["active/ir_standard_error"] == pytest.approx(analytics.ratio_standard_error(active), rel=1e-12)
    assert report["active/ir_standard_error_iid"] == pytest.approx(
        analytics.ratio_standard_error_iid(active), rel=1e-12
    )
    assert report["active/probability_ir_positive"] == pytest.approx(analytics.probabilistic_ratio(active), rel=1e-12)
    assert report["active/hit_rate"] == pytest.approx(np.mean(np.array(active) > 0))
    assert report["tilt/cumulative_growth"] == pytest.approx(math.prod(1 + r for r in tilt), rel=1e-12)
    assert report["baseline/cumulative_growth"] == pytest.approx(math.prod(1 + r for r in base), rel=1e-12)
    assert report["tilt/sharpe_ratio"] == pytest.approx(analytics.sharpe_ratio(tilt, 0.045), rel=1e-12)
    assert report["active/mean_turnover"] == pytest.approx(np.mean([per_week[w]["turnover"] for w in weeks]), rel=1e-12)
    ics = [per_week[w]["rank_ic"] for w in weeks if "rank_ic" in per_week[w]]
    assert report["active/rank_ic_weeks"] == len(ics) and report["active/mean_rank_ic"] == pytest.approx(np.mean(ics))

    assert report["active/ir_standard_error_hac"] == pytest.approx(
        analytics.ratio_standard_error_hac(active), rel=1e-12
    )
    assert report["active/t_statistic_hac"] == pytest.approx(analytics.t_statistic_hac(active), rel=1e-12)
    ir, se, t = (
        report["active/information_ratio"],
        report["active/ir_standard_error_hac"],
        report["active/t_statistic_hac"],
    )
    assert (
        f"information ratio {ir:.2f} ± {se:.2f} (Newey-West SE), t {t:.2f}" in report["verdict"]
        and f"over {len(weeks)} weeks" in report["verdict"]
    )
    # The numbers say what they are: returns per average lot notional, not on capital.
    assert report["verdict"].endswith(
        "returns per average lot notional (realised P&L over the mean entry notional of "
        "the lots booked), not per unit of capital"
    )
    assert report["return_basis"].startswith("lot: ") and "| Returns per average lot notional |" in report["report"]
    md = report["report"]
    png = base64.b64decode(re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)\)", md).group(1))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000
    assert f"| Information ratio | {ir:.3f} |" in md and "| Growth of 1 |" in md


def test_the_report_shows_the_information_ratio_before_and_after_costs(ledger, tables, instance):
    costs = {"COST_BPS": "25"}
    assert run_chain_in_dagster(instance, partition_range=(FIRST, LAST), environ=costs).success
    assert dg.materialize(
        [*CHAIN_ASSETS, *ANALYSIS_ASSETS],
        selection=["tilt_report"],
        instance=instance,
        resources=build_resources(WeightingSettings.from_env(costs)),
    ).success
    per_week = {w: metadata(instance, "tilt_backtest", w) for w in WEEKS}
    for w in WEEKS:  # each week pays 25 bp of the capital it traded
        m = per_week[w]
        assert m["r_tilt_net"] == pytest.approx(m["r_tilt"] - m["turnover"] * 0.0025, abs=1e-15)
        assert m["r_naive_net"] == pytest.approx(m["r_naive"] - m["naive_turnover"] * 0.0025, abs=1e-15)
    report = metadata(instance, "tilt_report")
    net = [per_week[w]["active_net"] for w in WEEKS]
    assert report["cost_bps"] == 25.0
    assert report["active_after_costs/information_ratio"] == pytest.approx(analytics.information_ratio(net), rel=1e-12)
    assert report["active_after_costs/information_ratio"] < report["active/information_ratio"]  # trading is never free
    after = report["active_after_costs/information_ratio"]
    assert f"after costs of 25 bp of capital traded: information ratio {after:.2f}" in report["verdict"]
    assert "| Active return (tilt - baseline) | before costs | after costs |" in report["report"]


def test_the_noise_check_and_the_sharpe_standard_errors_are_recorded_per_week(ledger, tables, instance, baseline):
    # 7-day windows: few observations, large standard errors, so the test ledger's Sharpe
    # ratios differ beyond them in some weeks of these eleven and not in others.
    assert run_chain_in_dagster(
        instance, partition_range=(FIRST, LAST), environ={"APP__STAGE": "prod", "LOOKBACK_DAYS": "7"}
    ).success
    key = dg.AssetCheckKey(dg.AssetKey("multipliers"), "tilt_exceeds_noise")
    lots = canonical_order(ledger)
    b = pd.Series(baseline.allocations, dtype=float).reindex(baseline.keys)
    sharpe = run_chain(lots, WEEKS, b, WeightingParams(lookback_days=7))["sharpe_ratios"]
    rule = tilt_exceeds_noise(sharpe)
    for week in WEEKS:
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [key], partition_filter=PartitionKeyFilter(key=week)
        )[key]
        evaluation = record.event.dagster_event.event_specific_data
        assert evaluation.severity == dg.AssetCheckSeverity.WARN and evaluation.partition == week
        meta = {k: v.value for k, v in evaluation.metadata.items()}
        # On the lot basis no standard error is calibrated: every week with a tilt says so and claims nothing.
        assert not evaluation.passed and week in rule.failures
        assert meta["calibrated"] is False and meta["strategies"] == rule.measured[week]["strategies"]
        assert "no calibrated noise test on the lot return basis" in evaluation.description
        sharpe_meta = metadata(instance, "sharpe_ratios", week)
        rows = sharpe[(sharpe["partition_key"] == week) & (sharpe["skip_reason"] == "")]
        for column in ("sharpe_se", "sharpe_se_iid", "sharpe_se_hac"):
            assert {s: sharpe_meta[f"{column}/{s}"] for s in rows["strategy"]} == pytest.approx(
                dict(zip(rows["strategy"], rows[column])), rel=1e-12
            )
        assert sharpe_meta["score"] == "sharpe" and sharpe_meta["missing_days"] == "skip"
        assert "SE (Newey-West)" in sharpe_meta["sharpe_table"]


def test_the_chosen_settings_drive_the_weights_and_are_in_every_weeks_provenance(ledger, tables, instance, baseline):
    environ = {"APP__STAGE": "prod", "SCORE": "sortino", "MISSING_DAYS": "zero"}
    assert run_chain_in_dagster(instance, partition_range=(WEEKS[-2], WEEKS[-1]), environ=environ).success
    b = pd.Series(baseline.allocations, dtype=float).reindex(baseline.keys)
    expected = run_chain(canonical_order(ledger), WEEKS[-2:], b, WeightingParams(score="sortino", missing_days="zero"))[
        "dynamic_weights"
    ]
    default = run_chain(canonical_order(ledger), WEEKS[-2:], b)["dynamic_weights"]
    items = stored_weeks(tables, WEEKS[-2:])
    for week in WEEKS[-2:]:
        item = items[week]
        assert item["parameters"]["score"] == "sortino" and item["parameters"]["missing_days"] == "zero"
        provenance = metadata(instance, "dynamic_weights", week)["parameters"]
        assert provenance["score"] == "sortino" and provenance["missing_days"] == "zero"
        want = expected[expected["partition_key"] == week].set_index("strategy")["weight"]
        assert {s: float(w) for s, w in item["weights"].items()} == pytest.approx(want.to_dict(), abs=1e-15)
        assert not np.allclose(want.to_numpy(), default[default["partition_key"] == week]["weight"].to_numpy())
        assert metadata(instance, "sharpe_ratios", week)["score"] == "sortino"


@pytest.mark.parametrize("score", ["sharpe", "sortino", "calmar"])
def test_the_item_and_the_week_name_the_score_and_hold_what_the_multipliers_mapped(
    score, ledger, tables, instance, baseline
):
    week = WEEKS[-1]
    assert run_chain_in_dagster(instance, partition_key=week, environ={"APP__STAGE": "prod", "SCORE": score}).success
    b = pd.Series(baseline.allocations, dtype=float).reindex(baseline.keys)
    frame = run_chain(canonical_order(ledger), [week], b, WeightingParams(score=score))["sharpe_ratios"]
    qualified = frame[frame["skip_reason"] == ""].set_index("strategy")
    item = stored_weeks(tables, [week])[week]
    assert item["score"] == score
    assert {s: float(v) for s, v in item["scores"].items()} == qualified["score"].to_dict()  # to the bit
    assert {s: float(v) for s, v in item["sharpe_ratios"].items()} == qualified["sharpe"].to_dict()
    if score != "sharpe":  # the field named for the Sharpe ratio holds it, not the score
        assert not np.allclose(qualified["score"].to_numpy(), qualified["sharpe"].to_numpy())
    meta = metadata(instance, "dynamic_weights", week)
    assert meta["score"] == score and meta["scores"] == qualified["score"].to_dict()
    title = {"sharpe": "Sharpe", "sortino": "Sortino", "calmar": "Calmar"}[score]
    assert (
        meta["weights_table"]
        .splitlines()[0]
        .startswith(f"| Strategy | {'Sharpe | ' if score != 'sharpe' else ''}{title} (score) |")
    )


def test_the_report_without_any_backtest_fails_saying_what_to_do(tables, instance):
    result = materialize_report(instance)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "no week of tilt_backtest is stored yet" in failure.event_specific_data.error.message


def test_the_report_compares_the_named_policies_on_its_weeks(ledger, tables, instance, baseline, monkeypatch):
    from weighting_pipeline.core.chain import WeightingParams
    from weighting_pipeline.core.sweep import sweep

    assert run_chain_in_dagster(instance, partition_range=(FIRST, LAST)).success
    monkeypatch.setenv("COMPARE_POLICIES", "seed,script")
    assert materialize_report(instance).success
    report = metadata(instance, "tilt_report")
    assert (
        "| seed |" in report["policies"]
        and "| script |" in report["policies"]
        and "effective trials of 2" in report["policies"]
    )
    # The same numbers as the core sweep of the report's weeks on the same ledger.
    b = pd.Series(baseline.allocations, dtype=float).reindex(baseline.keys)
    expected = sweep(
        canonical_order(ledger), WEEKS, b, {"policy": ["seed", "script"]}, WeightingParams()
    ).table.set_index("policy")
    for policy in ("seed", "script"):
        assert report[f"policies/{policy}/information_ratio"] == pytest.approx(
            expected.loc[policy, "information_ratio"], rel=1e-9
        )
