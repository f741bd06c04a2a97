"""Backtest many settings on one ledger read, and deflate the best one's ratio.

Each setting is a ``WeightingParams``; the pure chain computes its weights for
every week, the weights computed at the end of week ``K`` are in force during
the next week, and ``core.backtest.holdout`` scores them. The first week of the
range only supplies weights: the backtest covers ``keys[1:]``. Trying many
settings and keeping the best inflates its information ratio; the deflated
ratio (Bailey and López de Prado 2014) is the probability that the best
setting's true ratio beats the best of as many settings with no skill.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import product
from typing import Callable, Iterable, Sequence

import pandas as pd

from weighting_pipeline.core import analytics
from weighting_pipeline.core.backtest import score, weekly_realised_returns
from weighting_pipeline.core.chain import WeightingParams, run_chain


def setting_holdout(lots: pd.DataFrame, keys: Sequence[str], baseline: pd.Series, params: WeightingParams,
                    realised: pd.DataFrame, closed: pd.DataFrame) -> pd.DataFrame:
    """The holdout numbers of ``keys[1:]`` under ``params`` (``baseline``: fractions by strategy)."""
    weights = run_chain(lots, list(keys[:-1]), baseline, params)["dynamic_weights"]
    return score(weights, list(keys[1:]), baseline, realised, closed)[0]


@dataclass(frozen=True)
class SweepResult:
    table: pd.DataFrame  # one row per setting
    best: dict
    deflated_ratio: float  # of the best setting's information ratio


def sweep(lots: pd.DataFrame, keys: Sequence[str], baseline: pd.Series, grid: dict[str, Iterable],
          base: WeightingParams = WeightingParams(), progress: Callable[[int, int], None] | None = None) -> SweepResult:
    """Score every combination of ``grid`` (``WeightingParams`` field -> values) over
    ``keys``; ``progress(done, total)`` is called after each setting."""
    names = list(grid)
    combos = list(product(*(list(grid[n]) for n in names)))
    realised, closed = weekly_realised_returns(lots, list(keys[1:]), list(baseline.index))
    rows, actives = [], []
    for i, values in enumerate(combos):
        params = replace(base, **dict(zip(names, values)))
        result = setting_holdout(lots, keys, baseline, params, realised, closed)
        active = result["active"].to_numpy()
        actives.append(active)
        rows.append({**dict(zip(names, values)), "weeks": len(active),
                     "information_ratio": analytics.information_ratio(active),
                     "ir_standard_error": analytics.ratio_standard_error(active),
                     "mean_turnover": float(result["turnover"].mean())})
        if progress:
            progress(i + 1, len(combos))
    table = pd.DataFrame(rows)
    best_row = int(table["information_ratio"].fillna(-float("inf")).to_numpy().argmax())
    deflated = analytics.deflated_ratio(actives[best_row], table["information_ratio"].to_numpy())
    return SweepResult(table, table.iloc[best_row].to_dict(), deflated)
