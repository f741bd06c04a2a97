"""RETURN_BASIS=deployed: returns on a hand-built ledger with overlapping and partially exited lots.

The items are built by the shared writer (as the trading system's
``to_dynamodb_item`` builds them) and parsed by the reader's own parser. Six
lots of strategy ``a`` around the week 2026-01-04 (Sunday 18:00 to Sunday
18:00, New York; times New York):

====  =========  =====================  ==================================================
lot   position   entered                exits
====  =========  =====================  ==================================================
A     10 @ 10    Dec 20 12:00           4 @ 11 Jan 6 12:00 (+4); 6 @ 12 Jan 8 12:00 (+12)
B     5 @ 40     Jan 6 10:00            2 @ 41 Jan 6 15:00 (+2); 1 @ 38 Jan 7 12:00 (-2);
                                        open, 2 left
C     2 @ 50     Dec 1 12:00            1 @ 50 Dec 15 12:00 (0), before the window; open, 1 left
D     1 @ 300    Jan 11 19:00           none: entered after the week's end
E     3 @ 100    Jan 4 10:00            3 @ 101 Jan 4 12:00 (+3): emptied before the week began
F     4 @ 25     Jan 4 20:00            4 @ 26 Jan 5 12:00 (+4)
====  =========  =====================  ==================================================

Deployed notional (entry price x quantity still held at the start, plus
entries during): Jan 4 from 18:00: A 100 + C 50 + F 100 = 250 (E is gone);
Jan 5: 250; Jan 6: A 100 + C 50, then B enters: 350; Jan 7: A 60 + B 120 +
C 50 = 230; Jan 8: A 60 + B 80 + C 50 = 190; Jan 9, 10 and Jan 11 until
18:00: B 80 + C 50 = 130 (D enters after the end).

Returns: Jan 5 4/250, Jan 6 (4 + 2)/350, Jan 7 -2/230, Jan 8 12/190. On the
lot basis the same exits give (4 + 4 + 2 - 2 + 12) / mean(100, 100, 200).
"""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from boto3.dynamodb.types import TypeSerializer

from weighting_pipeline.core.backtest import weekly_realised_returns
from weighting_pipeline.core.calendar import WeekWindows
from weighting_pipeline.core.chain import WeightingParams, check_rows, run_chain
from weighting_pipeline.core.deployed import deployed_grid, held_by_week, held_in
from weighting_pipeline.core.lots import ENTRY_SEQ, booked_rows, distinct_lots
from weighting_pipeline.core.returns import DailyReturns, daily_returns
from weighting_pipeline.resources.ledger_items import ParseReport, parse_items, to_frames
from weighting_pipeline_devtools.demo_ledger import synthetic_ledger
from weighting_pipeline_devtools.ledger_writer import Exit, lot_item

NY = ZoneInfo("America/New_York")
KEY = "2026-01-04"
NOW = pd.Timestamp("2026-02-01", tz="UTC")
LOTS = {  # lot -> (qty, entry price, entered, [(exit time, qty, price)])
    "A": ("10", "10", "2025-12-20 12:00", [("2026-01-06 12:00", "4", "11"), ("2026-01-08 12:00", "6", "12")]),
    "B": ("5", "40", "2026-01-06 10:00", [("2026-01-06 15:00", "2", "41"), ("2026-01-07 12:00", "1", "38")]),
    "C": ("2", "50", "2025-12-01 12:00", [("2025-12-15 12:00", "1", "50")]),
    "D": ("1", "300", "2026-01-11 19:00", []),
    "E": ("3", "100", "2026-01-04 10:00", [("2026-01-04 12:00", "3", "101")]),
    "F": ("4", "25", "2026-01-04 20:00", [("2026-01-05 12:00", "4", "26")]),
}
DEPLOYED = {
    "2026-01-04": 250.0,
    "2026-01-05": 250.0,
    "2026-01-06": 350.0,
    "2026-01-07": 230.0,
    "2026-01-08": 190.0,
    "2026-01-09": 130.0,
    "2026-01-10": 130.0,
    "2026-01-11": 130.0,
}
PNL = {"2026-01-05": 4.0, "2026-01-06": 6.0, "2026-01-07": -2.0, "2026-01-08": 12.0}


def ny(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NY).astimezone(ZoneInfo("UTC"))


def items() -> list[dict]:
    return [
        lot_item(
            lot_id=lot,
            strategy_name="a",
            symbol="SPY",
            entry_timestamp=ny(entered),
            entry_qty=Decimal(qty),
            entry_price=Decimal(price),
            exits=[
                Exit(ny(t), Decimal(q), Decimal(p), f"{lot}-x{i}", f"{lot}-o{i}") for i, (t, q, p) in enumerate(exits)
            ],
            entry_order_id=f"{lot}-entry",
            correlation_id=f"{lot}-corr",
        )
        for lot, (qty, price, entered, exits) in LOTS.items()
    ]


