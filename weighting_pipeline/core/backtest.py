"""Point-in-time backtest of the weights: how the weights in force did, week by week.

Week ``J`` runs from its start to its end (Sunday 18:00 to Sunday 18:00, New
York). The weights in force during it are those computed at its start, i.e.
from the week before's data; this module takes them as given and only uses
lots closed inside ``[start_J, end_J)``, so nothing after a week's end can
change that week's numbers.

Definitions (issue 11, kept exactly):
- realised return of strategy ``s`` in week ``J``:
  ``R_s = sum(realized_pnl) / mean(entry_qty * entry_price)``, the P&L booked in
  the week over the mean position of the distinct lots that booked it, and 0
  when none did (the daily-return definition summed over the week). Under
  ``pnl_date=close`` that is its lots closed in the week; under ``exit``, its
  exit records in the week, of open lots too (``core.lots``). Under
  ``return_basis=deployed``, ``R_s`` is the sum of the week's daily returns,
  each date's P&L over that date's deployed notional (``core.deployed``);
- ``r_tilt = sum_s w_s R_s``, ``r_base = sum_s b_s R_s``,
  ``r_naive = sum_s n_s R_s`` with ``n = b*m / sum(b*m)``; ``active = r_tilt - r_base``.
  With an ``Attribution`` (``core.attribution``; what ``tilt_backtest`` and the sweep
  use on the realised-P&L bases), each booked row is weighed instead with the
  weights, baseline and naive weights in force during its lot's entry week:
  ``r_tilt = sum_s sum_E w_s(E) C_s(J, E)``, and so on;
- ``turnover = 0.5 * sum|w - w_prev|`` between this week's and last week's
  weights in force; ``active_share = 0.5 * sum|w - b|``; ``coverage`` = the sum of
  the weights in force over strategies that booked P&L in the week;
- costs: with ``cost_bps`` (basis points of capital traded), the tilt and the
  naive weights pay ``turnover * cost_bps / 10_000`` each week:
  ``r_tilt_net = r_tilt - turnover * c``, ``r_naive_net = r_naive - naive_turnover * c``
  (``naive_turnover`` is the naive weights' own turnover), ``active_net =
  r_tilt_net - r_base``. The baseline's weights never change, so it pays nothing
  (drift between rebalances is not modelled); NaN turnover (nothing known of the
  week before) makes the net return NaN unless ``cost_bps`` is 0;
- ``rank_ic``: Spearman correlation, across qualified strategies that booked P&L
  (or, on the market basis, had positions) in the week, between the lookback
  score behind the weights (what the multipliers mapped: the Sharpe ratio unless
  ``SCORE`` says otherwise) and ``R_s``; NaN below three. Under entry attribution
  (``core.attribution``) it ranks the score behind the weights that sized the
  week's lots against the week's P&L per unit of entry notional (``entry_legs``).

Frames are week x strategy (rows: partition keys in order; columns: baseline
keys), vectorised over both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from weighting_pipeline.core.attribution import Attribution
from weighting_pipeline.core.calendar import WeekWindows, previous_key
from weighting_pipeline.core.deployed import deployed_grid
from weighting_pipeline.core.grid import positions
from weighting_pipeline.core.lots import lots_by_week
from weighting_pipeline.core.market import Bars, market_returns
from weighting_pipeline.core.returns import daily_returns

HOLDOUT_COLUMNS = [
    "r_tilt",
    "r_base",
    "r_naive",
    "active",
    "turnover",
    "active_share",
    "coverage",
    "rank_ic",
    "naive_turnover",
    "r_tilt_net",
    "r_naive_net",
    "active_net",
]


def weekly_realised_returns(
    lots: pd.DataFrame,
    keys: Sequence[str],
    strategies: Sequence[str],
    return_basis: str = "lot",
    bars: Bars | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(R, closed)``: each strategy's realised return in each week (0 without a
    booking) and whether it booked P&L (closed a lot, or under ``pnl_date=exit``
    had an exit) in it; both week x strategy. ``lots`` is a closed-lots or
    exit-records frame, or under ``return_basis=deployed`` a positions frame
    (``core.lots``); there ``R`` is the sum of the week's daily returns on
    deployed notional (``core.deployed``). Under ``return_basis=market`` (positions and
    ``bars``), ``R`` is the sum of the daily returns marked to market over the week's
    sessions (``core.market``): only price moves after the week's weights were set."""
    weeks = WeekWindows.for_keys(list(keys), 7)  # a 7-day window ending at the week's end is the week
    index, columns = pd.Index(list(keys), name="partition_key"), pd.Index(list(strategies), name="strategy")
    if return_basis == "market":
        if bars is None:
            raise ValueError("return_basis=market marks positions to market: pass the bars (core.market.Bars)")
        daily = market_returns(lots, weeks, list(strategies), bars)
        closed = pd.DataFrame((daily.bookings > 0).any(axis=2), index=index, columns=columns)
        return pd.DataFrame(daily.returns().sum(axis=2), index=index, columns=columns), closed
    if return_basis == "deployed":
        daily = daily_returns(lots, weeks, list(strategies), deployed=deployed_grid(lots, weeks, list(strategies)))
        realised = pd.DataFrame(daily.returns().sum(axis=2), index=index, columns=columns)
        # A booked date without positive notional cannot come from items the reader accepts;
        # such a week books nothing rather than a NaN.
        closed = pd.DataFrame(
            (daily.bookings > 0).any(axis=2) & ~daily.unusable_denominator(), index=index, columns=columns
        )
        return realised.where(closed, 0.0), closed
    frame = lots_by_week(lots[lots["strategy"].isin(strategies)], weeks)
    if frame.empty:
        zeros = pd.DataFrame(0.0, index=index, columns=columns)
        return zeros, zeros.astype(bool)
    frame = frame.assign(position=frame["entry_qty"] * frame["entry_price"], strategy=frame["strategy"].astype(str))
    grouped = frame.groupby(["partition_key", "strategy"], observed=True, sort=False)
    pnl = grouped["realized_pnl"].sum().unstack("strategy")
    # Each lot's position once per week, however many exits it booked in it.
    once = frame.drop_duplicates(["partition_key", "lot_id"])
    position = (
        once.groupby(["partition_key", "strategy"], observed=True, sort=False)["position"].mean().unstack("strategy")
    )
    realised = (pnl / position).reindex(index=index, columns=columns)
    closed = realised.notna()
    return realised.fillna(0.0), closed


