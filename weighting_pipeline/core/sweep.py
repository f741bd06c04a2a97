"""Backtest many settings on one ledger read, and deflate the best one's ratio.

Each setting is a ``WeightingParams``. For the backtested weeks ``keys`` the pure
chain computes the weights of the week before each (``previous_key(keys[0])`` ..
``keys[-2]``); those are in force during the next week, as in ``tilt_backtest``,
and ``core.backtest.score`` scores them. Trying many settings and keeping the
best inflates its information ratio; the deflated ratio (Bailey and López de
Prado 2014) is the probability that the best setting's true ratio beats the
expected best of as many settings with no skill.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np
import pandas as pd

from weighting_pipeline.core import analytics
from weighting_pipeline.core.allocation import bounded_weights, folder_groups, sleeve_weights
from weighting_pipeline.core.attribution import Attribution, entry_attribution
from weighting_pipeline.core.backtest import entry_legs, holdout_arrays, score, weekly_realised_returns
from weighting_pipeline.core.calendar import WeekWindows, previous_key
from weighting_pipeline.core.chain import CHUNK_WEEKS, POLICIES, WeightingParams, run_chain
from weighting_pipeline.core.deployed import DeployedGrid, deployed_grid
from weighting_pipeline.core.lots import ENTRY_SEQ, booked_rows, pnl_date_of
from weighting_pipeline.core.multipliers import multiplier_matrix
from weighting_pipeline.core.returns import HalfDayGrid, daily_returns, half_day_grid
from weighting_pipeline.core.sharpe import sharpe_ratios_of
from weighting_pipeline.core.smoothing import smooth_from


def weight_keys(keys: Sequence[str]) -> list[str]:
    """The weeks whose weights are in force during ``keys``: each one's week before."""
    return [previous_key(keys[0]), *keys[:-1]]


def setting_holdout(
    lots: pd.DataFrame,
    keys: Sequence[str],
    baseline: pd.Series,
    params: WeightingParams,
    realised: pd.DataFrame,
    closed: pd.DataFrame,
    grid: HalfDayGrid | None = None,
) -> pd.DataFrame:
    """The backtest of ``keys`` under ``params`` (``baseline``: fractions by strategy;
    ``realised``/``closed`` from ``weekly_realised_returns`` of ``keys``; ``grid``: see
    ``run_chain``)."""
    # Smoothing starts no earlier than the first week the sweep computes (see ``sweep``).
    params = params.replace(smoothing_start=max(params.smoothing_start, weight_keys(keys)[0]))
    weights = run_chain(lots, weight_keys(keys), baseline, params, grid)["dynamic_weights"]
    attribution = entry_attribution(lots, keys, list(baseline.index), params.return_basis)
    return score(weights, list(keys), baseline, realised, closed, params.cost_bps, attribution=attribution)[0]


def combination(base: WeightingParams, names: Sequence[str], values: Sequence) -> WeightingParams:
    """The setting of one combination of a grid: ``base`` with a ``policy``'s preset
    (``core.chain.POLICIES``) if the grid names one, then the grid's other values."""
    chosen: dict[str, Any] = dict(zip(names, values))
    if "policy" in chosen and chosen["policy"] in POLICIES:
        base = base.replace(**POLICIES[chosen["policy"]])
    return base.replace(**chosen)


def usable_combinations(
    grid: dict[str, Iterable], base: WeightingParams
) -> tuple[list[tuple], list[tuple[tuple, str]]]:
    """The combinations of ``grid`` (in grid order) that are valid settings, and
    those that are not with the reason (e.g. ``return_basis=deployed`` with
    ``pnl_date=close``): a sweep runs the first and names the second."""
    names, usable, refused = list(grid), [], []
    for values in product(*(list(grid[n]) for n in names)):
        try:
            params = combination(base, names, values)
        except ValueError as exc:
            refused.append((values, str(exc)))
        else:
            if params.return_basis == "market":
                refused.append(
                    (values, "the sweep reads no daily bars: return_basis=market is backtested by tilt_backtest only")
                )
            else:
                usable.append(values)
    return usable, refused


def _kind(rows: pd.DataFrame) -> str:
    if pnl_date_of(rows) == "exit" and (rows["exit_seq"] == ENTRY_SEQ).any():
        return "deployed"
    return pnl_date_of(rows)


