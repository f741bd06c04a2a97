"""Point-in-time backtest of the weights: how the weights in force did, week by week.

Week ``J`` runs from its start to its end (Sunday 18:00 to Sunday 18:00, New
York). The weights in force during it are those computed at its start, i.e.
from the week before's data; this module takes them as given and only uses
lots closed inside ``[start_J, end_J)``, so nothing after a week's end can
change that week's numbers.

Definitions (issue 11, kept exactly):
- realised return of strategy ``s`` in week ``J``:
  ``R_s = sum(realized_pnl) / mean(entry_qty * entry_price)`` over its lots closed
  in the week, and 0 when it closed none (the daily-return definition summed
  over the week);
- ``r_tilt = sum_s w_s R_s``, ``r_base = sum_s b_s R_s``,
  ``r_naive = sum_s n_s R_s`` with ``n = b*m / sum(b*m)``; ``active = r_tilt - r_base``;
- ``turnover = 0.5 * sum|w - w_prev|`` between this week's and last week's
  weights in force; ``active_share = 0.5 * sum|w - b|``; ``coverage`` = the sum of
  the weights in force over strategies that closed a lot in the week;
- ``rank_ic``: Spearman correlation, across qualified strategies, between the
  lookback Sharpe behind the weights and ``R_s``; NaN below three qualified.

Frames are week x strategy (rows: partition keys in order; columns: baseline
keys), vectorised over both.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from weighting_pipeline.core.calendar import WeekWindows, previous_key
from weighting_pipeline.core.lots import lots_by_week

HOLDOUT_COLUMNS = ["r_tilt", "r_base", "r_naive", "active", "turnover", "active_share", "coverage", "rank_ic"]


def weekly_realised_returns(lots: pd.DataFrame, keys: Sequence[str], strategies: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(R, closed)``: each strategy's realised return in each week (0 without a
    close) and whether it closed at least one lot; both week x strategy."""
    weeks = WeekWindows.for_keys(list(keys), 7)  # a 7-day window ending at the week's end is the week
    frame = lots_by_week(lots[lots["strategy"].isin(strategies)], weeks)
    index, columns = pd.Index(list(keys), name="partition_key"), pd.Index(list(strategies), name="strategy")
    if frame.empty:
        zeros = pd.DataFrame(0.0, index=index, columns=columns)
        return zeros, zeros.astype(bool)
    frame = frame.assign(position=frame["entry_qty"] * frame["entry_price"], strategy=frame["strategy"].astype(str))
    grouped = frame.groupby(["partition_key", "strategy"], observed=True, sort=False)
    pnl = grouped["realized_pnl"].sum().unstack("strategy")
    position = grouped["position"].mean().unstack("strategy")
    realised = (pnl / position).reindex(index=index, columns=columns)
    closed = realised.notna()
    return realised.fillna(0.0), closed


def _row_sums(x: np.ndarray) -> np.ndarray:
    """Exact (``math.fsum``) sum of each row: the same bits whatever else is in the
    array, so a week scores the same in a range as alone; NaN if a row holds one."""
    return np.array([math.fsum(row) if np.all(np.isfinite(row)) else np.nan for row in x], dtype=float)


def _rank_ic(sharpe: np.ndarray, realised: np.ndarray, qualified: np.ndarray) -> np.ndarray:
    out = np.full(sharpe.shape[0], np.nan)
    for i in range(sharpe.shape[0]):
        q = qualified[i]
        if q.sum() < 3:
            continue
        a = pd.Series(sharpe[i, q]).rank().to_numpy()
        b = pd.Series(realised[i, q]).rank().to_numpy()
        if a.std() > 0 and b.std() > 0:
            out[i] = float(np.corrcoef(a, b)[0, 1])
    return out


