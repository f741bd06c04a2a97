"""tilt_backtest: how the weights in force did during each week (point in time).

Week J is scored with what trading read when J began (``core.backtest.weights_sources``):
J-1's weights as the publication log (``publication.log``) holds them where J-1
was published; else J-2's while the reader's grace
(``STRATEGY_WEIGHTS__GRACE_HOURS``) covered J's start; else the baseline. Each
week's ``weights_source`` says which and why. An unpublish during J is noted, not
split. The log is ``dynamic_weights``' input, read by its IO manager; the
sweep, a what-if tool, recomputes instead. The week is scored on
the P&L booked inside it (from ``closed_lots`` of J, by ``PNL_DATE``, on the
``RETURN_BASIS``; its window ends at J's end: nothing later can enter). The week before the first one gives
turnover. Each P&L booked in J is weighed with the weights in force when its lot was
entered (``core.attribution``), read the same way for that week; under
``RETURN_BASIS=market`` the week's return is instead its own sessions' returns marked
to trading's daily closes, which J's weights were in force for. Definitions:
``core/backtest.py``.
"""

import dagster as dg
import numpy as np
import pandas as pd

from weighting_pipeline.assets.code_versions import CODE_VERSIONS
from weighting_pipeline.assets.common import ANALYSIS_GROUP, CHAIN, add_week_metadata, by_strategy
from weighting_pipeline.assets.dynamic_weights import ASSET as WEIGHTS
from weighting_pipeline.core.attribution import entry_attribution
from weighting_pipeline.core.backtest import (
    HOLDOUT_COLUMNS,
    PUBLISHED,
    InForce,
    score,
    weekly_realised_returns,
    weights_sources,
)
from weighting_pipeline.core.baseline import strategy_stem
from weighting_pipeline.core.calendar import WeekWindows, previous_key
from weighting_pipeline.core.chain import check_rows
from weighting_pipeline.core.lots import canonical_order, distinct_lots
from weighting_pipeline.core.market import MarketDataError, bars_days, symbols_of
from weighting_pipeline.core.weights import WEIGHT_COLUMNS
from weighting_pipeline.publication.log import Entry
from weighting_pipeline.resources.ledger_reader import LedgerReader
from weighting_pipeline.resources.market_data import MarketData
from weighting_pipeline.resources.publication_log import PublishedWeeks
from weighting_pipeline.resources.publication_rules import PublicationRules
from weighting_pipeline.settings import WeightingSettings

ASSET = "tilt_backtest"
# Weeks J-2 and J-1 of each week J; the first partitions have fewer (allowed).
EARLIER_WEEKS = dg.TimeWindowPartitionMapping(
    start_offset=-2, end_offset=-1, allow_nonexistent_upstream_partitions=True
)
NO_WEIGHTS = pd.DataFrame(columns=WEIGHT_COLUMNS)  # nothing stored for the weeks before
# The return basis that scored the weights, and the one the week's returns are measured on.
SCORED_ON, JUDGED_ON = "scored_on", "judged_on"


