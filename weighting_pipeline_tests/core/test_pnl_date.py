"""PNL_DATE: a hand-built ledger on which booking at the close and booking at each exit differ.

The items are built by the shared writer (as the trading system's
``to_dynamodb_item`` builds them) and parsed by the reader's own parser, so
the rules are checked on the real format. Four lots of strategy ``a``:

======  ========  ==============================================  =========================
lot     position  exits (New York, 12:00)                         state at the week's end
======  ========  ==============================================  =========================
L1      10 @ 10   4 @ 11 on Jan 5 (+4), 6 @ 11 on Jan 7 (+6)      closed Jan 7 (+10)
L2      5 @ 40    1 @ 37 on Jan 6 (-3)                            open (4 left)
L3      1 @ 500   0.5 @ 504 on Jan 8 (+2), 0.5 @ 518 on Mar 20    closed after the week end
L4      4 @ 100   1 @ 101 on 2025-12-10 (+1), 3 @ 102 on Jan 9    closed Jan 9 (+7); the first
                  (+6)                                            exit is before the window
======  ========  ==============================================  =========================

The week is 2026-03-08 (window 2025-12-15 18:00 to 2026-03-15 18:00 New York).
``close``: L1 and L4 close inside; A = (100 + 400) / 2 = 250; returns 10/250
on Jan 7 and 7/250 on Jan 9. ``exit``: five exits inside, of four distinct
lots; A = (100 + 200 + 500 + 400) / 4 = 300; returns 4, -3, 6, 2 and 6 over
300 on Jan 5..9. Left out by ``close``: L2 and L3, 2 lots, -3 + 2 = -1.
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
from weighting_pipeline.core.chain import WeightingParams, run_chain
from weighting_pipeline.core.lots import lots_by_week, open_lot_exits
from weighting_pipeline.core.returns import daily_returns
from weighting_pipeline.resources.ledger_items import ParseReport, parse_items, to_frame
from weighting_pipeline_devtools.demo_ledger import synthetic_ledger
from weighting_pipeline_devtools.ledger_writer import Exit, lot_item

NY = ZoneInfo("America/New_York")
KEY = "2026-03-08"
NOW = pd.Timestamp("2026-04-01", tz="UTC")
LOTS = {  # lot -> (qty, entry price, [(exit date, qty, price)])
    "L1": ("10", "10", [("2026-01-05", "4", "11"), ("2026-01-07", "6", "11")]),
    "L2": ("5", "40", [("2026-01-06", "1", "37")]),
    "L3": ("1", "500", [("2026-01-08", "0.5", "504"), ("2026-03-20", "0.5", "518")]),
    "L4": ("4", "100", [("2025-12-10", "1", "101"), ("2026-01-09", "3", "102")]),
}


def noon(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=NY).astimezone(ZoneInfo("UTC"))


def items() -> list[dict]:
    out = []
    for lot, (qty, price, exits) in LOTS.items():
        out.append(
            lot_item(
                lot_id=lot,
                strategy_name="a",
                symbol="TQQQ",
                entry_timestamp=noon("2025-12-01"),
                entry_qty=Decimal(qty),
                entry_price=Decimal(price),
                exits=[
                    Exit(noon(d), Decimal(q), Decimal(p), f"{lot}-x{i}", f"{lot}-o{i}")
                    for i, (d, q, p) in enumerate(exits)
                ],
                entry_order_id=f"{lot}-entry",
                correlation_id=f"{lot}-corr",
            )
        )
    return out


def read(ledger_items: list[dict], now: pd.Timestamp = NOW) -> tuple[pd.DataFrame, pd.DataFrame, ParseReport]:
    """What the reader makes of the items: CLOSED# and OPEN# partitions parsed as it parses them."""
    ser = TypeSerializer()
    wire = [{k: ser.serialize(v) for k, v in i.items()} for i in ledger_items]
    report, cols = ParseReport(), None
    cols = parse_items([w for w in wire if w["GSI5SK"]["S"].startswith("CLOSED#")], "a", "a", report, cols)
    cols = parse_items(
        [w for w in wire if w["GSI5SK"]["S"].startswith("OPEN#")], "a", "a", report, cols, open_lots=True
    )
    lots, exits = to_frame(cols, report, now)
    return lots, exits, report


@pytest.fixture(scope="module")
def ledger():
    lots, exits, report = read(items())
    assert report.skipped_total == 0 and report.items == 4
    return lots, exits


def test_the_writer_leaves_l2_open_and_closes_l3_after_the_week():
    by_lot = {i["lot_id"]: i for i in items()}
    assert (
        by_lot["L2"]["is_open"] and by_lot["L2"]["GSI5SK"].startswith("OPEN#") and by_lot["L2"]["remaining_qty"] == "4"
    )
    assert by_lot["L3"]["fully_closed_at"].startswith("2026-03-20")


