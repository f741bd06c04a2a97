"""Entry attribution: each booked P&L credited to the weights that sized its lot.

Trading sizes a strategy's lot when it enters it, with the allocation in force
then. A lot booked in week ``J`` (closed in it, or under ``pnl_date=exit`` an
exit in it) but entered in an earlier week ``E`` carries price moves made while
``E``'s weights were in force, and often before ``J``'s weights existed. So the
backtest credits each booked row to the week its lot was *entered* in:

    C_s(J, E) = sum over s's rows booked in J whose lot was entered in E of
                realized_pnl / D_s(J, row)

where ``D`` is the basis's denominator: on the ``lot`` basis the mean entry
notional of ``s``'s distinct lots booked in ``J`` (the seed's ``R_s``); on the
``deployed`` basis the deployed notional of the row's booking date. Summed
over ``E`` that is ``R_s(J)``, the week's realised return; the backtest then
weighs each part with what was in force during ``E``:

    r_tilt(J) = sum_s sum_E w_s(E) C_s(J, E)     (likewise b(E), naive(E)).

A lot's entry week is the week (Sunday 18:00 to Sunday 18:00, New York) holding
its ``entry_timestamp``. Only rows booked inside ``J`` enter ``J``: a week's
numbers never change after its end. Rows are kept in canonical order, so the
contributions of a week are summed in the same order alone or in a range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from weighting_pipeline.core.calendar import WeekWindows, half_day_index
from weighting_pipeline.core.deployed import deployed_grid
from weighting_pipeline.core.grid import positions
from weighting_pipeline.core.lots import booked_at, booked_rows, lots_by_week

_EPOCH = np.datetime64("1970-01-01", "D")


def entry_week_keys(entry_timestamps: pd.Series) -> np.ndarray:
    """The partition key (week-start Sunday) of the week holding each timestamp, as
    day numbers: half-day ``h`` belongs to the week of Sunday ``d - ((d + 4) % 7)``
    with ``d = (h - 1) // 2`` (its first half-day is Sunday evening)."""
    day = (half_day_index(entry_timestamps) - 1) // 2
    return day - ((day + 4) % 7)


@dataclass(frozen=True)
class Attribution:
    """The booked rows of a run of weeks, each with its contribution to its strategy's
    weekly return (``value``, a fraction; see the module docstring), the week it was
    booked in (``week``, into ``keys``) and the week its lot was entered in
    (``entry``, into ``entry_keys``, sorted), its lot's entry notional
    (``notional``, account currency) and its P&L."""

    keys: tuple[str, ...]
    strategies: tuple[str, ...]
    entry_keys: tuple[str, ...]
    week: np.ndarray
    entry: np.ndarray
    strategy: np.ndarray
    value: np.ndarray
    notional: np.ndarray
    pnl: np.ndarray

    def cells(self, by_entry: np.ndarray) -> np.ndarray:
        """(weeks, strategies): ``sum over rows of by_entry[entry, strategy] * value``,
        ``by_entry`` (entry weeks, strategies), e.g. the weights in force during each."""
        n_s = len(self.strategies)
        factor = by_entry[self.entry, self.strategy] * self.value
        return np.bincount(self.week * n_s + self.strategy, weights=factor, minlength=len(self.keys) * n_s).reshape(
            len(self.keys), n_s
        )

    def realised(self) -> np.ndarray:
        """(weeks, strategies) ``R_s(J)``: the contributions summed over entry weeks."""
        return self.cells(np.ones((len(self.entry_keys), len(self.strategies))))

    def per_unit(self) -> tuple[np.ndarray, np.ndarray]:
        """``(return, booked)``, (weeks, strategies): P&L booked in the week over the entry
        notional of the rows booking it (one lot once per row), comparable across strategies
        whatever their lot counts; ``booked`` where a row was booked."""
        n_s, shape = len(self.strategies), (len(self.keys), len(self.strategies))
        flat = self.week * n_s + self.strategy
        pnl = np.bincount(flat, weights=self.pnl, minlength=shape[0] * n_s).reshape(shape)
        notional = np.bincount(flat, weights=self.notional, minlength=shape[0] * n_s).reshape(shape)
        booked = np.bincount(flat, minlength=shape[0] * n_s).reshape(shape) > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(booked & (notional > 0), pnl / notional, np.nan), booked

    def entry_mean(self, by_entry: np.ndarray, usable: np.ndarray) -> np.ndarray:
        """(weeks, strategies): the mean of ``by_entry[entry, strategy]`` over each cell's
        rows where ``usable[entry, strategy]``, weighted by the rows' entry notional (NaN
        without one): e.g. the score behind the weights that sized the week's lots."""
        n_s, shape = len(self.strategies), (len(self.keys), len(self.strategies))
        ok = usable[self.entry, self.strategy]
        flat = (self.week * n_s + self.strategy)[ok]
        weight = self.notional[ok]
        total = np.bincount(flat, weights=weight * by_entry[self.entry, self.strategy][ok], minlength=shape[0] * n_s)
        mass = np.bincount(flat, weights=weight, minlength=shape[0] * n_s)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(mass > 0, total / mass, np.nan).reshape(shape)


def entry_attribution(
    rows: pd.DataFrame, keys: Sequence[str], strategies: Sequence[str], return_basis: str = "lot"
) -> Attribution:
    """The ``Attribution`` of the weeks ``keys`` from closed lots, exit records or (on the
    ``deployed`` basis) positions (``core.lots``); rows of other strategies are ignored."""
    strategies = list(strategies)
    weeks = WeekWindows.for_keys(list(keys), 7)  # a 7-day window ending at the week's end is the week
    booked = booked_rows(rows)
    weekly = lots_by_week(booked[booked["strategy"].isin(strategies)], weeks)
    week = weekly["partition_key"].cat.codes.to_numpy().astype(np.int64)
    s = positions(weekly["strategy"], strategies)[1]
    pnl = weekly["realized_pnl"].to_numpy(np.float64)
    notional = weekly["entry_qty"].to_numpy(np.float64) * weekly["entry_price"].to_numpy(np.float64)
    n_s = len(strategies)
    if return_basis == "deployed":
        # Each row over the deployed notional of its booking date (the week's own dates).
        deployed = deployed_grid(rows, weeks, strategies).window(weeks)
        day = half_day_index(booked_at(weekly)) // 2 - weeks.window_start_day[week] if len(weekly) else week
        denominator = deployed[week, s, day] if len(weekly) else np.empty(0)
    else:
        # The mean entry notional of the distinct lots booked in the week: each lot once.
        first = ~pd.DataFrame({"w": week, "lot": weekly["lot_id"].to_numpy(dtype=object)}).duplicated().to_numpy()
        flat = week * n_s + s
        mass = np.bincount(flat[first], weights=notional[first], minlength=len(keys) * n_s)
        count = np.bincount(flat[first], minlength=len(keys) * n_s)
        with np.errstate(invalid="ignore", divide="ignore"):
            denominator = (mass / count)[flat] if len(weekly) else np.empty(0)
    entry_day = entry_week_keys(weekly["entry_timestamp"]) if len(weekly) else np.empty(0, np.int64)
    entry_days, entry = np.unique(entry_day, return_inverse=True)
    entry_keys = tuple(str(_EPOCH + np.timedelta64(int(d), "D")) for d in entry_days)
    # A booked row with no positive denominator cannot come from items the reader accepts;
    # it books nothing rather than a NaN.
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(denominator > 0, pnl / denominator, 0.0)
    return Attribution(
        tuple(keys), tuple(strategies), entry_keys, week, entry.astype(np.int64), s, value, notional, pnl
    )