def _row_sums(x: np.ndarray) -> np.ndarray:
    """Exact (``math.fsum``) sum of each row: the same bits whatever else is in the
    array, so a week scores the same in a range as alone; NaN if a row holds one."""
    x = np.asarray(x, dtype=float)
    finite = np.isfinite(x).all(axis=1)
    out = np.array([math.fsum(row) for row in np.where(finite[:, None], x, 0.0).tolist()], dtype=float)
    out[~finite] = np.nan
    return out


def _rank_ic(score: np.ndarray, realised: np.ndarray, qualified: np.ndarray) -> np.ndarray:
    """Per row: Pearson correlation of the average-tie ranks (Spearman) of ``score``
    and ``realised`` over the qualified columns; NaN below three or without dispersion."""
    mask = qualified & np.isfinite(score) & np.isfinite(realised)
    ranks = [pd.DataFrame(np.where(mask, x, np.nan)).rank(axis=1).to_numpy() for x in (score, realised)]
    n = mask.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        a, b = (np.where(mask, r - np.where(mask, r, 0.0).sum(axis=1, keepdims=True) / n[:, None], 0.0) for r in ranks)
        ic = (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    return np.where((n >= 3) & np.isfinite(ic), ic, np.nan)


def holdout(
    weights: pd.DataFrame,
    baseline: pd.Series,
    multipliers: pd.DataFrame,
    score: pd.DataFrame,
    qualified: pd.DataFrame,
    realised: pd.DataFrame,
    closed: pd.DataFrame,
    previous_weights: pd.Series | None = None,
    previous_multipliers: pd.Series | None = None,
    cost_bps: float = 0.0,
) -> pd.DataFrame:
    """Each week's backtest numbers (``HOLDOUT_COLUMNS``).

    ``weights``, ``multipliers``, ``score`` and ``qualified`` are those in force
    during each week (computed at its start); ``previous_weights`` are the
    weights in force the week before the first row (None: the first week's
    turnover is NaN), ``previous_multipliers`` likewise for the naive weights.
    ``baseline`` is fractions by strategy; ``cost_bps`` basis points of capital
    traded. All frames share the index (weeks) and columns (strategies).
    """
    cols = list(weights.columns)
    columns = holdout_arrays(
        weights.to_numpy(float),
        baseline.reindex(cols).to_numpy(float),
        multipliers.reindex(columns=cols).to_numpy(float),
        score.reindex(columns=cols).to_numpy(float),
        qualified.reindex(columns=cols).to_numpy(bool),
        realised.reindex(columns=cols).to_numpy(float),
        closed.reindex(columns=cols).to_numpy(bool),
        None if previous_weights is None else previous_weights.reindex(cols).to_numpy(float),
        None if previous_multipliers is None else previous_multipliers.reindex(cols).to_numpy(float),
        cost_bps,
    )
    return pd.DataFrame(columns, index=weights.index)


def _naive(b: np.ndarray, m: np.ndarray) -> np.ndarray:
    naive = b * np.atleast_2d(m)
    return naive / _row_sums(naive)[:, None]


def _turnover(w: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """``0.5 * sum|w - w_prev|`` per row, the first against ``previous`` (NaN without it)."""
    before = np.vstack([np.full(w.shape[1], np.nan) if previous is None else previous, w[:-1]])
    return 0.5 * _row_sums(np.abs(w - before))


def holdout_arrays(
    w: np.ndarray,
    b: np.ndarray,
    m: np.ndarray,
    score: np.ndarray,
    qualified: np.ndarray,
    r: np.ndarray,
    closed: np.ndarray,
    previous: np.ndarray | None,
    previous_multipliers: np.ndarray | None = None,
    cost_bps: float = 0.0,
    legs: dict[str, np.ndarray] | None = None,
    ic: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """``holdout`` on (weeks, strategies) arrays (``b``: one row, or one per week;
    ``previous`` and ``previous_multipliers``: one row): the one place the definitions
    are computed. ``legs``: each leg's (weeks, strategies) weighted returns under entry
    attribution (``core.attribution``; keys ``tilt``, ``base``, ``naive``) instead of
    this week's weights times ``r``; ``ic``: the rank IC's ``(score, return, usable)``
    instead of ``(score, r, qualified)``."""
    naive = _naive(b, m)
    if legs is None:
        legs = {"tilt": w * r, "base": b * r, "naive": naive * r}
    out = {"r_tilt": _row_sums(legs["tilt"]), "r_base": _row_sums(legs["base"]), "r_naive": _row_sums(legs["naive"])}
    out["active"] = out["r_tilt"] - out["r_base"]
    out["turnover"] = _turnover(w, previous)  # NaN for the first week without previous weights
    out["active_share"] = 0.5 * _row_sums(np.abs(w - b))
    out["coverage"] = _row_sums(w * closed)
    # Strategies that booked nothing in the week have no return to rank (not a tie at 0).
    out["rank_ic"] = _rank_ic(*(ic if ic is not None else (score, r, qualified & closed)))
    first_b = np.atleast_2d(b)[:1]
    out["naive_turnover"] = _turnover(
        naive, None if previous_multipliers is None else _naive(first_b, previous_multipliers)[0]
    )
    cost = cost_bps / 10_000
    out["r_tilt_net"] = out["r_tilt"] - (out["turnover"] * cost if cost else 0.0)
    out["r_naive_net"] = out["r_naive"] - (out["naive_turnover"] * cost if cost else 0.0)
    out["active_net"] = out["r_tilt_net"] - out["r_base"]
    return out


def attributed_legs(
    attribution: Attribution, weights: pd.DataFrame, baseline: pd.Series
) -> tuple[dict[str, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The legs and rank IC inputs of ``holdout_arrays`` under entry attribution, with
    what was in force during each entry week from ``weights`` (``weights_in_force``)."""
    entry, _ = weights_in_force(weights, list(attribution.entry_keys), baseline)
    w, b, m, s = (entry[c].to_numpy(float) for c in ("weight", "baseline", "multiplier", "score"))
    return entry_legs(attribution, w, b, m, s, entry["qualified"].to_numpy(bool))


def entry_legs(
    attribution: Attribution,
    w: np.ndarray,
    b: np.ndarray,
    m: np.ndarray,
    score: np.ndarray,
    qualified: np.ndarray,
) -> tuple[dict[str, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Each booked row weighed with what was in force during its lot's entry week
    (``w``, ``b``, ``m``, ``score``, ``qualified``: (entry weeks, strategies)), for each
    leg; and the rank IC's inputs: the score behind those weights (entry-notional
    weighted over the week's rows, qualified entry weeks only) against the week's P&L
    per unit of entry notional, over the strategies that booked P&L in it."""
    legs = {"tilt": attribution.cells(w), "base": attribution.cells(b), "naive": attribution.cells(_naive(b, m))}
    behind = attribution.entry_mean(score, qualified)
    per_unit, booked = attribution.per_unit()
    return legs, (behind, per_unit, booked & np.isfinite(behind))


def weights_in_force(
    weights: pd.DataFrame, keys: Sequence[str], baseline: pd.Series
) -> tuple[dict[str, pd.DataFrame], pd.Series]:
    """What was in force during each of ``keys``: the weights computed for the week
    before (``weights`` is a ``dynamic_weights`` frame), or the baseline where none
    were. Returns week x strategy frames ``weight``, ``multiplier``, ``sharpe``,
    ``score``, ``qualified``, and by key the week whose weights were in force (None: baseline)."""
    strategies = list(baseline.index)
    index = pd.Index(list(keys), name="partition_key")
    source = pd.Series([previous_key(k) for k in keys], index=index, dtype=object)
    shape = (len(keys), len(strategies))
    defaults = {
        "weight": baseline.to_numpy(float),
        "baseline": baseline.to_numpy(float),
        "multiplier": 1.0,
        "sharpe": np.nan,
        "score": np.nan,
        "qualified": 0.0,
    }
    stored = {c: np.broadcast_to(np.asarray(d, dtype=float), shape).copy() for c, d in defaults.items()}
    computed = np.zeros(len(keys), dtype=bool)
    if len(weights):
        weights = weights.assign(qualified=(weights["skip_reason"] == "").astype(float))
        weeks, w = positions(weights["partition_key"])
        s = positions(weights["strategy"], strategies)[1]
        row_of = {k: i for i, k in enumerate(weeks)}
        rows = np.array([row_of.get(k, -1) for k in source], dtype=np.int64)
        computed = rows >= 0
        # A strategy a recorded week does not hold (added to the baseline since) had no weight then;
        # rows of strategies outside ``strategies`` are not asked for.
        absent = {
            "weight": 0.0,
            "baseline": 0.0,
            "multiplier": 1.0,
            "sharpe": np.nan,
            "score": np.nan,
            "qualified": 0.0,
        }
        for column in defaults:
            matrix = np.full((len(weeks), len(strategies)), absent[column])
            matrix[w[s >= 0], s[s >= 0]] = weights[column].to_numpy(np.float64)[s >= 0]
            stored[column][computed] = matrix[rows[computed]]
    frames = {c: pd.DataFrame(m, index=index, columns=pd.Index(strategies, name="strategy")) for c, m in stored.items()}
    frames["qualified"] = frames["qualified"].astype(bool)
    return frames, source.where(computed, None)


def score(
    weights: pd.DataFrame,
    keys: Sequence[str],
    baseline: pd.Series,
    realised: pd.DataFrame,
    closed: pd.DataFrame,
    cost_bps: float = 0.0,
    attribution: Attribution | None = None,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], pd.Series]:
    """``holdout`` of ``keys`` with the weights in force (``weights_in_force``), the
    week before the first one included for turnover; also returns what was in force.
    Each week is judged against the baseline its weights in force were computed from.
    With ``attribution`` (``core.attribution``), each booked row is weighed with the
    weights in force when its lot was entered, and the rank IC follows it
    (``attributed_legs``)."""
    keys = list(keys)
    frames, source = weights_in_force(weights, [previous_key(keys[0]), *keys], baseline)
    week = {c: f.loc[keys] for c, f in frames.items()}
    cols = list(baseline.index)
    legs, ic = attributed_legs(attribution, weights, baseline) if attribution is not None else (None, None)
    columns = holdout_arrays(
        week["weight"].to_numpy(float),
        week["baseline"].to_numpy(float),
        week["multiplier"].to_numpy(float),
        week["score"].to_numpy(float),
        week["qualified"].to_numpy(bool),
        realised.loc[keys].reindex(columns=cols).to_numpy(float),
        closed.loc[keys].reindex(columns=cols).to_numpy(bool),
        frames["weight"].iloc[0].to_numpy(float),
        frames["multiplier"].iloc[0].to_numpy(float),
        cost_bps,
        legs,
        ic,
    )
    return pd.DataFrame(columns, index=week["weight"].index), week, source.loc[keys]


PUBLISHED, REFUSED = "published", "refused"  # what the publication log says of a week's weights
BASELINE = "baseline"  # the weights in force were the baseline


@dataclass(frozen=True)
class InForce:
    """What trading read when week ``for_week`` began: the weights of ``week`` (None:
    the baseline), ``how`` (``published`` or ``baseline``) and ``why``, one line for people."""

    for_week: str
    week: str | None
    how: str
    why: str


def weights_sources(
    keys: Sequence[str],
    state: Mapping[str, str],
    unpublished_at: Mapping[str, pd.Timestamp],
    grace: pd.Timedelta,
    runs: Mapping[str, str] | None = None,
) -> dict[str, InForce]:
    """For each week ``J`` of ``keys``, the weights trading read when ``J`` began.

    ``state`` maps a week to ``PUBLISHED`` (published at least once) or
    ``REFUSED`` (computed, never published); an absent week was never computed. ``unpublished_at`` maps a week to the time its newest publication
    was unpublished. ``runs`` names the run that published each week.

    Trading reads ``J-1`` when it is published and was not unpublished before
    ``J`` began (an unpublish during ``J`` is noted, not split). Otherwise, while
    the reader's ``grace`` after ``J-2``'s validity covers ``J``'s start, ``J-2``
    (for the first ``grace`` hours of ``J``, then the baseline: noted, not split);
    else the baseline.
    """
    runs = runs or {}
    out = {}
    for key in keys:
        start = WeekWindows.for_keys([previous_key(key)], 1).ends[0]  # J begins when J-1 ends (DST-exact)
        end = WeekWindows.for_keys([key], 1).ends[0]

        def usable(week: str) -> tuple[bool, str]:
            kind, gone = state.get(week), unpublished_at.get(week)
            if kind is None:
                return False, f"{week} was never computed"
            if kind == REFUSED:
                return False, f"{week} was computed but not published"
            if gone is not None and gone < start:  # noqa: B023 - called within this iteration
                return False, f"{week} was unpublished at {gone.isoformat()}"
            return True, ""

        def described(week: str, lead: str) -> str:
            return f"{lead}dynamic_weights of {week} as published" + (f" (run {runs[week]})" if week in runs else "")

        p, pp = previous_key(key), previous_key(previous_key(key))
        ok, why_not = usable(p)
        if ok:
            text = described(p, "")
            gone = unpublished_at.get(p)
            if gone is not None and gone < end:
                text += f"; unpublished at {gone.isoformat()}, during the week (noted, not split)"
            out[key] = InForce(key, p, PUBLISHED, text)
            continue
        ok2, why_not2 = usable(pp)
        if ok2 and grace > pd.Timedelta(0):
            text = described(pp, f"{why_not}, so ") + (
                f": the reader's grace ({grace / pd.Timedelta(hours=1):g} h) after its validity "
                f"covered the start of {key}; the baseline after it (noted, not split)"
            )
            out[key] = InForce(key, pp, PUBLISHED, text)
        else:
            out[key] = InForce(
                key,
                None,
                BASELINE,
                f"baseline: {why_not}" + (f", and {why_not2}" if not ok2 else ", and the reader has no grace"),
            )
    return out