@dataclass(frozen=True)
class SweepResult:
    table: pd.DataFrame  # one row per setting, in grid order
    best: dict  # the row with the highest information ratio (the first row if none is defined)
    best_row: int
    deflated_ratio: float  # of the best setting's information ratio, against all the settings tried
    actives: dict[int, pd.Series]  # row -> that setting's weekly active return
    effective_trials: float = math.nan  # how many independent settings the tried ones are worth


def ledger_key(params: WeightingParams) -> str:
    """Which rows a setting computes from: ``close`` (closed lots), ``exit`` (exit
    records) or ``deployed`` (positions, ``return_basis=deployed``)."""
    return "deployed" if params.return_basis == "deployed" else params.pnl_date


class _Stages:
    """The stages a setting shares with others, computed once: each kind of rows'
    (``ledger_key``) realised returns, its rows on the half-day grid (and its
    deployed notional) per lookback, and the (weeks, strategies) Sharpe, score
    and qualified matrices per kind, lookback and Sharpe settings (only the
    bounds differ between settings that share them)."""

    def __init__(
        self, ledger: Mapping[str, pd.DataFrame], keys: Sequence[str], strategies: list[str], baseline: np.ndarray
    ):
        self.ledger, self.keys, self.weight_keys, self.strategies = ledger, list(keys), weight_keys(keys), strategies
        self.baseline = baseline
        self._attribution: dict[str, Attribution] = {}
        self._grids: dict[tuple, tuple[WeekWindows, HalfDayGrid, DeployedGrid | None]] = {}
        self._scores: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._realised: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def rows(self, kind: str) -> pd.DataFrame:
        if kind not in self.ledger:
            raise ValueError(
                f"{kind} rows are needed by the grid, but the sweep was given rows for {', '.join(self.ledger)} only"
            )
        return self.ledger[kind]

    def realised(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """Realised returns and booked-P&L flags of ``keys``, week x strategy, from the rows ``kind``."""
        if kind not in self._realised:
            basis = "deployed" if kind == "deployed" else "lot"
            r, c = weekly_realised_returns(self.rows(kind), self.keys, self.strategies, basis)
            self._realised[kind] = r.to_numpy(float), c.to_numpy(bool)
        return self._realised[kind]

    def attribution(self, kind: str) -> Attribution:
        if kind not in self._attribution:
            self._attribution[kind] = entry_attribution(
                self.rows(kind), self.keys, self.strategies, "deployed" if kind == "deployed" else "lot"
            )
        return self._attribution[kind]

    def legs(self, kind: str, w: np.ndarray, m: np.ndarray, score: np.ndarray, qualified: np.ndarray):
        """``holdout_arrays``' entry-attributed legs and rank IC inputs (``core.backtest.entry_legs``):
        the weights computed for the week before an entry week were in force during it, and
        the baseline where they were not computed (entry weeks before the first backtested one)."""
        attribution = self.attribution(kind)
        row = pd.Index(self.weight_keys).get_indexer([previous_key(k) for k in attribution.entry_keys])
        have = row >= 0
        b = np.broadcast_to(self.baseline, (len(row), len(self.strategies)))

        def pick(x: np.ndarray, default) -> np.ndarray:
            out = np.broadcast_to(np.asarray(default, dtype=x.dtype), (len(row), x.shape[1])).copy()
            out[have] = x[row[have]]
            return out

        return entry_legs(
            attribution, pick(w, self.baseline), b, pick(m, 1.0), pick(score, np.nan), pick(qualified, False)
        )

    def scores(self, params: WeightingParams) -> tuple[np.ndarray, np.ndarray]:
        """(weeks, strategies) scores and whether each strategy qualified, for ``params``."""
        key = (ledger_key(params), params.lookback_days, params.sharpe)
        if key not in self._scores:
            rows = self.rows(key[0])
            if key[:2] not in self._grids:
                weeks = WeekWindows.for_keys(self.weight_keys, params.lookback_days)
                deployed = deployed_grid(rows, weeks, self.strategies) if key[0] == "deployed" else None
                self._grids[key[:2]] = weeks, half_day_grid(booked_rows(rows), weeks, self.strategies), deployed
            weeks, grid, deployed = self._grids[key[:2]]
            chunks = (daily_returns(rows, c, self.strategies, grid, deployed) for c in weeks.chunks(CHUNK_WEEKS))
            frame = sharpe_ratios_of(chunks, params.sharpe)  # week-major, every cell once
            shape = (len(weeks), len(self.strategies))
            self._scores[key] = (
                frame["score"].to_numpy(float).reshape(shape),
                (frame["skip_reason"] == "").to_numpy().reshape(shape),
            )
        return self._scores[key]


def sweep(
    lots: pd.DataFrame | Mapping[str, pd.DataFrame],
    keys: Sequence[str],
    baseline: pd.Series,
    grid: dict[str, Iterable],
    base: WeightingParams = WeightingParams(),
    progress: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Backtest every usable combination of ``grid`` (``WeightingParams`` field ->
    values; ``usable_combinations``) over the weeks ``keys``; ``progress(done, total)`` is called after each setting.

    ``lots``: the rows P&L is booked from, one frame (its rule, ``core.lots``) or
    ``{"close": closed lots, "exit": exit records, "deployed": positions}`` (the
    kinds the grid needs, ``ledger_key``) when ``pnl_date`` or ``return_basis``
    is swept. Each setting is scored on its own rows' realised returns, as
    ``tilt_backtest`` would score it with those settings.

    Each row holds the setting, the weeks, the information ratio (annualised,
    weekly active returns), its Mertens/Opdyke and Lo standard errors, the
    probability that the true ratio is above 0, the growth of 1 of tilt and
    baseline, and the mean turnover (fraction of capital a week). Each setting's
    numbers equal ``setting_holdout``'s (a test pins it); stages shared between
    settings are computed once and the weights stay (weeks, strategies) arrays.
    """
    names = list(grid)
    combos, _ = usable_combinations(grid, base)
    strategies = list(baseline.index)
    ledger = dict(lots) if isinstance(lots, Mapping) else {_kind(lots): lots}
    b = baseline.to_numpy(float)
    stages = _Stages(ledger, keys, strategies, b)
    rows, actives = [], {}
    for i, values in enumerate(combos):
        params = combination(base, names, values)  # validates the combination
        r, c = stages.realised(ledger_key(params))
        score, qualified = stages.scores(params)
        m = multiplier_matrix(score, params.bounds, params.mapping, params.mapping_alpha)
        w = (
            sleeve_weights(b, m, folder_groups(strategies), params.bounds)
            if params.sleeves == "folder"
            else bounded_weights(b, m, params.bounds)
        )
        if params.smoothing < 1:
            # From the baseline at SMOOTHING_START or the first week computed here, whichever is later.
            w = smooth_from(
                stages.weight_keys,
                w,
                b,
                params.smoothing,
                params.smoothing_start,
                params.min_multiplier,
                params.max_multiplier,
            )
        # The weights computed for the week before each of `keys` are in force during it; the
        # week before the first one's weights were not computed, so the baseline was in force.
        legs, ic = stages.legs(ledger_key(params), w, m, score, qualified)
        result = holdout_arrays(w, b, m, score, qualified, r, c, previous=b, cost_bps=params.cost_bps, legs=legs, ic=ic)
        active = pd.Series(result["active"], index=pd.Index(list(keys), name="partition_key"), name="active")
        actives[i] = active
        rows.append(
            {
                **dict(zip(names, values)),
                "weeks": len(active),
                "information_ratio": analytics.information_ratio(active),
                "ir_standard_error": analytics.ratio_standard_error(active),
                "ir_standard_error_iid": analytics.ratio_standard_error_iid(active),
                "ir_standard_error_hac": analytics.ratio_standard_error_hac(active),
                "t_statistic_hac": analytics.t_statistic_hac(active),
                "probability_ir_positive": analytics.probabilistic_ratio(active),
                "growth_tilt": float(analytics.cumulative_growth(result["r_tilt"])[-1]),
                "growth_baseline": float(analytics.cumulative_growth(result["r_base"])[-1]),
                "mean_turnover": float(np.mean(result["turnover"])),
                "active_after_costs": float(np.mean(result["active_net"]) * analytics.PERIODS),
                "max_drawdown": analytics.max_drawdown(result["r_tilt_net"]),
            }
        )
        if progress:
            progress(i + 1, len(combos))
    table = pd.DataFrame(rows)
    best_row = int(table["information_ratio"].fillna(-float("inf")).to_numpy().argmax())
    n_eff = (
        analytics.effective_trials(np.column_stack([actives[i].to_numpy(float) for i in sorted(actives)]))
        if actives
        else math.nan
    )
    deflated = analytics.deflated_ratio(actives[best_row], table["information_ratio"].to_numpy(), n_trials=n_eff)
    return SweepResult(table, table.iloc[best_row].to_dict(), best_row, deflated, actives, n_eff)
