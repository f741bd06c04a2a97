import pandas as pd
import pytest

from weighting_pipeline.core.calendar import TIMEZONE, WeekWindows, current_partition_key, half_day_index, previous_key


def ny(text):
    return pd.Timestamp(text, tz=TIMEZONE)


@pytest.mark.parametrize(
    "key, hours",
    [("2026-03-01", 167), ("2026-03-08", 168), ("2026-10-25", 169), ("2026-11-01", 168)],
)
def test_weeks_are_dst_correct(key, hours):
    w = WeekWindows.for_keys([key], 90)
    start = ny(f"{key} 18:00")
    assert (w.ends[0] - start) == pd.Timedelta(hours=hours)
    assert w.ends[0].hour == 18 and w.ends[0].day_of_week == 6


def test_window_is_90_calendar_days_at_1800_new_york():
    w = WeekWindows.for_keys(["2026-03-08"], 90)  # ends 2026-03-15 18:00 EDT
    assert w.window_starts[0] == ny("2025-12-15 18:00")  # EST at the start: wall clock, not 90*24h
    assert w.valid_until[0] == ny("2026-03-22 18:00")


@pytest.mark.parametrize(
    "now, expected",
    [
        ("2026-03-08 17:59", "2026-02-22"),
        ("2026-03-08 18:00", "2026-03-01"),  # the 167 h week has just ended
        ("2026-11-01 18:00", "2026-10-25"),  # the 169 h week has just ended
        ("2026-11-04 09:00", "2026-10-25"),
        ("2020-01-12 18:00", "2020-01-05"),
        ("2020-01-12 17:00", None),
    ],
)
def test_current_partition_key(now, expected):
    assert current_partition_key(ny(now), "2020-01-05") == expected


def test_half_day_index_splits_at_1800_local():
    idx = half_day_index(pd.DatetimeIndex([ny("2026-03-08 17:59:59"), ny("2026-03-08 18:00")]).tz_convert("UTC"))
    assert idx[1] == idx[0] + 1 and idx[0] % 2 == 0


def test_keys_must_be_sundays_in_order():
    with pytest.raises(ValueError, match="Sundays"):
        WeekWindows.for_keys(["2026-03-02"], 90)
    with pytest.raises(ValueError, match="sorted"):
        WeekWindows.for_keys(["2026-03-08", "2026-03-01"], 90)
    with pytest.raises(ValueError, match="lookback_days"):
        WeekWindows.for_keys(["2026-03-08"], 0)


def test_previous_key():
    assert previous_key("2026-03-08") == "2026-03-01"
