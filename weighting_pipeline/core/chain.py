"""All parameters of the algorithm in one place, and the whole chain composed.

The Dagster assets call the same stages one at a time; ``run_chain`` is for
tests, benchmarks and notebooks that want lots -> weights in one call.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from weighting_pipeline.core.calendar import WeekWindows, previous_key
from weighting_pipeline.core.deployed import DeployedGrid, deployed_grid
from weighting_pipeline.core.lots import ENTRY_SEQ, booked_rows, pnl_date_of
from weighting_pipeline.core.market import Bars, market_daily, market_returns, window_sessions
from weighting_pipeline.core.multipliers import multipliers
from weighting_pipeline.core.params import POLICIES, WeightingParams
from weighting_pipeline.core.returns import HalfDayGrid, daily_returns, half_day_grid
from weighting_pipeline.core.sharpe import sharpe_ratios_of
from weighting_pipeline.core.weights import dynamic_weights, smoothed_weights

__all__ = ["CHUNK_WEEKS", "POLICIES", "WeightingParams", "check_rows", "run_chain", "weeks_from"]

CHUNK_WEEKS = 16  # 16 x 1,000 strategies x 91 dates x 8 B = 12 MB per dense array


def run_chain(
    lots: pd.DataFrame,
    keys: Sequence[str],
    baseline: pd.Series,
    params: WeightingParams = WeightingParams(),
    grid: HalfDayGrid | None = None,
    deployed: DeployedGrid | None = None,
    bars: Bars | None = None,
) -> dict[str, object]:
    """closed lots (or exit records, under ``pnl_date=exit``; positions, under
    ``return_basis=deployed`` or ``market``) -> daily returns -> Sharpe -> multipliers
    -> weights, for ``keys``.

    Returns the Sharpe, multiplier and weight frames, one row per (week,
    strategy). (The ``daily_returns`` asset stores its stage; here it is
    only an intermediate.) ``grid``: the lots already aggregated for windows
    covering these weeks' (``half_day_grid``), to run many settings on one;
    ``deployed`` likewise their deployed notional (``deployed_grid``); ``bars`` the
    daily closes ``return_basis=market`` marks positions with (``core.market``).
    Under ``smoothing`` < 1 the targets of every week from ``smoothing_start`` on are
    computed too, and ``weight`` is the partial adjustment (``core.smoothing``).
    """
    keys = list(keys)
    check_rows(lots, params)
    weeks = WeekWindows.for_keys(keys, params.lookback_days)
    strategies = list(baseline.index)
    if params.return_basis == "market":
        if bars is None:
            raise ValueError("return_basis=market marks positions to market: pass the bars (core.market.Bars)")
        # Every lot is marked once over all the windows' sessions; each chunk reads its cells.
        sessions = window_sessions(weeks, bars.days)[2]
        marked = market_daily(lots, bars, strategies, np.unique(sessions[sessions < len(bars.days)]))
        chunks = (market_returns(lots, chunk, strategies, bars, marked) for chunk in weeks.chunks(CHUNK_WEEKS))
    else:
        bookings = booked_rows(lots)
        if params.return_basis == "deployed" and deployed is None:
            deployed = deployed_grid(lots, weeks, strategies)
        elif params.return_basis == "lot":
            deployed = None
        # Lots are aggregated once; daily returns and Sharpe then go CHUNK_WEEKS at a time, so the
        # dense (weeks x strategies x dates) arrays stay small enough to be reused, not re-faulted.
        # Every (week, strategy) cell depends only on its own window: chunking changes no bit.
        grid = grid if grid is not None else half_day_grid(bookings, weeks, strategies)
        chunks = (daily_returns(bookings, chunk, strategies, grid, deployed) for chunk in weeks.chunks(CHUNK_WEEKS))
    sharpe = sharpe_ratios_of(chunks, params.sharpe)
    mult = multipliers(sharpe, params.bounds, params.mapping, params.mapping_alpha, params.score_shrinkage)
    weights = dynamic_weights(mult, baseline, params.bounds, params.sleeves)
    if params.smoothing < 1 and keys:
        # The targets of the weeks from SMOOTHING_START up to these, then the recursion over all.
        earlier = weeks_from(params.smoothing_start, previous_key(keys[0]))
        targets = (
            run_chain(lots, earlier, baseline, params.replace(smoothing=1.0), bars=bars)["dynamic_weights"]
            if earlier
            else None
        )
        both = pd.concat([f for f in (targets, weights) if f is not None], ignore_index=True)
        both["partition_key"] = both["partition_key"].astype(str)
        smoothed = smoothed_weights(both, baseline, params.smoothing, params.smoothing_start, params.bounds)
        weights = smoothed[smoothed["partition_key"].isin(keys)].reset_index(drop=True)
        weights["partition_key"] = pd.Categorical(weights["partition_key"], categories=keys)
    return {"sharpe_ratios": sharpe, "multipliers": mult, "dynamic_weights": weights}


def weeks_from(first: str, last: str) -> list[str]:
    """The partition keys ``first .. last`` (both Sundays), in order; empty if ``first > last``."""
    return [str(d.date()) for d in pd.date_range(first, last, freq="7D")] if first <= last else []


def check_rows(frame: pd.DataFrame, params: WeightingParams) -> None:
    """Fail if ``frame`` is not the kind of rows ``params`` compute from: closed
    lots (``pnl_date=close``), exit records (``exit``), or under
    ``return_basis=deployed`` positions (exit records and entry rows)."""
    kinds = {"close": "closed lots", "exit": "exit records"}
    if params.return_basis == "market":  # positions, whatever pnl_date says (it has no role there)
        if len(frame) and (pnl_date_of(frame) != "exit" or not (frame["exit_seq"] == ENTRY_SEQ).any()):
            raise ValueError(
                "return_basis=market needs positions (exit records and one entry row per lot held), "
                f"got columns: {', '.join(frame.columns)}"
            )
        return
    if pnl_date_of(frame) != params.pnl_date:
        raise ValueError(
            f"pnl_date={params.pnl_date} books P&L from {kinds[params.pnl_date]}, got {kinds[pnl_date_of(frame)]} "
            f"(columns: {', '.join(frame.columns)})"
        )
    entries = int((frame["exit_seq"] == ENTRY_SEQ).sum()) if params.pnl_date == "exit" else 0
    if params.return_basis == "deployed" and len(frame) and not entries:
        raise ValueError(
            "return_basis=deployed needs positions (exit records and one entry row per lot held), got exit records only"
        )
    if params.return_basis == "lot" and entries:
        raise ValueError(f"return_basis=lot books from exit records, got positions with {entries} entry row(s)")
