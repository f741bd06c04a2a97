"""RETURN_BASIS=market: returns marked to market from trading's daily bars (core.market)."""

import numpy as np
import pandas as pd
import pytest

from weighting_pipeline.core.calendar import WeekWindows
from weighting_pipeline.core.lots import ENTRY_SEQ, EXIT_COLUMNS
from weighting_pipeline.core.market import Bars, MarketDataError, bars_days, bars_key, bars_symbol, market_returns
from weighting_pipeline.core.sharpe import SharpeParams, sharpe_ratios
from weighting_pipeline.core.trading_days import session_mask
from weighting_pipeline_devtools.holding_ledger import holding_ledger, market_bars

NY = "America/New_York"
WEEK = "2024-06-02"  # window 2024-03-11 18:00 .. 2024-06-09 18:00 New York (90 days)


def _sessions(first: str, last: str) -> pd.DatetimeIndex:
    lo = (np.datetime64(first) - np.datetime64("1970-01-01")).astype(int)
    hi = (np.datetime64(last) - np.datetime64("1970-01-01")).astype(int)
    return pd.DatetimeIndex(
        np.datetime64("1970-01-01") + (lo + np.flatnonzero(session_mask(lo, hi))).astype("timedelta64[D]")
    )


SESSIONS = _sessions("2024-01-02", "2024-06-28")
CLOSES = 100 * np.exp(np.cumsum(np.random.default_rng(5).normal(0, 0.02, len(SESSIONS))))


def _rows(lots, exits=()):
    """A positions frame: lots (id, strategy, symbol, entered NY, qty, price), exits (id, NY time, qty, price)."""
    info = {lot[0]: lot for lot in lots}
    rows = [
        {
            "lot_id": i,
            "strategy": s,
            "symbol": sym,
            "entry_timestamp": pd.Timestamp(t, tz=NY).tz_convert("UTC"),
            "fully_closed_at": pd.NaT,
            "exit_timestamp": pd.Timestamp("NaT", tz="UTC"),
            "exit_seq": ENTRY_SEQ,
            "entry_qty": q,
            "entry_price": p,
            "exit_qty": 0.0,
            "realized_pnl": 0.0,
        }
        for i, s, sym, t, q, p in lots
    ]
    for n, (i, t, q, p) in enumerate(exits):
        _, s, sym, entered, q0, p0 = info[i]
        rows.append(
            {
                "lot_id": i,
                "strategy": s,
                "symbol": sym,
                "entry_timestamp": pd.Timestamp(entered, tz=NY).tz_convert("UTC"),
                "fully_closed_at": pd.NaT,
                "exit_timestamp": pd.Timestamp(t, tz=NY).tz_convert("UTC"),
                "exit_seq": n,
                "entry_qty": q0,
                "entry_price": p0,
                "exit_qty": q,
                "realized_pnl": (p - p0) * q,
            }
        )
    frame = pd.DataFrame(rows)
    frame["fully_closed_at"] = pd.to_datetime(frame["fully_closed_at"], utc=True)
    frame["exit_timestamp"] = pd.to_datetime(frame["exit_timestamp"], utc=True)
    return frame.astype(EXIT_COLUMNS)


def _bars(weeks, frames):
    lo, hi = bars_days(weeks)
    return Bars.from_frames(frames, lo, hi)


def _close(day: str) -> float:
    return float(CLOSES[SESSIONS.get_loc(pd.Timestamp(day))])


def test_ledger_symbols_map_to_trading_bar_keys():
    assert bars_symbol("EQUITIES::XLE//USD") == "XLE" and bars_symbol("spy") == "SPY"
    assert bars_key("BRK/B") == "BRK_B/daily.parquet" and bars_key("EQUITIES::TQQQ//USD") == "TQQQ/daily.parquet"


