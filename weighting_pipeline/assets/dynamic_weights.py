"""dynamic_weights: bounded, renormalised weights, published only if every blocking check passes.

Dagster hands an Output to its IO manager as soon as it is yielded, before any
separate blocking check could stop it. So the checks run here, and the Output
is yielded only when all blocking checks pass; otherwise the run fails with
nothing written. The IO manager re-checks the same invariants as a last guard.
"""

import dagster as dg
import pandas as pd

from weighting_pipeline import report
from weighting_pipeline.assets.checks import check_result, weight_check_specs
from weighting_pipeline.assets.common import CHAIN, markdown_table, week_span
from weighting_pipeline.core.invariants import Invariant, blocking_invariants, enough_qualified
from weighting_pipeline.core.calendar import previous_key
from weighting_pipeline.core.weights import dynamic_weights as compute_weights, turnover
from weighting_pipeline.resources.weights_table import WeightsTable
from weighting_pipeline.settings import WeightingSettings


def turnover_rule(frame: pd.DataFrame, keys: list[str], previous: pd.Series | None, threshold: float) -> tuple[Invariant, dict]:
    """Turnover of each week against the week before (stored, or earlier in the range)."""
    wide = frame.pivot(index="partition_key", columns="strategy", values="weight")
    values, failures = {}, {}
    prior = previous
    for key in keys:
        current = wide.loc[key]
        if prior is not None:
            values[key] = turnover(current, prior)
            if values[key] > threshold:
                failures[key] = f"turnover {values[key]:.1%} > {threshold:.0%}"
        prior = current
    rule = Invariant("turnover_below_threshold", f"week-over-week turnover stays at or below {threshold:.0%}", failures)
    return rule, values


@dg.asset(
    **CHAIN,
    kinds={"dynamodb", "pandas"},
    io_manager_key="weights_io_manager",
    output_required=False,
    check_specs=weight_check_specs("dynamic_weights"),
    description=(
        "Weights w_i = clip(k*b_i*m_i, 0.5*b_i, 2.0*b_i) with k solved exactly so they sum to 1; b is the "
        "configured baseline (never a previous week's weights). One DynamoDB item per week, with a TTL."
    ),
)
def dynamic_weights(
    context: dg.AssetExecutionContext, multipliers: pd.DataFrame, settings: WeightingSettings, weights_table: WeightsTable
):
    keys = context.partition_keys
    params, baseline = settings.params(), settings.baseline()
    frame = compute_weights(multipliers, baseline.allocations, params.bounds)

    blocking = blocking_invariants(frame, baseline.keys, params.bounds)
    for rule in blocking:
        yield check_result(rule, "dynamic_weights")
    yield check_result(enough_qualified(frame), "dynamic_weights", dg.AssetCheckSeverity.WARN)
    previous, previous_note = None, "none stored"
    try:
        item = weights_table.get_week(previous_key(keys[0]))
        if item is not None:
            previous, previous_note = pd.Series({k: float(v) for k, v in item["weights"].items()}), previous_key(keys[0])
    except Exception as exc:  # turnover is a warning; an unreadable table must not block it
        previous_note = f"unavailable ({type(exc).__name__})"
    rule, values = turnover_rule(frame, keys, previous, params.turnover_warn)
    yield check_result(
        rule,
        "dynamic_weights",
        dg.AssetCheckSeverity.WARN,
        max_turnover=float(max(values.values())) if values else 0.0,
        previous_week=previous_note,
    )

    broken = [r for r in blocking if not r.passed]
    if broken:
        context.log.error(
            f"Not publishing weeks {week_span(keys)}: " + "; ".join(f"{r.name} failed for {sorted(r.failures)}" for r in broken)
        )
        return
    last = frame[frame["partition_key"] == keys[-1]]
    metadata = {"weeks": len(keys)}
    if len(keys) == 1:
        # Per-strategy numbers only for single weeks (a range's metadata is copied to every week).
        metadata["weights_table"] = dg.MetadataValue.md(report.markdown(last))
        metadata.update({f"weight/{r.strategy}": float(r.weight) for r in last.itertuples()})
        if values:
            metadata["turnover"] = float(values[keys[-1]])
    else:
        summary = frame.assign(change=(frame["weight"] - frame["baseline"]).abs()).groupby("partition_key", observed=True)
        metadata["weeks_table"] = dg.MetadataValue.md(
            markdown_table(
                ["week", "qualified", "largest tilt (pp)", "turnover"],
                [
                    [k, int((g["skip_reason"] == "").sum()), f"{100 * g['change'].max():.2f}", f"{values[k]:.1%}" if k in values else "-"]
                    for k, g in summary
                ],
            )
        )
        metadata["weights_table_last_week"] = dg.MetadataValue.md(f"Week {keys[-1]}:\n\n" + report.markdown(last))
    yield dg.Output(frame, metadata=metadata)
