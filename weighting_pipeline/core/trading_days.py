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

from weighting_pipeline.core.calendar import WeekWindows

_EPOCH = np.datetime64("1970-01-01", "D")
CALENDAR = "XNYS"


@lru_cache(maxsize=16)
def _sessions(first_day: int, last_day: int) -> np.ndarray:
    # Imported here: the calendar package takes about a second to import, and only
    # the "zero" setting needs it.
    import exchange_calendars

    start, end = (str(_EPOCH + np.timedelta64(d, "D")) for d in (first_day, last_day))
    with warnings.catch_warnings():
        # exchange_calendars 4.13 reads tz-aware Series.values, which pandas 3.1 deprecates; not ours to fix.
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray that drops timezone")
        calendar = exchange_calendars.get_calendar(CALENDAR, start=start, end=end)
    days = (calendar.sessions.to_numpy().astype("datetime64[D]") - _EPOCH).astype(np.int64)
    mask = np.zeros(last_day - first_day + 1, dtype=bool)
    mask[days - first_day] = True
    mask.flags.writeable = False
    return mask


def session_mask(first_day: int, last_day: int) -> np.ndarray:
    """Whether each New York day number in ``[first_day, last_day]`` is an XNYS session."""
    # Whole years, so neighbouring ranges (the chunks of a backfill) share one calendar.
    lo = int((np.datetime64(_EPOCH + np.timedelta64(first_day, "D"), "Y") - np.datetime64("1970", "Y")).astype(int))
    hi = int((np.datetime64(_EPOCH + np.timedelta64(last_day, "D"), "Y") - np.datetime64("1970", "Y")).astype(int))
    year_start = int((np.datetime64(f"{1970 + lo}-01-01") - _EPOCH).astype(np.int64))
    year_end = int((np.datetime64(f"{1970 + hi}-12-31") - _EPOCH).astype(np.int64))
    return _sessions(year_start, year_end)[first_day - year_start : last_day - year_start + 1]


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
