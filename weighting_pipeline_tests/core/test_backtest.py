"""The holdout definitions of core/backtest.py on a hand-built ledger."""

import numpy as np
import pandas as pd
import pytest

from weighting_pipeline.core.backtest import holdout, weekly_realised_returns
from weighting_pipeline.core.lots import LOT_COLUMNS

WEEKS = ["2026-03-01", "2026-03-08", "2026-03-15"]  # 2026-03-08 is the 167 h DST week
S = ["a.clj", "b.clj", "c.clj"]


def ny(text):
    return pd.Timestamp(text, tz="America/New_York").tz_convert("UTC")


def lots(rows):
    frame = pd.DataFrame(rows, columns=["strategy", "fully_closed_at", "entry_qty", "entry_price", "realized_pnl"])
    frame["lot_id"] = [f"L{i}" for i in range(len(frame))]
    frame["symbol"] = "X"
    frame["entry_timestamp"] = frame["fully_closed_at"] - pd.Timedelta(days=1)
    return frame.astype({c: t for c, t in LOT_COLUMNS.items() if c != "strategy"})[list(LOT_COLUMNS)]


LEDGER = lots(
    [
        ("a.clj", ny("2026-03-01 18:00"), 10, 10.0, 5.0),  # the first instant of week 1: in it
        ("a.clj", ny("2026-03-04 12:00"), 30, 10.0, -1.0),  # mean position (100 + 300) / 2 = 200
        ("b.clj", ny("2026-03-08 17:59"), 20, 5.0, 2.0),  # the last minute of week 1 (before DST)
        ("b.clj", ny("2026-03-08 18:00"), 20, 5.0, 4.0),  # the first instant of week 2
        ("a.clj", ny("2026-03-01 17:59"), 1, 1.0, 99.0),  # the week before: never counted
        # week 3 (2026-03-15) has no closes at all; c.clj never closes
    ]
)


def test_realised_returns_follow_the_definition_week_by_week():
    realised, closed = weekly_realised_returns(LEDGER, WEEKS, S)
    assert realised.loc["2026-03-01", "a.clj"] == pytest.approx((5.0 - 1.0) / 200.0)
    assert realised.loc["2026-03-01", "b.clj"] == pytest.approx(2.0 / 100.0)
    assert realised.loc["2026-03-08", "b.clj"] == pytest.approx(4.0 / 100.0)
    assert realised.loc["2026-03-08", "a.clj"] == 0.0 and not closed.loc["2026-03-08", "a.clj"]
    assert (realised.loc["2026-03-15"] == 0.0).all() and not closed.loc["2026-03-15"].any()  # a week with no closes
    assert (realised["c.clj"] == 0.0).all()  # a strategy with none


def test_lots_after_a_weeks_end_never_change_it():
    realised, _ = weekly_realised_returns(LEDGER, WEEKS[:1], S)
    later = pd.concat(
        [LEDGER, lots([("a.clj", ny("2026-03-08 18:00"), 1, 1.0, 1e6), ("c.clj", ny("2026-03-09"), 1, 1.0, 7.0)])]
    )
    again, _ = weekly_realised_returns(later, WEEKS[:1], S)
    pd.testing.assert_frame_equal(realised, again)


def hand_weights():
    """Baseline, weights and multipliers in force in the three weeks, by hand."""
    base = pd.Series({"a.clj": 0.5, "b.clj": 0.3, "c.clj": 0.2})
    idx = pd.Index(WEEKS, name="partition_key")
    w = pd.DataFrame([[0.6, 0.25, 0.15], [0.5, 0.3, 0.2], [0.4, 0.4, 0.2]], index=idx, columns=S)
    m = pd.DataFrame([[1.5, 0.8, 0.7], [1.0, 1.0, 1.0], [0.9, 1.3, 1.0]], index=idx, columns=S)
    return base, idx, w, m


def test_holdout_numbers_by_hand():
    realised, closed = weekly_realised_returns(LEDGER, WEEKS, S)
    base, idx, w, m = hand_weights()
    sharpe = pd.DataFrame([[2.0, 1.0, -1.0], [0.0, 0.0, 0.0], [1.0, 3.0, 2.0]], index=idx, columns=S)
    qualified = pd.DataFrame([[True, True, True], [False, False, False], [True, True, False]], index=idx, columns=S)
    out = holdout(w, base, m, sharpe, qualified, realised, closed, previous_weights=base)

    r1 = realised.loc["2026-03-01"]
    assert out.loc["2026-03-01", "r_tilt"] == pytest.approx(0.6 * r1["a.clj"] + 0.25 * r1["b.clj"])
    assert out.loc["2026-03-01", "r_base"] == pytest.approx(0.5 * r1["a.clj"] + 0.3 * r1["b.clj"])
    naive = base * m.loc["2026-03-01"] / (base * m.loc["2026-03-01"]).sum()
    assert out.loc["2026-03-01", "r_naive"] == pytest.approx((naive * r1).sum())
    assert out.loc["2026-03-01", "active"] == pytest.approx(
        out.loc["2026-03-01", "r_tilt"] - out.loc["2026-03-01", "r_base"]
    )
    assert out.loc["2026-03-01", "turnover"] == pytest.approx(
        0.5 * (0.1 + 0.05 + 0.05)
    )  # from the baseline in force before
    assert out.loc["2026-03-08", "turnover"] == pytest.approx(0.5 * (0.1 + 0.05 + 0.05))
    assert out.loc["2026-03-15", "active_share"] == pytest.approx(0.5 * (0.1 + 0.1 + 0.0))
    assert out.loc["2026-03-01", "coverage"] == pytest.approx(0.85)  # c.clj closed nothing
    assert out.loc["2026-03-15", "coverage"] == 0.0 and out.loc["2026-03-15", "r_tilt"] == 0.0
    # c.clj booked nothing: it has no return to rank (it used to enter as a tie at 0), so only
    # a and b remain, fewer than three.
    assert np.isnan(out.loc["2026-03-01", "rank_ic"])
    booked = closed.copy()
    booked.loc["2026-03-01", "c.clj"] = True  # as if c had booked a 0 return: then it is ranked
    again = holdout(w, base, m, sharpe, qualified, realised, booked, previous_weights=base)
    # Sharpe ranks (a, b, c) = (3, 2, 1); return ranks: a 0.02, b 0.02 tie -> 2.5, 2.5; c 0 -> 1.
    assert again.loc["2026-03-01", "rank_ic"] == pytest.approx(np.corrcoef([3, 2, 1], [2.5, 2.5, 1])[0, 1])
    assert np.isnan(out.loc["2026-03-08", "rank_ic"]) and np.isnan(out.loc["2026-03-15", "rank_ic"])  # < 3 qualified


