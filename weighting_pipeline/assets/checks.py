"""Asset-check plumbing: core invariants -> AssetCheckSpec / AssetCheckResult.

The rules live in ``core.invariants``; this module only names the checks,
sets their severity and renders failures for the UI.
"""

import dagster as dg

from weighting_pipeline.assets.common import markdown_table
from weighting_pipeline.core.invariants import Invariant
from weighting_pipeline.partitions import weekly_partitions

BLOCKING_WEIGHT_CHECKS = {
    "multipliers_within_bounds": "Every multiplier lies within [min, max].",
    "weights_sum_to_one": "Each week's weights sum to 1 within 1e-9.",
    "weights_within_bounds": "Every weight lies within [min x baseline, max x baseline].",
    "no_nan_or_inf": "No NaN or inf in weights, multipliers, baselines or Sharpe ratios.",
    "weights_cover_baseline": "Each week covers exactly the baseline strategies.",
}
WARN_WEIGHT_CHECKS = {
    "enough_strategies_qualified": "At least two strategies qualified; otherwise the weights equal the baseline.",
    "turnover_below_threshold": "Week-over-week turnover 1/2 * sum|w - w_prev| stays below the threshold.",
}


def check_spec(name: str, asset: str, description: str, blocking: bool) -> dg.AssetCheckSpec:
    """A check evaluated per weekly partition (backfill ranges included)."""
    return dg.AssetCheckSpec(name, asset=asset, blocking=blocking, description=description, partitions_def=weekly_partitions)


def weight_check_specs(asset: str) -> list[dg.AssetCheckSpec]:
    return [check_spec(n, asset, d, blocking=True) for n, d in BLOCKING_WEIGHT_CHECKS.items()] + [
        check_spec(n, asset, d, blocking=False) for n, d in WARN_WEIGHT_CHECKS.items()
    ]


def check_result(rule: Invariant, asset: str, severity=dg.AssetCheckSeverity.ERROR, **extra) -> dg.AssetCheckResult:
    """One check result covering the run's weeks; failures listed per week."""
    metadata = {"weeks_failing": len(rule.failures), **extra}
    if rule.failures:
        metadata["failures"] = dg.MetadataValue.md(
            markdown_table(["week", "problem"], [[w, why] for w, why in sorted(rule.failures.items())])
        )
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name=rule.name,
        passed=rule.passed,
        severity=severity,
        description=rule.description,
        metadata=metadata,
    )