def test_close_books_each_lot_on_its_close_date_over_the_closed_lots_positions(ledger):
    lots, _ = ledger
    out = daily_returns(lots, WeekWindows.for_keys([KEY], 90), ["a"]).to_frame()
    assert out["date"].dt.strftime("%m-%d").tolist() == ["01-07", "01-09"]
    assert out["realized_pnl"].tolist() == [10.0, 7.0]
    assert set(out["avg_position_value"]) == {250.0} and set(out["window_lots"]) == {2}
    np.testing.assert_allclose(out["daily_return"], [10 / 250, 7 / 250], rtol=1e-15)


def test_exit_books_each_exit_on_its_date_over_every_lot_that_exited_in_the_window(ledger):
    _, exits = ledger
    out = daily_returns(exits, WeekWindows.for_keys([KEY], 90), ["a"]).to_frame()
    assert out["date"].dt.strftime("%m-%d").tolist() == ["01-05", "01-06", "01-07", "01-08", "01-09"]
    assert out["realized_pnl"].tolist() == [4.0, -3.0, 6.0, 2.0, 6.0]
    assert out["bookings"].tolist() == [1, 1, 1, 1, 1]
    assert set(out["avg_position_value"]) == {300.0} and set(out["window_lots"]) == {
        4
    }  # L1 once, though it exited twice
    np.testing.assert_allclose(out["daily_return"], np.array([4, -3, 6, 2, 6]) / 300, rtol=1e-15)


def test_what_close_leaves_out_is_the_lots_open_at_the_week_end(ledger):
    _, exits = ledger
    weeks = WeekWindows.for_keys([KEY], 90)
    count, pnl = open_lot_exits(lots_by_week(exits, weeks), weeks, ["a"])
    assert count.loc[KEY, "a"] == 2 and pnl.loc[KEY, "a"] == -1.0  # L2 (open) and L3 (closed on Mar 20)
    later = WeekWindows.for_keys(["2026-03-22"], 90)  # ends Mar 29: L3 has closed by then
    count, pnl = open_lot_exits(lots_by_week(exits, later), later, ["a"])
    assert count.loc["2026-03-22", "a"] == 1 and pnl.loc["2026-03-22", "a"] == -3.0


def test_the_backtest_scores_a_week_by_the_same_rule(ledger):
    lots, exits = ledger
    week = ["2026-01-04"]  # Jan 4 18:00 to Jan 11 18:00: every in-window exit but L3's last
    r_close, booked_close = weekly_realised_returns(lots, week, ["a"])
    r_exit, booked_exit = weekly_realised_returns(exits, week, ["a"])
    assert r_close.loc[week[0], "a"] == pytest.approx(17 / 250, rel=1e-15)
    assert r_exit.loc[week[0], "a"] == pytest.approx(15 / 300, rel=1e-15)
    assert booked_close.loc[week[0], "a"] and booked_exit.loc[week[0], "a"]


def test_a_week_is_the_same_alone_and_inside_a_range_under_exit():
    ledger = synthetic_ledger(["a.clj", "b.clj", "c.clj"], "2025-06-01", "2026-03-01", 2.0, seed=3)
    exits = ledger.exit_records
    keys = [str(d.date()) for d in pd.date_range("2025-11-02", periods=12, freq="7D")]
    baseline = pd.Series({"a.clj": 0.5, "b.clj": 0.3, "c.clj": 0.2})
    params = WeightingParams(pnl_date="exit")
    ranged = run_chain(exits, keys, baseline, params)["sharpe_ratios"].set_index(["partition_key", "strategy"])
    for key in (keys[0], keys[5], keys[-1]):
        start, end = WeekWindows.for_keys([key], 90).union_bounds()
        window = exits[(exits["exit_timestamp"] >= start) & (exits["exit_timestamp"] < end)]
        alone = run_chain(window, [key], baseline, params)["sharpe_ratios"].set_index(["partition_key", "strategy"])
        pd.testing.assert_frame_equal(
            ranged.loc[[key]].reset_index(drop=True), alone.reset_index(drop=True), check_exact=True
        )
    assert ranged["skip_reason"].eq("").any()


def test_the_synthetic_ledgers_exit_records_are_what_parsing_its_items_gives():
    ledger = synthetic_ledger(["a"], "2025-06-01", "2025-09-01", 3.0, seed=8)
    _, exits, report = read(list(ledger.items()), now=pd.Timestamp("2030-01-01", tz="UTC"))
    assert report.skipped_total == 0 and exits["fully_closed_at"].isna().any()
    expected = ledger.exit_records
    expected["strategy"] = expected["strategy"].astype(str).astype(exits["strategy"].dtype)
    order = ["exit_timestamp", "lot_id", "exit_seq"]
    pd.testing.assert_frame_equal(
        exits.sort_values(order, ignore_index=True), expected.sort_values(order, ignore_index=True), check_exact=True
    )


def test_a_rule_given_the_other_rules_rows_fails_naming_both(ledger):
    lots, exits = ledger
    with pytest.raises(ValueError, match="pnl_date=exit books P&L from exit records, got closed lots"):
        run_chain(lots, [KEY], pd.Series({"a": 1.0}), WeightingParams(pnl_date="exit"))
    with pytest.raises(ValueError, match="pnl_date must be one of close, exit, got 'fill'"):
        WeightingParams(pnl_date="fill")