def test_the_first_week_without_earlier_weights_has_no_turnover():
    realised, closed = weekly_realised_returns(LEDGER, WEEKS, S)
    base = pd.Series({"a.clj": 0.5, "b.clj": 0.3, "c.clj": 0.2})
    w = pd.DataFrame([base.to_numpy()] * 3, index=WEEKS, columns=S)
    out = holdout(w, base, w * 0 + 1, w * 0, w.astype(bool), realised, closed)
    assert np.isnan(out["turnover"].iloc[0]) and out["turnover"].iloc[1:].tolist() == [0.0, 0.0]
    assert (out["active"] == 0).all() and (out["r_naive"] == out["r_base"]).all()


def test_costs_are_paid_on_each_legs_own_turnover_and_the_baseline_pays_none():
    realised, closed = weekly_realised_returns(LEDGER, WEEKS, S)
    base, idx, w, m = hand_weights()
    args = (w, base, m, w * 0, w.astype(bool), realised, closed)
    gross = holdout(*args, previous_weights=base, previous_multipliers=pd.Series(1.0, index=S))
    net = holdout(*args, previous_weights=base, previous_multipliers=pd.Series(1.0, index=S), cost_bps=25)
    # By hand, week 1: the tilt moved 0.5 * (0.1 + 0.05 + 0.05) = 10% of capital and pays 25 bp of it.
    assert net.loc["2026-03-01", "r_tilt_net"] == pytest.approx(
        gross.loc["2026-03-01", "r_tilt"] - 0.10 * 0.0025, abs=1e-15
    )
    # The naive weights b*m/sum(b*m) have their own turnover, from b (multipliers 1 before the first week).
    bm = m.mul(base, axis=1)
    naive = bm.div(bm.sum(axis=1), axis=0)
    before = pd.DataFrame([base.to_numpy(), *naive.to_numpy()[:-1]], index=idx, columns=S)
    by_hand = 0.5 * (naive - before).abs().sum(axis=1)
    assert net["naive_turnover"].to_numpy() == pytest.approx(by_hand.to_numpy(), abs=1e-15)
    assert net["r_naive_net"].to_numpy() == pytest.approx((gross["r_naive"] - by_hand * 0.0025).to_numpy(), abs=1e-15)
    assert (net["r_base"] == gross["r_base"]).all()  # the baseline never trades
    assert net["active_net"].to_numpy() == pytest.approx((net["r_tilt_net"] - net["r_base"]).to_numpy(), abs=0)
    # No cost: net equals gross to the bit, even where turnover is unknown (no earlier weights).
    free = holdout(*args)
    assert np.isnan(free["turnover"].iloc[0]) and (free["r_tilt_net"] == free["r_tilt"]).all()
    assert (free["active_net"] == free["active"]).all()


def test_the_weights_in_force_are_what_trading_read_when_the_week_began():
    from weighting_pipeline.core.backtest import PUBLISHED, REFUSED, weights_sources

    grace = pd.Timedelta(hours=24)
    j, p, pp = "2026-03-15", "2026-03-08", "2026-03-01"  # j begins 2026-03-15 18:00 New York (22:00 UTC)
    during, before = pd.Timestamp("2026-03-16T12:00Z"), pd.Timestamp("2026-03-15T21:59Z")

    def source(state, unpublished=None, g=grace):
        s = weights_sources([j], state, unpublished or {}, g, {p: "R1", pp: "R0"})[j]
        return s.week, s.how, s.why

    assert source({p: PUBLISHED, pp: PUBLISHED}) == (p, "published", f"dynamic_weights of {p} as published (run R1)")
    week, how, why = source({p: PUBLISHED}, {p: during})  # unpublished during j: noted, not split
    assert (week, how) == (p, "published") and why.endswith(
        "unpublished at 2026-03-16T12:00:00+00:00, during the week (noted, not split)"
    )
    assert source({p: PUBLISHED}, {p: before})[:2] == (None, "baseline")  # unpublished before j began
    assert source({p: REFUSED, pp: PUBLISHED})[:2] == (pp, "published")  # the grace covers j's start
    assert (
        source({p: REFUSED, pp: PUBLISHED}, g=pd.Timedelta(0))[2]
        == f"baseline: {p} was computed but not published, and the reader has no grace"
    )
    assert source({pp: PUBLISHED}, {pp: before})[2] == (
        f"baseline: {p} was never computed, and {pp} was unpublished at 2026-03-15T21:59:00+00:00"
    )
