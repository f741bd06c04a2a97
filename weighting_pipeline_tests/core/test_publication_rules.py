"""Which weeks a run may publish (``core.publication_rules``), as pure functions of the clock."""

import pandas as pd
import pytest

from weighting_pipeline.core.publication_rules import decide, protected_weeks

GRACE = pd.Timedelta(hours=24)


def ny(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="America/New_York")


@pytest.mark.parametrize(
    "now, latest_exists, expected",
    [
        (
            "2026-03-15 17:59",
            False,
            ["2026-03-01"],
        ),  # the week of 03-08 has not ended yet; 02-22 is long past its grace
        ("2026-03-15 18:00", True, ["2026-03-08"]),
        ("2026-03-15 18:00", False, ["2026-03-08", "2026-03-01"]),  # a late weekly run: trading still reads 03-01
        ("2026-03-16 17:59", False, ["2026-03-08", "2026-03-01"]),  # 03-01 is valid until 03-15 18:00, plus 24 h
        ("2026-03-16 18:00", False, ["2026-03-08"]),  # the grace is over: trading reads the baseline, not 03-01
    ],
)
def test_the_protected_weeks_are_what_trading_reads(now, latest_exists, expected):
    assert protected_weeks(ny(now), latest_exists, GRACE) == expected


KEYS = ["2026-02-15", "2026-02-22", "2026-03-01", "2026-03-08"]


def test_a_range_run_publishes_all_but_the_protected_weeks():
    decisions = decide(KEYS, ["2026-03-08"], {}, forced=False)
    assert [k for k, d in decisions.items() if d.published] == KEYS[:3]
    assert "only a run of this week alone publishes it" in decisions["2026-03-08"].reason
    assert not any(d.forced for d in decisions.values())
    assert [k for k, d in decisions.items() if d.protected] == ["2026-03-08"]


def test_a_single_week_run_publishes_its_protected_week():
    [decision] = decide(["2026-03-08"], ["2026-03-08"], {}, forced=False).values()
    assert decision.published and not decision.forced and decision.protected


def test_a_what_if_run_publishes_nothing_and_says_which_settings_differ():
    decisions = decide(["2026-02-15"], [], {"lookback_days": (90, 60)}, forced=False)
    assert not decisions["2026-02-15"].published
    assert (
        "what-if run" in decisions["2026-02-15"].reason and "lookback_days 90 -> 60" in decisions["2026-02-15"].reason
    )


def test_force_lifts_the_protection_and_the_what_if_rule_and_is_marked_only_where_it_did():
    ranged = decide(KEYS, ["2026-03-08"], {}, forced=True)
    assert all(d.published for d in ranged.values())
    assert [k for k, d in ranged.items() if d.forced] == ["2026-03-08"] == [k for k, d in ranged.items() if d.protected]
    what_if = decide(["2026-02-15"], [], {"lookback_days": (90, 60)}, forced=True)["2026-02-15"]
    assert what_if.published and what_if.forced and "what-if" in what_if.reason
