"""dynamic_weights: bounded, renormalised weights, published only if every blocking check passes.

Dagster hands an Output to its IO manager as soon as it is yielded, before any
separate blocking check could stop it. So the checks run here, and the Output
is yielded only when all blocking checks pass; otherwise the run fails with
nothing written. The IO manager re-checks the same invariants as a last guard.

Every week carries its provenance (``provenance.Provenance``) and is compared
with the week's newest entry in the publication log (``publication.log``),
which outlives the DynamoDB item: ``matches_earlier_publication`` warns when a
recomputation differs from what was computed before. Turnover is measured
against the week before's newest entry there.
"""

from dataclasses import replace
from datetime import timedelta

import dagster as dg
import pandas as pd

from weighting_pipeline.assets.checks import emit, per_week, weight_check_specs
from weighting_pipeline.assets.code_versions import CHAIN_CODE_VERSION, CODE_VERSIONS
from weighting_pipeline.assets.common import CHAIN, add_week_metadata, week_span
from weighting_pipeline.assets.report import markdown_table
from weighting_pipeline.assets.week_metadata import LEDGER_INDEX, weights_week_metadata
from weighting_pipeline.core.allocation import SleeveError
from weighting_pipeline.core.calendar import TIMEZONE, WeekWindows, latest_complete_week, previous_key
from weighting_pipeline.core.chain import run_chain, weeks_from
from weighting_pipeline.core.invariants import (
    Invariant,
    blocking_invariants,
    enough_qualified,
    turnover_below_threshold,
)
from weighting_pipeline.core.market import MarketDataError, bars_days, symbols_of
from weighting_pipeline.core.publication_rules import FORCE, PUBLISH_TAG, Decision, decide, protected_weeks
from weighting_pipeline.core.weights import dynamic_weights as compute_weights
from weighting_pipeline.history import latest_materializations
from weighting_pipeline.publication.item import is_live
from weighting_pipeline.publication.log import Entry
from weighting_pipeline.publication.provenance import Provenance, WeeklyWeights, week_weights
from weighting_pipeline.publication.restatement import Restatement, compare_publication
from weighting_pipeline.resources.ledger_reader import LedgerReader
from weighting_pipeline.resources.market_data import BARS_BUCKET, BARS_READ, MarketData
from weighting_pipeline.resources.publication_log import PublicationLog
from weighting_pipeline.resources.publication_rules import PublicationRules
from weighting_pipeline.resources.weights_table import WeightsTable
from weighting_pipeline.settings import WeightingSettings

ASSET = "dynamic_weights"
RESTATEMENT_CHECK = "matches_earlier_publication"
PROTECTED = "protected"  # metadata: trading could read the week when the run decided (its live-week WARNs alert)
# The week that ends Sunday 18:00 New York should be published by 20:00: the UI then
# shows the asset as late (open-source Dagster shows it; the missed-week sensor alerts).
FRESHNESS = dg.FreshnessPolicy.cron(deadline_cron="0 20 * * 0", lower_bound_delta=timedelta(hours=2), timezone=TIMEZONE)


