"""Asset checks, evaluated and recorded per week in every kind of run.

The rules live in ``core.invariants``; this module names the checks, sets
their severity, and records each rule's outcome once per week.

Why per-week ``AssetCheckEvaluation`` events, not ``AssetCheckResult``:
Dagster gives an ``AssetCheckResult`` a partition only when the run targets
one partition (the ``dagster/partition`` tag). A single-run backfill carries a
range instead, so its results were stored with no partition, every week's
check row stayed PLANNED, and the UI showed each backfilled week's checks as
skipped although they ran. Here every rule is evaluated over all weeks of the
run at once (the core is vectorised) and then emitted as one evaluation per
week, with that week's outcome and numbers, for single-week runs and ranges
alike, so both record exactly the same rows. Write-audit-publish (a staged
asset, checks on it, a publish asset) would also fix it, at the price of a
second asset and a second copy of every week; per-week events keep one asset
per stage and Dagster's own blocking semantics: a failed blocking evaluation
fails the step and skips everything downstream, and ``dynamic_weights``
yields no output (so publishes nothing) when one fails.
``weighting_pipeline_tests/assets/test_checks_per_week.py`` pins this on what
the instance records, since Dagster documents ``AssetCheckEvaluation`` with a
partition but not this use of it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from weighting_pipeline.core.invariants import Invariant
from weighting_pipeline.dagster_internals import TargetMaterialization
from weighting_pipeline.history import latest_materializations
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
    "turnover_below_threshold": "Week-over-week turnover `0.5 * sum|w - w_prev|` stays below the threshold.",
    "matches_earlier_publication": (
        "The week's weights equal those of its newest entry in the publication log, if any; otherwise it lists what moved "
        "and which provenance fields differ (a restatement)."
    ),
}


# Check spec metadata: ``ALERT: NEVER`` marks an informational check, which no alert ever names.
ALERT, NEVER = "weighting/alert", "never"
CAUSE = "cause"  # evaluation metadata: a failure's cause, stable from week to week (``Invariant.causes``)


def check_spec(name: str, asset: str, description: str, blocking: bool, *, alert: bool = True) -> dg.AssetCheckSpec:
    """A check evaluated per weekly partition (backfill ranges included); ``alert=False``
    makes it informational (shown in the UI, never alerted)."""
    return dg.AssetCheckSpec(
        name,
        asset=asset,
        blocking=blocking,
        description=description,
        partitions_def=weekly_partitions,
        metadata={} if alert else {ALERT: NEVER},
    )


def weight_check_specs(asset: str) -> list[dg.AssetCheckSpec]:
    return [check_spec(n, asset, d, blocking=True) for n, d in BLOCKING_WEIGHT_CHECKS.items()] + [
        check_spec(n, asset, d, blocking=False) for n, d in WARN_WEIGHT_CHECKS.items()
    ]


@dataclass(frozen=True)
class WeekCheck:
    """One check's outcome for one week."""

    asset: str
    name: str
    week: str
    passed: bool
    blocking: bool
    description: str
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def severity(self) -> dg.AssetCheckSeverity:
        return dg.AssetCheckSeverity.ERROR if self.blocking else dg.AssetCheckSeverity.WARN


def per_week(
    rule: Invariant,
    asset: str,
    weeks: Sequence[str],
    *,
    blocking: bool,
    extra: Mapping[str, Mapping[str, Any]] | None = None,
    notes: Mapping[str, str] | None = None,
) -> list[WeekCheck]:
    """A rule's outcome for each of ``weeks``: failed where it names the week.

    Each week's metadata holds the problem and its ``cause`` (if any), the
    numbers the rule measured for that week and ``extra[week]``; its
    description is the rule's, then ``notes[week]`` or the problem.
    """
    out = []
    for week in weeks:
        problem = rule.failures.get(week)
        metadata = {**rule.measured.get(week, {}), **(extra or {}).get(week, {})}
        if problem:
            metadata["problem"] = problem
            metadata[CAUSE] = rule.cause(week)
        detail = (notes or {}).get(week) or problem
        description = rule.description + (f": {detail}" if detail else "")
        out.append(WeekCheck(asset, rule.name, week, problem is None, blocking, description, metadata))
    return out


def emit(
    context: dg.AssetExecutionContext, checks: Sequence[WeekCheck]
) -> Iterator[dg.Output | dg.AssetCheckEvaluation]:
    """Yield the asset's check results: one output per selected check (Dagster
    requires it), then one ``AssetCheckEvaluation`` per check and week.

    Call it after the asset's own output, if any: each evaluation then points at
    the materialization this run made of its week, which is what the UI shows
    the check against. Weeks not materialized by this run (a blocking failure)
    carry no target.
    """
    selected = {spec.key: name for name, spec in context.assets_def.check_specs_by_output_name.items()}
    for output_name in selected.values():
        yield dg.Output(None, output_name=output_name)
    targets = {}
    for asset in sorted({c.asset for c in checks}):
        weeks = sorted({c.week for c in checks if c.asset == asset})
        for week, m in latest_materializations(context.instance, asset, weeks).items():
            if m.run_id == context.run.run_id:
                targets[(asset, week)] = TargetMaterialization(
                    storage_id=m.storage_id, run_id=m.run_id, timestamp=m.timestamp
                )
    for c in checks:
        if dg.AssetCheckKey(dg.AssetKey(c.asset), c.name) not in selected:
            continue
        yield dg.AssetCheckEvaluation(
            asset_key=dg.AssetKey(c.asset),
            check_name=c.name,
            passed=c.passed,
            metadata=dict(c.metadata),
            severity=c.severity,
            description=c.description,
            blocking=c.blocking,
            partition=c.week,
            target_materialization_data=targets.get((c.asset, c.week)),
        )