def test_a_position_held_through_the_window_has_its_symbols_close_to_close_sharpe():
    weeks = WeekWindows.for_keys([WEEK], 90)
    rows = _rows([("L1", "a.clj", "SPY", "2024-01-10 11:00", 7.0, 95.0)])
    daily = market_returns(rows, weeks, ["a.clj"], _bars(weeks, {"SPY": market_bars(SESSIONS, CLOSES)}))
    got = sharpe_ratios(daily, SharpeParams(min_lots=2, min_days=5))
    # Close-to-close returns of the sessions on the window's dates 1..90 (2024-03-12 .. 2024-06-09).
    c = pd.Series(CLOSES, index=SESSIONS)
    r = (c / c.shift(1) - 1).loc["2024-03-12":"2024-06-09"]
    expected = (r.mean() * 252 - 0.045) / (r.std(ddof=1) * np.sqrt(252))
    assert got.loc[0, "observations"] == len(r)
    assert got.loc[0, "skip_reason"] == "fewer than 2 lots: 1"  # one lot: the rule, not the number, skips it
    raw = daily.returns()[0, 0][daily.bookings[0, 0] > 0]
    np.testing.assert_allclose(raw, r.to_numpy(), rtol=1e-12)
    got_sharpe = (raw.mean() * 252 - 0.045) / (raw.std(ddof=1) * np.sqrt(252))
    assert got_sharpe == pytest.approx(expected, abs=1e-6)
    two = _rows(
        [("L1", "a.clj", "SPY", "2024-01-10 11:00", 7.0, 95.0), ("L2", "a.clj", "SPY", "2024-01-11 11:00", 3.0, 97.0)]
    )
    both = sharpe_ratios(
        market_returns(two, weeks, ["a.clj"], _bars(weeks, {"SPY": market_bars(SESSIONS, CLOSES)})),
        SharpeParams(min_lots=2),
    )
    assert both.loc[0, "skip_reason"] == "" and both.loc[0, "sharpe"] == pytest.approx(expected, abs=1e-6)


def test_entry_exit_and_value_at_work_by_hand():
    weeks = WeekWindows.for_keys([WEEK], 90)
    # Entered 2024-04-01 at 10:00 for 50.0 (10 shares); 4 sold 2024-04-03 at 60.0; the rest sold
    # after the window's end (2024-06-12): that exit changes nothing in the window.
    rows = _rows(
        [("L1", "a.clj", "EQUITIES::SPY//USD", "2024-04-01 10:00", 10.0, 50.0)],
        [("L1", "2024-04-03 12:00", 4.0, 60.0), ("L1", "2024-06-12 12:00", 6.0, 70.0)],
    )
    closes = np.full(len(SESSIONS), 55.0)
    closes[SESSIONS.get_loc(pd.Timestamp("2024-04-02"))] = 57.0
    closes[SESSIONS.get_loc(pd.Timestamp("2024-04-03"))] = 58.0
    daily = market_returns(rows, weeks, ["a.clj"], _bars(weeks, {"SPY": market_bars(SESSIONS, closes)}))

    def date(day):
        return (np.datetime64(day) - np.datetime64("2024-03-11")).astype(int)  # window dates from 2024-03-11

    pnl, value = daily.pnl[0, 0], daily.deployed[0, 0]
    assert (pnl[date("2024-04-01")], value[date("2024-04-01")]) == pytest.approx((10 * (55 - 50), 10 * 50))
    assert (pnl[date("2024-04-02")], value[date("2024-04-02")]) == pytest.approx((10 * (57 - 55), 10 * 55))
    # Held 10 entering 04-03: 10 * (58 - 57) for the day, and the 4 sold at 60 earn 60 - 58 more.
    assert (pnl[date("2024-04-03")], value[date("2024-04-03")]) == pytest.approx((10 * 1 + 4 * (60 - 58), 10 * 57))
    assert (pnl[date("2024-04-04")], value[date("2024-04-04")]) == pytest.approx((6 * (55 - 58), 6 * 58))
    assert value[date("2024-06-07")] == pytest.approx(6 * 55)  # still held at the window's last session
    assert daily.bookings[0, 0, : date("2024-04-01")].sum() == 0  # nothing at work before the entry