@dg.asset(
    **CHAIN,
    kinds={"dynamodb", "pandas"},
    io_manager_key="weights_io_manager",
    output_required=False,
    freshness_policy=FRESHNESS,
    code_version=CODE_VERSIONS[ASSET],
    check_specs=weight_check_specs(ASSET),
    description=(
        "Weights `w_i = clip(k * b_i * m_i, 0.5 * b_i, 2.0 * b_i)` with `k` solved exactly so they sum to 1; `b` is "
        "the configured baseline (never a previous week's weights). One DynamoDB item per week, with a TTL and "
        "the week's provenance."
    ),
)
def dynamic_weights(
    context: dg.AssetExecutionContext,
    multipliers: pd.DataFrame,
    settings: WeightingSettings,
    weights_table: WeightsTable,
    publication: PublicationRules,
    ledger: LedgerReader,
    market_data: MarketData,
    publication_log: PublicationLog,
):
    keys = context.partition_keys
    params, baseline = settings.params(), settings.baseline()
    try:
        if params.smoothing < 1:
            frame = smoothed_from_ledger(context, keys, settings, ledger, market_data)
        else:
            frame = compute_weights(multipliers, baseline.allocations, params.bounds, params.sleeves)
    except (SleeveError, MarketDataError) as exc:
        raise dg.Failure(f"dynamic_weights: {exc}") from None
    weights = week_weights(frame)

    earlier = publication_log.weeks().latest([previous_key(keys[0]), *keys])
    lots = latest_materializations(context.instance, "closed_lots", keys)
    returns = (
        latest_materializations(context.instance, "daily_returns", keys) if params.return_basis == "market" else {}
    )
    weekly = WeeklyWeights.build(
        frame,
        baseline,
        params,
        run_id=context.run.run_id,
        run_started_at=root_run_started_at(context),
        code_version=CHAIN_CODE_VERSION,
        ledger_index={k: str(m.metadata[LEDGER_INDEX]) for k, m in lots.items() if LEDGER_INDEX in m.metadata},
        market_data={
            k: {"bucket": str(m.metadata[BARS_BUCKET]), "bars": dict(m.metadata[BARS_READ])}
            for k, m in returns.items()
            if BARS_READ in m.metadata
        },
    )
    now = publication.clock()
    decisions = decide_publication(context, keys, settings, weights_table, now, publication.grace())
    weekly = replace(weekly, decisions=decisions, decided_at=now)
    provenance = weekly.provenance
    before = earlier[previous_key(keys[0])].weights() if previous_key(keys[0]) in earlier else None
    previous = pd.Series(before) if before else None
    turnover = turnover_below_threshold(frame, previous, params.turnover_warn)
    qualified = enough_qualified(frame)
    restatements = {k: restatement(weights[k], provenance[k], earlier.get(k)) for k in keys}

    blocking = on_weights_and_targets(frame, baseline.keys, params.bounds)
    checks = [c for rule in blocking for c in per_week(rule, ASSET, keys, blocking=True)]
    checks += per_week(qualified, ASSET, keys, blocking=False)
    checks += per_week(
        turnover,
        ASSET,
        keys,
        blocking=False,
        notes={k: "no earlier week to compare with" for k in keys if k not in turnover.measured},
    )
    checks += restatement_checks(restatements, keys)

    broken = [r for r in blocking if not r.passed]
    if broken:
        context.log.error(
            f"Not publishing weeks {week_span(keys)}: "
            + "; ".join(f"{r.name} failed for {sorted(r.failures)}" for r in broken)
        )
        yield from emit(context, checks)  # Dagster fails the step on the failed blocking evaluations
        return
    by_week = {str(k): rows for k, rows in frame.groupby("partition_key", observed=True)}
    add_week_metadata(
        context,
        {
            k: {
                **weights_week_metadata(
                    by_week[k],
                    params.score,
                    provenance[k],
                    turnover.measured.get(k, {}).get("turnover"),
                    qualified.measured[k]["qualified"],
                    restatements[k],
                ),
                "published": weekly.decisions[k].published,
                "publication": weekly.decisions[k].reason,
                PROTECTED: weekly.decisions[k].protected,
            }
            for k in keys
        },
    )
    yield dg.Output(weekly, metadata={"weeks": len(keys)})
    yield from emit(context, checks)


def smoothed_from_ledger(
    context: dg.AssetExecutionContext,
    keys: list[str],
    settings: WeightingSettings,
    ledger: LedgerReader,
    market_data: MarketData,
) -> pd.DataFrame:
    """Under ``SMOOTHING`` < 1 a week's weights depend on every target since
    ``SMOOTHING_START``: the whole chain from the start week to the run's last, from one
    ledger read (and the bars, on the market basis), with the pure core, so a week alone,
    a range and a rerun compute the same numbers (``core.smoothing``)."""
    params, baseline = settings.params(), settings.baseline()
    span = WeekWindows.for_keys(weeks_from(min(params.smoothing_start, keys[0]), keys[-1]), params.lookback_days)
    read = ledger.read_lots(
        baseline.stems, *span.union_bounds(), positions=params.return_basis in ("deployed", "market")
    )
    rows = read.bookings(params.pnl_date, params.return_basis)
    bars = market_data.bars(symbols_of(rows), *bars_days(span)) if params.return_basis == "market" else None
    context.log.info(
        f"Smoothing (lambda {params.smoothing:g}) from {params.smoothing_start}: the chain of {len(span)} week(s) "
        f"from {len(rows):,} ledger rows"
    )
    b = pd.Series(baseline.allocations, dtype=float).reindex(baseline.keys)
    return run_chain(rows, list(keys), b, params, bars=bars)["dynamic_weights"]


