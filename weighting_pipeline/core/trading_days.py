"""NYSE trading days inside each lookback window, for ``missing_days = "zero"``.

A window ``[E - lookback, E)`` runs from 18:00 New York on its first date to
18:00 on its last, so a session (which closes at 16:00, or 13:00 on early
closes) belongs to the window when its date is one of the window's dates
``1 .. lookback``: the first date's session closed before the window opened.
Sessions come from ``exchange_calendars``' XNYS calendar (holidays, early
closes and one-off closures such as 2025-01-09 included).
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np

from weighting_pipeline.core.calendar import WeekWindows, local_day_number

_EPOCH = np.datetime64("1970-01-01", "D")
CALENDAR = "XNYS"


@lru_cache(maxsize=16)
def _sessions(first_year: int, last_year: int) -> np.ndarray:
    """Session flags for every day of the years ``first_year .. last_year``."""
    # Imported here: the calendar package takes about a second to import, and only
    # the "zero" setting needs it.
    import exchange_calendars

    start, end = f"{first_year}-01-01", f"{last_year}-12-31"
    with warnings.catch_warnings():
        # exchange_calendars 4.13 reads tz-aware Series.values, which pandas 3.1 deprecates; not ours to fix.
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray that drops timezone")
        calendar = exchange_calendars.get_calendar(CALENDAR, start=start, end=end)
    first = local_day_number(start)
    mask = np.zeros(local_day_number(end) - first + 1, dtype=bool)
    mask[(calendar.sessions.to_numpy().astype("datetime64[D]") - _EPOCH).astype(np.int64) - first] = True
    mask.flags.writeable = False
    return mask


def _year(day: int) -> int:
    return int(str(_EPOCH + np.timedelta64(day, "D"))[:4])


def session_mask(first_day: int, last_day: int) -> np.ndarray:
    """Whether each New York day number in ``[first_day, last_day]`` is an XNYS session."""
    # Whole years, so neighbouring ranges (the chunks of a backfill) share one calendar.
    first_year = _year(first_day)
    offset = first_day - local_day_number(f"{first_year}-01-01")
    return _sessions(first_year, _year(last_day))[offset : offset + last_day - first_day + 1]


def window_trading_days(weeks: WeekWindows) -> np.ndarray:
    """(weeks, lookback + 1) booleans: date ``j`` of each window is a trading day
    whose session lies inside the window (never ``j = 0``, see the module docstring)."""
    if len(weeks) == 0:
        return np.zeros((0, weeks.n_dates), dtype=bool)
    day = weeks.window_start_day[:, None] + np.arange(weeks.n_dates)
    lo = int(day.min())
    out = session_mask(lo, int(day.max()))[day - lo]
    out[:, 0] = False
    return out
