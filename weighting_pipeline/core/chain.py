"""All parameters of the algorithm in one place, and the whole chain composed.

The Dagster assets call the same stages one at a time; ``run_chain`` is for
tests, benchmarks and notebooks that want lots -> weights in one call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from weighting_pipeline.core.allocation import SLEEVES
from weighting_pipeline.core.calendar import FIRST_WEEK, WeekWindows, previous_key
from weighting_pipeline.core.deployed import RETURN_BASES, DeployedGrid, deployed_grid
from weighting_pipeline.core.lots import ENTRY_SEQ, PNL_DATES, booked_rows, pnl_date_of
from weighting_pipeline.core.market import Bars, market_daily, market_returns, window_sessions
from weighting_pipeline.core.multipliers import MAPPINGS, MultiplierBounds, multipliers
from weighting_pipeline.core.returns import HalfDayGrid, daily_returns, half_day_grid
from weighting_pipeline.core.sharpe import MISSING_DAYS, SCORES, SharpeParams, sharpe_ratios_of
from weighting_pipeline.core.shrinkage import SHRINKAGES
from weighting_pipeline.core.weights import dynamic_weights, smoothed_weights

# The trading author's designs as settings (docs/analytics.md, "Presets"): what POLICY sets
# unless a variable says otherwise. "seed" is the defaults (pull request 2957).
POLICIES: dict[str, dict[str, Any]] = {
    "seed": {"score": "sharpe", "lookback_days": 90, "mapping": "minmax", "sleeves": "none", "smoothing": 1.0},
    # Pull request 2977: 12-month Calmar, the median power mapping, and a monthly partial
    # adjustment of 0.1, which is 1 - 0.9 ** (12 / 52) = 0.024 a week: 0.025.
    "pr2977": {
        "score": "calmar",
        "lookback_days": 365,
        "mapping": "median_power",
        "mapping_alpha": 0.5,
        "sleeves": "none",
        "smoothing": 0.025,
    },
    # scripts/rebalance_strategy_weights.py: Calmar (from 12-month backtests), the median power
    # mapping within the ftlt/ and root sleeves, no memory.
    "script": {
        "score": "calmar",
        "lookback_days": 365,
        "mapping": "median_power",
        "mapping_alpha": 0.5,
        "sleeves": "folder",
        "smoothing": 1.0,
    },
}
CHUNK_WEEKS = 16  # 16 x 1,000 strategies x 91 dates x 8 B = 12 MB per dense array


@dataclass(frozen=True)
class WeightingParams:
    """Every knob of the algorithm, validated on construction.

    ``lookback_days`` are calendar days; ``risk_free_rate`` is annual (0.045);
    multipliers are factors of the baseline; ``turnover_warn`` is a fraction
    of capital (0.2 = 20%) moved week over week before a WARN; ``noise_alpha`` is the
    significance level below which the noise test says the tilt follows something
    (``core.invariants.tilt_exceeds_noise``); ``cost_bps`` is what the backtest charges
    per unit of capital traded, in basis points (``core.backtest``). ``missing_days``
    (``skip`` | ``zero``) and ``score`` (``sharpe`` | ``sortino`` | ``calmar``)
    are described in ``core.sharpe``; ``pnl_date`` (``close`` | ``exit``), when
    realised P&L is booked, in ``core.lots``; ``return_basis`` (``lot`` |
    ``deployed`` | ``market``), what a return is per, in ``core.returns`` (``deployed``
    needs ``pnl_date=exit``: P&L booked as it is realised, against the capital
    held while it was) and ``core.market`` (``market``: every position marked to
    trading's daily closes; ``pnl_date`` has no role there). ``mapping``
    (``minmax`` | ``median_power``) and ``mapping_alpha`` (the power, > 0) are
    described in ``core.multipliers``; ``sleeves`` (``none`` | ``folder``) in
    ``core.allocation``; ``score_shrinkage`` (``none`` | ``james_stein``, the latter
    on calibrated standard errors only) in ``core.shrinkage``.
    """

    lookback_days: int = 90
    risk_free_rate: float = 0.045
    min_lots: int = 5
    min_days: int = 5
    min_multiplier: float = 0.5
    max_multiplier: float = 2.0
    turnover_warn: float = 0.20
    noise_alpha: float = 0.05
    cost_bps: float = 0.0
    missing_days: str = "skip"
    score: str = "sharpe"
    pnl_date: str = "close"
    return_basis: str = "lot"
    mapping: str = "minmax"
    mapping_alpha: float = 0.5
    sleeves: str = "none"
    score_shrinkage: str = "none"
    smoothing: float = 1.0
    smoothing_start: str = FIRST_WEEK
    policy: str = "none"

    def __post_init__(self) -> None:
        problems = []
        if isinstance(self.lookback_days, bool) or not isinstance(self.lookback_days, int) or self.lookback_days <= 0:
            problems.append(f"lookback_days must be a positive whole number, got {self.lookback_days!r}")
        if not math.isfinite(self.risk_free_rate):
            problems.append(f"risk_free_rate must be finite, got {self.risk_free_rate!r}")
        for name in ("min_lots", "min_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                problems.append(
                    f"{name} must be a whole number >= 2 (a standard deviation needs two points), got {value!r}"
                )
        if not (math.isfinite(self.turnover_warn) and self.turnover_warn >= 0):
            problems.append(f"turnover_warn must be a finite fraction >= 0, got {self.turnover_warn!r}")
        if not (math.isfinite(self.noise_alpha) and 0 < self.noise_alpha < 1):
            problems.append(f"noise_alpha must be a probability strictly between 0 and 1, got {self.noise_alpha!r}")
        if not (math.isfinite(self.cost_bps) and self.cost_bps >= 0):
            problems.append(f"cost_bps must be a finite number of basis points >= 0, got {self.cost_bps!r}")
        if self.missing_days not in MISSING_DAYS:
            problems.append(f"missing_days must be one of {', '.join(MISSING_DAYS)}, got {self.missing_days!r}")
        if self.score not in SCORES:
            problems.append(f"score must be one of {', '.join(SCORES)}, got {self.score!r}")
        if self.pnl_date not in PNL_DATES:
            problems.append(f"pnl_date must be one of {', '.join(PNL_DATES)}, got {self.pnl_date!r}")
        if self.return_basis not in RETURN_BASES:
            problems.append(f"return_basis must be one of {', '.join(RETURN_BASES)}, got {self.return_basis!r}")
        elif self.return_basis == "deployed" and self.pnl_date != "exit":
            problems.append(f"return_basis=deployed requires pnl_date=exit, got pnl_date={self.pnl_date}")
        if self.mapping not in MAPPINGS:
            problems.append(f"mapping must be one of {', '.join(MAPPINGS)}, got {self.mapping!r}")
        if isinstance(self.mapping_alpha, bool) or not (
            isinstance(self.mapping_alpha, (int, float))
            and math.isfinite(self.mapping_alpha)
            and self.mapping_alpha > 0
        ):
            problems.append(f"mapping_alpha must be a finite number > 0, got {self.mapping_alpha!r}")
        if self.score_shrinkage not in SHRINKAGES:
            problems.append(f"score_shrinkage must be one of {', '.join(SHRINKAGES)}, got {self.score_shrinkage!r}")
        elif self.score_shrinkage == "james_stein" and (self.score != "sharpe" or self.return_basis != "market"):
            problems.append(
                "score_shrinkage=james_stein needs calibrated standard errors of the score: score=sharpe on "
                f"return_basis=market, got score={self.score}, return_basis={self.return_basis}"
            )
        if isinstance(self.smoothing, bool) or not (
            isinstance(self.smoothing, (int, float)) and 0 < self.smoothing <= 1
        ):
            problems.append(f"smoothing must be a fraction in (0, 1] (1: none), got {self.smoothing!r}")
        try:
            WeekWindows.for_keys([self.smoothing_start], 1)
        except ValueError:
            problems.append(
                f"smoothing_start must be a week's partition key (a Sunday, YYYY-MM-DD), got {self.smoothing_start!r}"
            )
        if self.policy not in ("none", *POLICIES):
            problems.append(f"policy must be one of {', '.join(POLICIES)}, got {self.policy!r}")
        if self.sleeves not in SLEEVES:
            problems.append(f"sleeves must be one of {', '.join(SLEEVES)}, got {self.sleeves!r}")
        try:
            self.bounds  # noqa: B018 - the property validates the bounds
        except ValueError as exc:
            problems.append(str(exc))
        if problems:
            raise ValueError("invalid weighting parameters: " + "; ".join(problems))

    @property
    def bounds(self) -> MultiplierBounds:
        return MultiplierBounds(self.min_multiplier, self.max_multiplier)

    @property
    def sharpe(self) -> SharpeParams:
        return SharpeParams(
            self.risk_free_rate, self.min_lots, self.min_days, missing_days=self.missing_days, score=self.score
        )

    def as_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


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
            run_chain(lots, earlier, baseline, replace(params, smoothing=1.0), bars=bars)["dynamic_weights"]
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
