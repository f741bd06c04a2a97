"""Weekly windows on the New York trading calendar, as integer day arithmetic.

A partition key is a week-start date ``YYYY-MM-DD`` (a Sunday). The week runs
from that Sunday 18:00 America/New_York to the next Sunday 18:00, so weeks are
167 h or 169 h long across DST changes. The lookback window of a week ending at
``E`` is ``[E - lookback_days calendar days, E)``; both bounds sit at 18:00 New
York wall time.

Because every boundary sits at 18:00 local time, a close time can be reduced
to a *half-day index* ``2 * local_date + (local_time >= 18:00)``. A window is
then a contiguous range of half-day indices, which lets the return kernel work
on integer arrays instead of time zones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

# The first partition key (a Sunday): part of the published format, which the reader also knows.
from weighting_pipeline_reader.item import FIRST_WEEK

TIMEZONE = "America/New_York"
WEEK_START_HOUR = 18
_NS_PER_DAY = 86_400 * 10**9
_BOUNDARY_NS = WEEK_START_HOUR * 3_600 * 10**9
_EPOCH = np.datetime64("1970-01-01", "D")


def local_day_number(day: str | pd.Timestamp | np.datetime64) -> int:
    """Days since 1970-01-01 of a calendar date (no time zone involved)."""
    return int((np.datetime64(pd.Timestamp(day).date(), "D") - _EPOCH).astype(np.int64))


def at_boundary(day_number: int | np.ndarray) -> pd.DatetimeIndex:
    """18:00 New York wall time on the given day number(s), tz-aware."""
    days = np.atleast_1d(np.asarray(day_number, dtype=np.int64))
    naive = pd.to_datetime(days * _NS_PER_DAY + _BOUNDARY_NS, unit="ns")
    return naive.tz_localize(TIMEZONE)


def half_day_index(close_times: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """Half-day index of UTC close times: ``2 * NY date + (NY time >= 18:00)``.

    ``close_times`` must be tz-aware. The result is an int64 array.
    """
    local = pd.DatetimeIndex(close_times).tz_convert(TIMEZONE).tz_localize(None).as_unit("ns")
    ns = local.asi8
    days = np.floor_divide(ns, _NS_PER_DAY)
    after = (ns - days * _NS_PER_DAY) >= _BOUNDARY_NS
    return 2 * days + after


@dataclass(frozen=True)
class WeekWindows:
    """Lookback windows of a run of weekly partitions.

    Attributes are arrays aligned with ``keys`` (week-start dates). Day numbers
    count days since 1970-01-01 in New York local dates.
    """

    keys: tuple[str, ...]
    lookback_days: int
    start_day: np.ndarray  # the partition key's date (Sunday)

    @classmethod
    def for_keys(cls, keys: Sequence[str], lookback_days: int) -> WeekWindows:
        if lookback_days <= 0:
            raise ValueError(f"lookback_days must be a positive whole number of days, got {lookback_days!r}")
        days = np.array([local_day_number(k) for k in keys], dtype=np.int64)
        not_sunday = [k for k, d in zip(keys, days) if (d + 3) % 7 != 6]
        if not_sunday:
            raise ValueError(f"partition keys must be Sundays (week starts), got {not_sunday!r}")
        if np.any(np.diff(days) <= 0):
            raise ValueError(f"partition keys must be sorted and unique, got {list(keys)!r}")
        return cls(tuple(keys), int(lookback_days), days)

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def end_day(self) -> np.ndarray:
        """Day number of each week's end (the next Sunday)."""
        return self.start_day + 7

    @property
    def window_start_day(self) -> np.ndarray:
        return self.end_day - self.lookback_days

    @property
    def n_dates(self) -> int:
        """Calendar dates a window touches: the partial first and last day included."""
        return self.lookback_days + 1

    @property
    def first_half_day(self) -> np.ndarray:
        """First half-day index inside each window (the evening of its first date)."""
        return 2 * self.window_start_day + 1

    @property
    def last_half_day(self) -> np.ndarray:
        """Last half-day index inside each window (before 18:00 on its end date)."""
        return 2 * self.end_day

    @property
    def ends(self) -> pd.DatetimeIndex:
        """Week ends: Sunday 18:00 New York, tz-aware. ``valid_from`` of the weights."""
        return at_boundary(self.end_day)

    @property
    def window_starts(self) -> pd.DatetimeIndex:
        return at_boundary(self.window_start_day)

    @property
    def valid_until(self) -> pd.DatetimeIndex:
        """One calendar week after each end: when the next week's weights take over."""
        return at_boundary(self.end_day + 7)

    def chunks(self, size: int) -> list[WeekWindows]:
        """Consecutive runs of at most ``size`` weeks, in order (itself if empty)."""
        if len(self) == 0:
            return [self]
        return [
            WeekWindows(self.keys[i : i + size], self.lookback_days, self.start_day[i : i + size])
            for i in range(0, len(self), size)
        ]

    def union_bounds(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """``[first window start, last week end)``: everything any window needs."""
        return self.window_starts.min(), self.ends.max()


def current_partition_key(now: pd.Timestamp, first_key: str) -> str | None:
    """The latest week-start key whose week has ended at or before ``now``.

    ``now`` must be tz-aware. Returns None before the first week has ended.
    """
    now_local = pd.Timestamp(now).tz_convert(TIMEZONE)
    day = local_day_number(now_local.tz_localize(None).normalize())
    if now_local.hour < WEEK_START_HOUR:
        day -= 1  # before 18:00 the day's boundary has not passed yet
    # The most recent Sunday at or before `day` is a week end; its week started 7 days earlier.
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday=0 .. Sunday=6
    last_end = day - ((weekday + 1) % 7)
    start = last_end - 7
    if start < local_day_number(first_key):
        return None
    return str(_EPOCH + np.timedelta64(start, "D"))


def previous_key(key: str) -> str:
    """The week-start key one week before ``key``."""
    return str(np.datetime64(key, "D") - np.timedelta64(7, "D"))


def latest_complete_week(now: pd.Timestamp | None = None, first_key: str = FIRST_WEEK) -> str:
    """The key of the latest week that has ended at or before ``now`` (default: the
    current time): the week a run scheduled now computes."""
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    key = current_partition_key(now, first_key)
    if key is None:
        raise ValueError(
            f"no week has ended by {now.isoformat()}: the first week, {first_key}, ends a week after it starts"
        )
    return key
