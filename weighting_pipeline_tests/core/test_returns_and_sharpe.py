import math
import statistics

import numpy as np
import pandas as pd
import pytest

from weighting_pipeline.core.calendar import WeekWindows
from weighting_pipeline.core.lots import LOT_COLUMNS, lots_by_week
from weighting_pipeline.core.returns import DailyReturns, daily_returns
from weighting_pipeline.core.sharpe import SharpeParams, sharpe_ratios
from weighting_pipeline_tests.conftest import ts

KEY = "2026-03-08"  # window [2025-12-15 18:00 EST, 2026-03-15 18:00 EDT)


def lots(rows):
    """rows: (strategy, close NY wall time, qty, price, pnl)."""
    frame = pd.DataFrame(
        [
            {
                "lot_id": f"L{i}",
                "strategy": s,
                "symbol": "SPY",
                "entry_timestamp": ts("2025-01-01 10:00"),
                "fully_closed_at": ts(c),
                "entry_qty": q,
                "entry_price": p,
                "realized_pnl": pnl,
            }
            for i, (s, c, q, p, pnl) in enumerate(rows)
        ]
    )
    return frame.astype(LOT_COLUMNS)


def test_window_edges_and_new_york_dates():
    frame = lots(
        [
            ("a", "2025-12-15 17:59", 1, 100, 50.0),  # before the window
            ("a", "2025-12-15 18:00", 1, 100, 1.0),  # first instant inside
            ("a", "2026-01-10 23:30", 1, 100, 2.0),  # 04:30 UTC next day: still Jan 10 in New York
            ("a", "2026-01-10 08:00", 1, 100, 3.0),  # same New York date: summed
            ("a", "2026-03-15 17:59", 1, 100, 4.0),  # last minute inside
            ("a", "2026-03-15 18:00", 1, 100, 99.0),  # the week end itself: excluded, no look-ahead
        ]
    )
    out = daily_returns(frame, WeekWindows.for_keys([KEY], 90), ["a"]).to_frame()
    assert list(out["date"].dt.strftime("%Y-%m-%d")) == ["2025-12-15", "2026-01-10", "2026-03-15"]
    assert list(out["realized_pnl"]) == [1.0, 5.0, 4.0]
    assert list(out["bookings"]) == [1, 2, 1] and set(out["window_lots"]) == {4}
    np.testing.assert_allclose(out["daily_return"], [0.01, 0.05, 0.04])


def test_average_position_is_mean_entry_value_of_window_lots():
    frame = lots([("a", "2026-01-05 12:00", 2, 50, 10.0), ("a", "2026-01-06 12:00", 1, 300, -6.0)])
    out = daily_returns(frame, WeekWindows.for_keys([KEY], 90), ["a"]).to_frame()
    assert out["avg_position_value"].iloc[0] == 200.0  # mean(100, 300)
    np.testing.assert_allclose(out["daily_return"], [0.05, -0.03])


def _sharpe_of(pnls, avg=100.0, rf=0.045):
    r = [p / avg for p in pnls]
    return (statistics.fmean(r) * 252 - rf) / (statistics.stdev(r) * math.sqrt(252))


def test_sharpe_formula_equals_empyrical_convention():
    pnls = [1.0, -0.5, 2.0, 0.3, 0.8, -1.2]
    frame = lots([("a", f"2026-02-0{i + 1} 12:00", 1, 100, p) for i, p in enumerate(pnls)])
    weeks = WeekWindows.for_keys([KEY], 90)
    out = sharpe_ratios(daily_returns(frame, weeks, ["a"]))
    # empyrical: mean(r - rf/252) / std(r, ddof=1) * sqrt(252)
    r = np.array(pnls) / 100
    empyrical = np.mean(r - 0.045 / 252) / np.std(r, ddof=1) * np.sqrt(252)
    assert out["sharpe"].iloc[0] == pytest.approx(empyrical, rel=1e-12)
    assert out["sharpe"].iloc[0] == pytest.approx(_sharpe_of(pnls), rel=1e-12)
    assert out["skip_reason"].iloc[0] == ""


@pytest.mark.parametrize(
    "rows, reason",
    [
        ([], "no closed lots in window"),
        ([("a", f"2026-02-0{i} 12:00", 1, 100, i) for i in range(1, 5)], "fewer than 5 lots: 4"),
        (
            [("a", "2026-02-01 12:00", 1, 100, i) for i in range(3)] + [("a", "2026-02-02 12:00", 1, 100, 1)] * 3,
            "fewer than 5 close dates: 2",
        ),
        ([("a", f"2026-02-0{i} 12:00", 1, 100, 1.5) for i in range(1, 7)], "zero volatility"),
    ],
)
def test_skip_rules(rows, reason):
    frame = lots(rows) if rows else lots([("b", "2026-02-01 12:00", 1, 1, 1.0)])
    weeks = WeekWindows.for_keys([KEY], 90)
    out = sharpe_ratios(daily_returns(frame, weeks, ["a"]))
    assert out["skip_reason"].iloc[0] == reason
    assert math.isnan(out["sharpe"].iloc[0])


def test_min_counts_are_configurable():
    rows = [("a", f"2026-02-0{i} 12:00", 1, 100, i * (-1) ** i) for i in range(1, 4)]
    weeks = WeekWindows.for_keys([KEY], 90)
    out = sharpe_ratios(daily_returns(lots(rows), weeks, ["a"]), SharpeParams(min_lots=3, min_days=3))
    assert out["skip_reason"].iloc[0] == "" and np.isfinite(out["sharpe"].iloc[0])


def test_lots_by_week_repeats_a_lot_in_every_window_that_holds_it():
    keys = ["2026-02-22", "2026-03-01", "2026-03-08"]
    weeks = WeekWindows.for_keys(keys, 90)
    frame = lots([("a", "2026-03-05 12:00", 1, 1, 1.0), ("a", "2025-12-05 12:00", 1, 1, 1.0)])
    out = lots_by_week(frame, weeks)
    # Mar 5 is after the end of week 2026-02-22 (Mar 1 18:00), so only the last two hold it;
    # Dec 5 is inside only the first window (starts Dec 1 18:00; the next starts Dec 8).
    assert sorted(zip(out["partition_key"].astype(str), out["lot_id"])) == [
        ("2026-02-22", "L1"),
        ("2026-03-01", "L0"),
        ("2026-03-08", "L0"),
    ]


def test_stored_frame_round_trips_exactly():
    rows = [
        ("a", f"2026-02-{d:02d} {h}:00", 1 + d, 10.0 + h, (-1) ** d * d * 0.37) for d in range(1, 20) for h in (9, 19)
    ]
    weeks = WeekWindows.for_keys(["2026-02-22", "2026-03-01", KEY], 90)
    daily = daily_returns(lots(rows), weeks, ["a", "b"])
    back = DailyReturns.from_frame(daily.to_frame(), weeks, ["a", "b"])
    assert np.array_equal(back.pnl, daily.pnl) and np.array_equal(back.bookings, daily.bookings)
    assert np.array_equal(back.window_lots, daily.window_lots)
    assert np.array_equal(back.avg_position_value, daily.avg_position_value, equal_nan=True)
    pd.testing.assert_frame_equal(sharpe_ratios(back), sharpe_ratios(daily))