def holdout(
    weights: pd.DataFrame,
    baseline: pd.Series,
    multipliers: pd.DataFrame,
    sharpe: pd.DataFrame,
    qualified: pd.DataFrame,
    realised: pd.DataFrame,
    closed: pd.DataFrame,
    previous_weights: pd.Series | None = None,
) -> pd.DataFrame:
    """Each week's backtest numbers (``HOLDOUT_COLUMNS``).

    ``weights``, ``multipliers``, ``sharpe`` and ``qualified`` are those in force
    during each week (computed at its start); ``previous_weights`` are the
    weights in force the week before the first row (None: the first week's
    turnover is NaN). ``baseline`` is fractions by strategy. All frames share
    the index (weeks) and columns (strategies).
    """
    cols = list(weights.columns)
    w = weights.to_numpy(float)
    b = baseline.reindex(cols).to_numpy(float)
    m = multipliers.reindex(columns=cols).to_numpy(float)
    r = realised.reindex(columns=cols).to_numpy(float)
    naive = b * m
    naive = naive / _row_sums(naive)[:, None]
    before = np.vstack([
        np.full(len(cols), np.nan) if previous_weights is None else previous_weights.reindex(cols).to_numpy(float),
        w[:-1],
    ])
    out = pd.DataFrame(index=weights.index)
    out["r_tilt"] = _row_sums(w * r)
    out["r_base"] = _row_sums(b * r)
    out["r_naive"] = _row_sums(naive * r)
    out["active"] = out["r_tilt"] - out["r_base"]
    out["turnover"] = 0.5 * _row_sums(np.abs(w - before))  # NaN for the first week without previous_weights
    out["active_share"] = 0.5 * _row_sums(np.abs(w - b))
    out["coverage"] = _row_sums(w * closed.reindex(columns=cols).to_numpy(bool))
    out["rank_ic"] = _rank_ic(sharpe.reindex(columns=cols).to_numpy(float), r, qualified.reindex(columns=cols).to_numpy(bool))
    return out


def weights_in_force(weights: pd.DataFrame, keys: Sequence[str], baseline: pd.Series) -> tuple[dict[str, pd.DataFrame], pd.Series]:
    """What was in force during each of ``keys``: the weights computed for the week
    before (``weights`` is a ``dynamic_weights`` frame), or the baseline where none
    were. Returns week x strategy frames ``weight``, ``multiplier``, ``sharpe``,
    ``qualified``, and by key the week whose weights were in force (None: baseline)."""
    strategies = list(baseline.index)
    index = pd.Index(list(keys), name="partition_key")
    source = pd.Series([previous_key(k) for k in keys], index=index, dtype=object)
    weights = weights.assign(partition_key=weights["partition_key"].astype(str), qualified=weights["skip_reason"] == "")
    computed = source.isin(set(weights["partition_key"])).to_numpy()
    defaults = {"weight": baseline.to_numpy(float), "multiplier": 1.0, "sharpe": np.nan, "qualified": 0.0}
    frames = {}
    for column, default in defaults.items():
        wide = weights.pivot(index="partition_key", columns="strategy", values=column)
        wide = wide.reindex(index=source.to_numpy(), columns=strategies).set_axis(index, axis=0).astype(float)
        wide.loc[~computed] = default
        frames[column] = wide
    frames["qualified"] = frames["qualified"].astype(bool)
    return frames, source.where(computed, None)


def score(weights: pd.DataFrame, keys: Sequence[str], baseline: pd.Series, realised: pd.DataFrame, closed: pd.DataFrame
          ) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], pd.Series]:
    """``holdout`` of ``keys`` with the weights in force (``weights_in_force``), the
    week before the first one included for turnover; also returns what was in force."""
    keys = list(keys)
    frames, source = weights_in_force(weights, [previous_key(keys[0]), *keys], baseline)
    week = {c: f.loc[keys] for c, f in frames.items()}
    result = holdout(week["weight"], baseline, week["multiplier"], week["sharpe"], week["qualified"], realised.loc[keys],
                     closed.loc[keys], previous_weights=frames["weight"].iloc[0])
    return result, week, source.loc[keys]