def on_weights_and_targets(frame: pd.DataFrame, keys: list[str], bounds) -> list:
    """The blocking invariants on the published ``weight`` and on ``target_weight`` (one
    result per rule; a target's failure is named as such)."""
    targets = blocking_invariants(frame.assign(weight=frame["target_weight"]), keys, bounds)
    out = []
    for rule, target in zip(blocking_invariants(frame, keys, bounds), targets):
        failures = dict(rule.failures)
        for week, problem in target.failures.items():
            if problem != failures.get(week):
                failures[week] = "; ".join(p for p in (failures.get(week), f"target_weights: {problem}") if p)
        out.append(replace(rule, failures=failures))
    return out


ROOT_RUN_ID_TAG = "dagster/root_run_id"  # set by Dagster on a re-execution (a retry) to the first run's id


def root_run_started_at(context: dg.AssetExecutionContext) -> float:
    """Epoch seconds (UTC) at which the run's root run was created: a retry keeps its original's place."""
    root = context.run.tags.get(ROOT_RUN_ID_TAG, context.run.run_id)
    record = context.instance.get_run_record_by_id(root) or context.instance.get_run_record_by_id(context.run.run_id)
    if record is None:
        raise RuntimeError(f"run {context.run.run_id} has no record in the instance; cannot order its writes")
    return record.create_timestamp.timestamp()


def decide_publication(
    context: dg.AssetExecutionContext,
    keys: list[str],
    settings: WeightingSettings,
    table: WeightsTable,
    now: pd.Timestamp,
    grace: pd.Timedelta,
) -> dict[str, Decision]:
    """Which of the run's weeks are written (``core.publication_rules``) at ``now`` (the rules' clock)."""
    latest = latest_complete_week(now)
    # Only a run that holds the week before the latest needs to know whether the latest has an item.
    latest_exists = latest is None or previous_key(latest) not in keys or is_live(table.get_week(latest))
    protected = protected_weeks(now, latest_exists, grace)
    differing = WeightingSettings.from_env().differences(settings)
    forced = context.run.tags.get(PUBLISH_TAG) == FORCE
    decisions = decide(keys, protected, differing, forced)
    if any(d.forced for d in decisions.values()):
        context.log.warning(
            f"{PUBLISH_TAG}={FORCE}: " + "; ".join(f"{k}: {d.reason}" for k, d in decisions.items() if d.forced)
        )
    return decisions


def restatement(weights: dict, provenance: Provenance, earlier: Entry | None) -> Restatement:
    """This week's weights against its newest entry in the publication log, if it has one."""
    if earlier is None:
        return compare_publication(weights, provenance.as_dict(), None, None)
    return compare_publication(
        weights, provenance.as_dict(), earlier.weights(), dict(earlier.provenance), earlier.run_id
    )


def restatement_checks(restatements: dict[str, Restatement], keys: list[str]):
    rule = Invariant(
        RESTATEMENT_CHECK,
        "the weights match the week's earlier publication",
        {k: r.summary() for k, r in restatements.items() if r.restated},
        {k: {"largest_change": r.largest_change} for k, r in restatements.items()},
        {
            k: "restated: " + (", ".join(r.differing) or "the ledger's lots changed")
            for k, r in restatements.items()
            if r.restated
        },
    )
    extra = {}
    for k, r in restatements.items():
        extra[k] = {"status": r.status, "differing_fields": ", ".join(r.differing) or "none"}
        if r.earlier_run_id:
            extra[k]["earlier_run_id"] = r.earlier_run_id
        if r.moved:
            extra[k]["moved"] = dg.MetadataValue.md(
                markdown_table(
                    ["Strategy", "Earlier", "Now", "Change (pp)"],
                    [[s, f"{100 * a:.4f}%", f"{100 * b:.4f}%", f"{100 * (b - a):+.4f}"] for s, a, b in r.moved],
                    "lrrr",
                )
            )
    notes = {k: r.summary() for k, r in restatements.items()}
    return per_week(rule, ASSET, keys, blocking=False, extra=extra, notes=notes)