def test_a_split_inside_a_held_period_is_reconciled():
    weeks = WeekWindows.for_keys([WEEK], 90)
    split = SESSIONS.get_loc(pd.Timestamp("2024-04-15"))
    raw = CLOSES.copy()
    raw[split:] = raw[split:] / 2  # a 2:1 split at the open of 2024-04-15
    adjusted = raw.copy()
    adjusted[:split] = adjusted[:split] / 2  # history rewritten, as trading's bars are
    entry_day, exit_day = "2024-04-01", "2024-05-01"
    p_in = float(raw[SESSIONS.get_loc(pd.Timestamp(entry_day))]) * 1.01  # fills at raw prices
    p_out = float(raw[SESSIONS.get_loc(pd.Timestamp(exit_day))]) * 0.99
    # The ledger keeps the lot's own units (10 pre-split shares), as trading's StrategyLot does.
    rows = _rows([("L1", "a.clj", "SPY", f"{entry_day} 10:00", 10.0, p_in)], [("L1", f"{exit_day} 12:00", 10.0, p_out)])
    daily = market_returns(rows, weeks, ["a.clj"], _bars(weeks, {"SPY": market_bars(SESSIONS, adjusted)}))
    r = daily.returns()[0, 0][daily.bookings[0, 0] > 0]
    held = SESSIONS[(SESSIONS >= entry_day) & (SESSIONS <= exit_day)]
    c = pd.Series(adjusted, index=SESSIONS)
    expected = np.array((c / c.shift(1) - 1).loc[held])
    expected[0] = c.loc[entry_day] / (p_in / 2) - 1  # the fill on the bars' (adjusted) scale
    expected[-1] = (p_out) / c.shift(1).loc[exit_day] - 1  # post-split fill: already on the scale
    np.testing.assert_allclose(r, expected, rtol=1e-12)
    # The whole holding's P&L is the money made: 10 shares bought at p_in, 20 sold at p_out.
    assert daily.pnl[0, 0].sum() == pytest.approx(20 * p_out - 10 * p_in, rel=1e-12)


def test_a_missing_bar_or_symbol_is_an_error_naming_it():
    weeks = WeekWindows.for_keys([WEEK], 90)
    rows = _rows([("L1", "a.clj", "SPY", "2024-04-01 10:00", 10.0, 50.0)])
    gap = market_bars(SESSIONS, CLOSES)
    gap = gap[gap["timestamp"].dt.tz_convert(NY).dt.date.astype(str) != "2024-04-10"]
    with pytest.raises(MarketDataError, match=r"daily bars of SPY lack the session .*2024-04-10.*lot L1 of a.clj"):
        market_returns(rows, weeks, ["a.clj"], _bars(weeks, {"SPY": gap}))
    with pytest.raises(
        MarketDataError, match=r"no daily bars for symbol SPY \(SPY/daily.parquet\), held by lot L1 of a.clj"
    ):
        market_returns(rows, weeks, ["a.clj"], _bars(weeks, {"QQQ": market_bars(SESSIONS, CLOSES)}))
    # A gap outside every held period is no error.
    before = market_bars(SESSIONS, CLOSES)
    before = before[before["timestamp"].dt.tz_convert(NY).dt.date.astype(str) != "2024-03-20"]
    market_returns(rows, weeks, ["a.clj"], _bars(weeks, {"SPY": before}))


def test_a_range_gives_each_week_the_bits_it_gets_alone():
    names = [f"s{i}.clj" for i in range(3)]
    h = holding_ledger(names, "2024-01-02", "2024-06-28", seed=9)
    keys = ["2024-05-05", "2024-05-12", "2024-05-19"]
    weeks = WeekWindows.for_keys(keys, 30)
    frames = {s: h.bars(s) for s in h.symbols}
    ranged = market_returns(h.ledger.positions, weeks, names, _bars(weeks, frames))
    from weighting_pipeline.core.deployed import held_by_week

    for i, key in enumerate(keys):
        one = WeekWindows.for_keys([key], 30)
        held = held_by_week(h.ledger.positions, one).drop(columns="partition_key")
        alone = market_returns(held, one, names, _bars(one, frames))
        np.testing.assert_array_equal(alone.pnl[0], ranged.pnl[i])
        np.testing.assert_array_equal(alone.deployed[0], ranged.deployed[i])
        np.testing.assert_array_equal(alone.window_lots[0], ranged.window_lots[i])


def test_a_bar_belongs_to_its_timestamps_utc_date_as_trading_keys_it():
    weeks = WeekWindows.for_keys([WEEK], 90)
    midnight_ny = market_bars(SESSIONS, CLOSES)  # Alpaca's stamps: 04:00 or 05:00 UTC
    midnight_utc = midnight_ny.assign(
        timestamp=pd.DatetimeIndex(SESSIONS).tz_localize("UTC")
    )  # a feed stamping 00:00 UTC
    a, b = _bars(weeks, {"SPY": midnight_ny}), _bars(weeks, {"SPY": midnight_utc})
    np.testing.assert_array_equal(a.closes, b.closes)
    assert not np.isnan(a.closes).any()