@dg.asset(
    **{**CHAIN, "group_name": ANALYSIS_GROUP},
    kinds={"pandas"},
    io_manager_key="intermediate_io_manager",
    code_version=CODE_VERSIONS[ASSET],
    # dynamic_weights' weeks J-2 and J-1 as the publication log holds them (its IO manager
    # loads the log, which also answers for the weeks the lots were entered in).
    ins={"closed_lots": dg.AssetIn(), WEIGHTS: dg.AssetIn(partition_mapping=EARLIER_WEEKS)},
    description=(
        "Point-in-time backtest: the week's realised return under the weights in force (computed at its start), "
        "the baseline and the naive `b*m / sum(b*m)` weights; active return, turnover, active share, coverage "
        "and rank IC; the tilt's and the naive weights' returns net of `COST_BPS` on their turnover. Judged on "
        "returns marked to trading's daily closes whenever `MARKET_DATA_BUCKET` is set, whatever basis scored "
        "the weights (`scored_on`, `judged_on`). "
        "Definitions in `core/backtest.py`."
    ),
)
def tilt_backtest(
    context: dg.AssetExecutionContext,
    closed_lots: pd.DataFrame,
    dynamic_weights: PublishedWeeks,
    settings: WeightingSettings,
    publication: PublicationRules,
    market_data: MarketData,
    ledger: LedgerReader,
):
    keys = list(context.partition_keys)
    baseline, params = settings.baseline(), settings.params()
    check_rows(closed_lots, params)
    rows = distinct_lots(closed_lots)  # each row once
    # What was in force during each week and the week before (entry weeks are added below).
    in_force = read_in_force(dynamic_weights, [previous_key(keys[0]), *keys], publication.grace())
    weights = weights_frame(in_force)
    # Strategies that have left the baseline since stay in the history: their weights in
    # force and their lots count (read here; the chain reads today's baseline only).
    departed = sorted({str(s) for s in weights["strategy"]} - set(baseline.keys)) if len(weights) else []
    strategies = [*baseline.keys, *departed]
    b = pd.Series(baseline.allocations, dtype=float).reindex(strategies).fillna(0.0)
    if departed:
        read = ledger.read_lots(
            {strategy_stem(s): s for s in departed},
            *WeekWindows.for_keys(keys, 7).union_bounds(),
            positions=params.return_basis in ("deployed", "market"),
        )
        more = read.bookings(params.pnl_date, params.return_basis)
        rows = canonical_order(
            pd.concat([rows.astype({"strategy": str}), more.astype({"strategy": str})], ignore_index=True)
        )
        context.log.info(f"Strategies no longer in the baseline, kept in the backtest: {', '.join(departed)}")
    # The scorer is a setting; the judge is what the positions earned: marked to market
    # whenever trading's bars are there, whatever basis scored the weights.
    judged_on = "market" if params.return_basis == "market" or market_data.bucket else params.return_basis
    bars, attribution = None, None
    try:
        if judged_on == "market":
            weeks = WeekWindows.for_keys(keys, 7)
            if params.return_basis != "market":  # the stored rows are not positions: read them for these weeks
                stems = {**baseline.stems, **{strategy_stem(s): s for s in departed}}
                rows = ledger.read_lots(stems, *weeks.union_bounds(), positions=True).positions
            # Each week's own sessions, marked to market: nothing before its weights were set.
            bars = market_data.bars(symbols_of(rows), *bars_days(weeks))
        else:
            attribution = entry_attribution(rows, keys, strategies, params.return_basis)
    except MarketDataError as exc:
        raise dg.Failure(f"tilt_backtest: {exc}") from None
    # What was in force during each week and during each week a booked lot was entered in.
    needed = sorted({previous_key(keys[0]), *keys, *(attribution.entry_keys if attribution else ())})
    in_force = read_in_force(dynamic_weights, needed, publication.grace())
    weights = weights_frame(in_force)
    try:
        realised, closed = weekly_realised_returns(rows, keys, strategies, judged_on, bars)
    except MarketDataError as exc:
        raise dg.Failure(f"tilt_backtest: {exc}") from None
    result, used, _ = score(weights, keys, b, realised, closed, params.cost_bps, attribution)
    sources = {k: in_force[k][0].why for k in keys}
    add_week_metadata(
        context,
        {
            k: {
                **{c: float(result.loc[k, c]) for c in HOLDOUT_COLUMNS if np.isfinite(result.loc[k, c])},
                "weights_source": sources[k],
                SCORED_ON: params.return_basis,
                JUDGED_ON: judged_on,
                **by_strategy("weight_in_force", {s: float(used["weight"].loc[k, s]) for s in strategies}),
            }
            for k in keys
        },
    )
    out = result.reset_index()
    out.insert(len(out.columns), "weights_source", [sources[k] for k in keys])
    out[SCORED_ON], out[JUDGED_ON] = params.return_basis, judged_on
    context.log.info(f"Backtest of {len(keys)} week(s): mean active return {result['active'].mean():+.4%} a week")
    return out


def read_in_force(
    published: PublishedWeeks, keys: list[str], grace: pd.Timedelta
) -> dict[str, tuple[InForce, Entry | None]]:
    """For each of ``keys``, what trading read when it began, with the log entry whose
    weights those were (None: the baseline)."""
    earlier = sorted({previous_key(k) for k in keys} | {previous_key(previous_key(k)) for k in keys})
    records = {w: published.record(w) for w in earlier}
    states = {w: r.state for w, r in records.items() if r.state is not None}
    gone = {w: r.unpublished_at for w, r in records.items() if r.unpublished_at is not None}
    entries = published.published(w for w in earlier if states.get(w) == PUBLISHED)
    sources = weights_sources(keys, states, gone, grace, {w: e.run_id for w, e in entries.items()})
    return {k: (s, entries[s.week] if s.how == PUBLISHED else None) for k, s in sources.items()}


def weights_frame(in_force: dict[str, tuple[InForce, Entry | None]]) -> pd.DataFrame:
    """The weights in force as a ``dynamic_weights`` frame whose rows for week J are
    labelled J-1 (as ``core.backtest.weights_in_force`` reads them); none for the baseline."""
    parts = [
        entry.frame().assign(partition_key=previous_key(key), naive_weight=np.nan, target_weight=np.nan)[WEIGHT_COLUMNS]
        for key, (_, entry) in in_force.items()
        if entry is not None
    ]
    return pd.concat(parts, ignore_index=True) if parts else NO_WEIGHTS