def positions_of(ledger_items: list[dict]) -> tuple[pd.DataFrame, ParseReport]:
    """The positions frame the reader makes of the items (CLOSED# and OPEN# parsed as it parses them)."""
    ser = TypeSerializer()
    wire = [{k: ser.serialize(v) for k, v in i.items()} for i in ledger_items]
    report, cols = ParseReport(), None
    cols = parse_items([w for w in wire if w["GSI5SK"]["S"].startswith("CLOSED#")], "a", "a", report, cols)
    cols = parse_items(
        [w for w in wire if w["GSI5SK"]["S"].startswith("OPEN#")], "a", "a", report, cols, open_lots=True
    )
    return to_frames(cols, report, NOW)[2], report


@pytest.fixture(scope="module")
def positions() -> pd.DataFrame:
    frame, report = positions_of(items())
    assert report.skipped_total == 0
    return frame


def test_each_lot_gives_one_entry_row_and_its_exits_with_their_quantities(positions):
    entries = positions[positions["exit_seq"] == ENTRY_SEQ]
    assert sorted(entries["lot_id"]) == list("ABCDEF")  # D, open and never sold from, too
    assert entries["exit_timestamp"].isna().all() and (entries["realized_pnl"] == 0).all()
    exits = positions[positions["exit_seq"] >= 0].set_index(["lot_id", "exit_seq"])
    assert exits.loc[("B", 0), "exit_qty"] == 2.0 and exits.loc[("B", 1), "exit_qty"] == 1.0
    assert exits.loc[("A", 1), "realized_pnl"] == 12.0


def test_the_week_holds_the_lots_held_in_its_window_with_their_earlier_exits(positions):
    weeks = WeekWindows.for_keys([KEY], 7)
    week = held_by_week(positions, weeks)
    assert set(week["lot_id"]) == set("ABCF")  # D entered after the end, E emptied before the start
    assert (week["partition_key"] == KEY).all()
    # C's exit of Dec 15 is before the window, but it is why only 1 of 2 is held.
    assert ("C", 0) in set(zip(week["lot_id"], week["exit_seq"]))
    start, end = weeks.union_bounds()
    assert held_in(positions, start, end).equals(distinct_lots(week))


def test_deployed_notional_per_date_is_the_hand_worked_one(positions):
    weeks = WeekWindows.for_keys([KEY], 7)
    notional = deployed_grid(positions, weeks, ["a"]).window(weeks)[0, 0]
    dates = pd.date_range("2026-01-04", "2026-01-11").strftime("%Y-%m-%d")
    assert dict(zip(dates, notional.tolist())) == DEPLOYED


# In a 90-day window Jan 4 is a whole date: A 100 + C 50 held, E 300 and F 100 entered; E books +3.
# C's exit of Dec 15 (0 P&L) is inside it too, against C's 100.
WHOLE_WINDOW = {"2025-12-15": (0.0, 100.0), "2026-01-04": (3.0, 550.0)}


@pytest.mark.parametrize("lookback", [7, 90])
def test_daily_returns_divide_each_dates_pnl_by_that_dates_deployed_notional(positions, lookback):
    weeks = WeekWindows.for_keys([KEY], lookback)
    rows = distinct_lots(held_by_week(positions, weeks))
    daily = daily_returns(rows, weeks, ["a"], deployed=deployed_grid(rows, weeks, ["a"]))
    frame = daily.to_frame()
    expected = {d: (PNL[d], DEPLOYED[d]) for d in PNL} | (WHOLE_WINDOW if lookback == 90 else {})
    dates = frame["date"].dt.strftime("%Y-%m-%d")
    assert dict(zip(dates, frame["daily_return"])) == {d: pnl / notional for d, (pnl, notional) in expected.items()}
    assert dict(zip(dates, frame["deployed_notional"])) == {d: notional for d, (_, notional) in expected.items()}
    # The stored frame reads back to the same returns, bit for bit.
    back = DailyReturns.from_frame(frame, weeks, ["a"], "exit", "deployed")
    booked = daily.bookings > 0
    assert np.array_equal(back.returns()[booked], daily.returns()[booked])
    assert (back.returns()[~booked] == 0).all()


def test_the_lot_basis_of_the_same_exits_is_per_average_lot(positions):
    weeks = WeekWindows.for_keys([KEY], 7)
    rows = booked_rows(distinct_lots(held_by_week(positions, weeks)))
    frame = daily_returns(rows, weeks, ["a"]).to_frame()
    assert frame["deployed_notional"].isna().all()
    assert frame["avg_position_value"].iloc[0] == pytest.approx(400 / 3)  # F, A and B booked in the week
    assert frame["daily_return"].sum() == pytest.approx(20 / (400 / 3))


def test_the_backtests_weekly_return_sums_the_weeks_daily_returns_on_deployed_notional(positions):
    rows = distinct_lots(held_by_week(positions, WeekWindows.for_keys([KEY], 90)))
    realised, booked = weekly_realised_returns(rows, [KEY], ["a", "b"], "deployed")
    assert realised.loc[KEY, "a"] == pytest.approx(4 / 250 + 6 / 350 - 2 / 230 + 12 / 190, rel=1e-15)
    assert booked.loc[KEY, "a"] and not booked.loc[KEY, "b"] and realised.loc[KEY, "b"] == 0.0
    lot, _ = weekly_realised_returns(booked_rows(rows), [KEY], ["a"])
    assert lot.loc[KEY, "a"] == pytest.approx(20 / (400 / 3))


