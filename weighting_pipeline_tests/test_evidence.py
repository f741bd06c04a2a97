"""The real-price evidence (benchmarks/evidence.py): its rules see only the past, its
lots are trading's holding pattern, and every basis gives a verdict."""

import numpy as np

from benchmarks import evidence


def test_the_rules_pick_from_closes_up_to_the_entry_session_only():
    prices = evidence.closes()
    assert str(prices.index[0].date()) == "2014-01-02" and str(prices.index[-1].date()) == "2022-12-28"
    full = evidence.picks(prices)
    cut = 1500
    truncated = evidence.picks(prices.iloc[: cut + 1])
    np.testing.assert_array_equal(full[:, : cut + 1], truncated)  # nothing after a session changes its pick
    assert (full[:, -1] >= 0).all() and len(set(full[2])) > 3  # the stock rules move between stocks


def test_every_basis_gives_a_finite_verdict_over_the_same_weeks():
    rows = evidence.run()
    assert [r["basis"] for r in rows] == ["lot", "deployed", "market"]
    assert len({(r["weeks"], r["first"], r["last"]) for r in rows}) == 1 and rows[0]["weeks"] > 400
    for r in rows:
        assert np.isfinite([r["information_ratio"], r["se_hac"], r["t_hac"], r["p_positive"]]).all()


def test_the_authors_designs_are_compared_on_real_prices_and_on_no_skill():
    tables = evidence.compare_policies()
    assert list(tables) == ["real prices", "no skill"]
    for table in tables.values():
        assert table["policy"].tolist() == ["seed", "pr2977", "script"]
        assert np.isfinite(
            table[["information_ratio", "ir_standard_error_hac", "t_statistic_hac", "active_after_costs"]].to_numpy()
        ).all()
        assert 1 <= table.attrs["effective_trials"] <= 3
    assert tables["no skill"].attrs["deflated_ratio"] < 0.95  # no skill: nothing passes the deflated bar