def test_deployed_requires_pnl_date_exit_and_positions():
    with pytest.raises(ValueError, match="return_basis=deployed requires pnl_date=exit, got pnl_date=close"):
        WeightingParams(return_basis="deployed")
    with pytest.raises(ValueError, match="return_basis must be one of lot, deployed"):
        WeightingParams(pnl_date="exit", return_basis="capital")
    exits_only = booked_rows(positions_of(items())[0])
    with pytest.raises(ValueError, match="needs positions"):
        check_rows(exits_only, WeightingParams(pnl_date="exit", return_basis="deployed"))
    with pytest.raises(ValueError, match="return_basis=lot books from exit records"):
        check_rows(positions_of(items())[0], WeightingParams(pnl_date="exit"))


def test_a_range_gives_each_week_the_bits_it_gets_alone():
    ledger = synthetic_ledger(["s1", "s2", "s3"], "2025-06-01", "2025-12-01", lots_per_strategy_day=2.0, seed=11)
    baseline = pd.Series({"s1": 0.5, "s2": 0.3, "s3": 0.2})
    params = WeightingParams(pnl_date="exit", return_basis="deployed", lookback_days=60, min_lots=3, min_days=3)
    keys = [str(d.date()) for d in pd.date_range("2025-09-07", "2025-11-16", freq="7D")]
    everything = ledger.positions

    def rows_for(week_keys):
        weeks = WeekWindows.for_keys(week_keys, params.lookback_days)
        return distinct_lots(held_by_week(everything, weeks))

    together = run_chain(rows_for(keys), keys, baseline, params)["sharpe_ratios"]
    assert together["skip_reason"].eq("").sum() > len(keys)  # the test compares real ratios
    for key in (keys[0], keys[4], keys[-1]):
        alone = run_chain(rows_for([key]), [key], baseline, params)["sharpe_ratios"]
        mine = together[together["partition_key"] == key].reset_index(drop=True)
        pd.testing.assert_frame_equal(
            alone.assign(partition_key=alone["partition_key"].astype(str)),
            mine.assign(partition_key=mine["partition_key"].astype(str)),
            check_exact=True,
        )


def test_deployed_notional_matches_a_loop_over_lots_on_a_synthetic_ledger():
    ledger = synthetic_ledger(["s1", "s2"], "2025-03-01", "2025-06-01", lots_per_strategy_day=1.5, seed=5)
    positions = ledger.positions
    weeks = WeekWindows.for_keys(["2025-05-04"], 30)
    got = deployed_grid(positions, weeks, ["s1", "s2"]).window(weeks)[0]
    local = lambda t: t.tz_convert(NY)  # noqa: E731
    first_day = pd.Timestamp("2025-04-11")  # window: Apr 11 18:00 .. May 11 18:00 New York
    expected = np.zeros_like(got)
    for lot in positions[positions["exit_seq"] == ENTRY_SEQ].itertuples():
        exits = positions[(positions["lot_id"] == lot.lot_id) & (positions["exit_seq"] >= 0)]
        for j in range(weeks.n_dates):
            day = (first_day + pd.Timedelta(days=j)).tz_localize(NY)
            # The first date counts from 18:00, the last until 18:00, others from midnight to midnight.
            since = day + pd.Timedelta(hours=18) if j == 0 else day
            until = day + pd.Timedelta(hours=18) if j == weeks.n_dates - 1 else day + pd.Timedelta(days=1)
            entered = local(lot.entry_timestamp)
            if entered >= until:
                continue
            if entered >= since:
                held = lot.entry_qty
            else:
                held = lot.entry_qty - exits.loc[exits["exit_timestamp"].map(local) < since, "exit_qty"].sum()
            if held > 1e-9 * lot.entry_qty:
                expected[["s1", "s2"].index(lot.strategy), j] += lot.entry_price * held
    assert (expected > 0).sum() > 40  # the window is busy
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-9)


def test_each_weeks_positions_in_a_range_are_what_its_window_alone_holds():
    positions = synthetic_ledger(["s1", "s2"], "2025-03-01", "2025-09-01", lots_per_strategy_day=1.0, seed=8).positions
    keys = [str(d.date()) for d in pd.date_range("2025-05-04", "2025-08-03", freq="7D")]
    weeks = WeekWindows.for_keys(keys, 30)
    by_week = held_by_week(positions, weeks)
    for i, key in enumerate(keys):
        mine = by_week[by_week["partition_key"] == key].drop(columns="partition_key").reset_index(drop=True)
        alone = held_in(positions, weeks.window_starts[i], weeks.ends[i])
        assert len(alone) > 20 and (alone["exit_seq"] == ENTRY_SEQ).any()
        pd.testing.assert_frame_equal(mine, alone)
