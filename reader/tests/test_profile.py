"""``get_strategy_profile``: the published week when it can be trusted, the caller's baseline otherwise."""

from __future__ import annotations

import logging
from dataclasses import fields
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from reader_weeks import BASELINE, KEY, PREVIOUS, WEIGHTS, Table, decimals, end_of, tombstone, wire_item

from weighting_pipeline_reader import StrategyProfile, get_strategy_profile
from weighting_pipeline_reader.profile import read_baseline

LOGGER = "weighting_pipeline_reader"
IN_WEEK = end_of(KEY) + timedelta(days=2)


@pytest.fixture(autouse=True)
def table_name(monkeypatch):
    monkeypatch.setenv("STRATEGY_WEIGHTS__TABLE_NAME", "strategy-weights")
    monkeypatch.delenv("STRATEGY_WEIGHTS__GRACE_HOURS", raising=False)


def profile(items, now=IN_WEEK, baseline=BASELINE):
    return get_strategy_profile(baseline, now=now, client=Table(items))


def test_the_design_of_trading_pull_request_2957_plus_the_source():
    assert [f.name for f in fields(StrategyProfile)] == ["files", "allocations", "is_dynamic", "source"]
    assert StrategyProfile(["a.clj"], {"a.clj": Decimal(1)}).is_dynamic is False


def test_the_week_in_force_is_served_in_the_baselines_file_order():
    got = profile({KEY: wire_item()})
    assert got == StrategyProfile(BASELINE["files"], decimals(WEIGHTS), True, KEY)
    assert list(got.allocations) == BASELINE["files"]


def test_trading_settings_object_is_a_baseline():
    """Trading passes Settings().strategy: dsl_files and dsl_allocations (floats)."""
    settings = SimpleNamespace(dsl_files=BASELINE["files"], dsl_allocations=BASELINE["allocations"])
    assert get_strategy_profile(settings, now=IN_WEEK, client=Table({KEY: wire_item()})).source == KEY


def test_sunday_evening_in_standard_time_serves_the_week_still_in_force_without_a_warning(caplog):
    """22:30 UTC on a winter Sunday is 17:30 New York: the new week starts at 23:00 UTC."""
    now = end_of(KEY) - timedelta(minutes=30)
    assert now.astimezone(end_of(KEY).tzinfo).hour == 17
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        got = profile({KEY: wire_item(), PREVIOUS: wire_item(PREVIOUS)}, now=now)
        missing = profile({PREVIOUS: wire_item(PREVIOUS)}, now=now)  # the new week not yet published: not late either
    assert got.is_dynamic and got.source == PREVIOUS and missing.source == PREVIOUS
    assert caplog.text == ""
    assert profile({KEY: wire_item()}, now=now).source == f"baseline: no weights item for {PREVIOUS}"


def test_a_late_week_is_replaced_by_the_week_before_within_its_grace_then_the_baseline(caplog):
    late = end_of(KEY) + timedelta(hours=5)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        within = profile({PREVIOUS: wire_item(PREVIOUS)}, now=late)
    assert within.is_dynamic and within.source == PREVIOUS
    assert f"Weights for {KEY} are missing; using {PREVIOUS} within its grace period" in caplog.text
    after = profile({PREVIOUS: wire_item(PREVIOUS)}, now=end_of(KEY) + timedelta(hours=24))
    assert not after.is_dynamic and "no longer valid" in after.source


def test_the_grace_is_a_setting(monkeypatch):
    monkeypatch.setenv("STRATEGY_WEIGHTS__GRACE_HOURS", "2")
    assert profile({PREVIOUS: wire_item(PREVIOUS)}, now=end_of(KEY) + timedelta(hours=1)).source == PREVIOUS
    assert "no longer valid" in profile({PREVIOUS: wire_item(PREVIOUS)}, now=end_of(KEY) + timedelta(hours=3)).source


def test_unpublished_weeks_read_as_missing():
    both = profile({KEY: tombstone(KEY), PREVIOUS: tombstone(PREVIOUS)}, now=end_of(KEY) + timedelta(hours=1))
    assert both.source == f"baseline: no weights item for {KEY} (unpublished) and none for {PREVIOUS} (unpublished)"
    assert (
        profile({KEY: tombstone(KEY), PREVIOUS: wire_item(PREVIOUS)}, now=end_of(KEY) + timedelta(hours=1)).source
        == PREVIOUS
    )


def test_a_week_computed_from_another_baseline_falls_back_to_the_callers(caplog):
    rewritten = {"files": BASELINE["files"], "allocations": {"a.clj": 0.45, "ftlt/b.clj": 0.35, "c.clj": 0.2}}
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        got = profile({KEY: wire_item()}, baseline=rewritten)
    assert got == StrategyProfile(rewritten["files"], decimals(rewritten["allocations"]), False, got.source)
    assert got.source == (
        "baseline: item for 2040-02-19 was computed from another baseline "
        "(a.clj 0.5 there, 0.45 here; ftlt/b.clj 0.3 there, 0.35 here)"
    )
    assert "Using baseline allocations: item for 2040-02-19 was computed from another baseline" in caplog.text


@pytest.mark.parametrize(
    "error", [ConnectionError("refused"), TimeoutError("read timed out"), RuntimeError("AccessDenied")]
)
def test_a_table_that_cannot_be_read_gives_the_baseline(error):
    class Failing:
        def get_item(self, **_):
            raise error

    got = get_strategy_profile(BASELINE, now=IN_WEEK, client=Failing())
    assert not got.is_dynamic and got.allocations == decimals(BASELINE["allocations"])
    assert got.source == f"baseline: weights table strategy-weights unreachable ({type(error).__name__}: {error})"


def test_no_table_name_no_time_zone_or_no_week_yet_give_the_baseline(monkeypatch):
    from datetime import datetime

    assert "no time zone" in get_strategy_profile(BASELINE, now=datetime(2040, 3, 1), client=Table({})).source
    first = datetime.fromisoformat("2020-01-12T16:59:00-05:00")  # before the first week could have ended
    assert (
        get_strategy_profile(BASELINE, now=first, client=Table({})).source
        == f"baseline: no complete week before {first.isoformat()}"
    )
    monkeypatch.delenv("STRATEGY_WEIGHTS__TABLE_NAME")
    table = Table({KEY: wire_item()})
    assert (
        get_strategy_profile(BASELINE, now=IN_WEEK, client=table).source
        == "baseline: STRATEGY_WEIGHTS__TABLE_NAME is not set"
    )
    assert table.asked == []


def test_use_dynamic_false_reads_nothing():
    table = Table({KEY: wire_item()})
    got = get_strategy_profile(BASELINE, False, now=IN_WEEK, client=table)
    assert got == StrategyProfile(
        BASELINE["files"], decimals(BASELINE["allocations"]), False, "baseline: use_dynamic=False"
    )
    assert table.asked == []


def test_the_baseline_is_what_trading_dispatches_without_the_reader():
    """Trading's coordinator sends Decimal(str(allocation)), 0 for a file without one."""
    files, allocations = read_baseline(
        SimpleNamespace(dsl_files=["a.clj", "b.clj"], dsl_allocations={"a.clj": 0.1 + 0.2})
    )
    assert files == ["a.clj", "b.clj"] and allocations == {"a.clj": Decimal(str(0.1 + 0.2)), "b.clj": Decimal(0)}
    assert read_baseline({"allocations": {"x.clj": 1}}) == (["x.clj"], {"x.clj": Decimal(1)})


@pytest.mark.parametrize(
    ("baseline", "error", "message"),
    [
        ("prod", TypeError, "Settings().strategy"),
        ({"files": ["a.clj"]}, TypeError, "Settings().strategy"),
        ({"files": [], "allocations": {}}, ValueError, "names no strategy files"),
        ({"allocations": {"a.clj": "lots"}}, ValueError, "allocation of 'a.clj' is not a finite number >= 0: 'lots'"),
        ({"allocations": {"a.clj": -0.1}}, ValueError, "allocation of 'a.clj'"),
        ({"allocations": {"a.clj": float("nan")}}, ValueError, "allocation of 'a.clj'"),
        ({"allocations": {"a.clj": True}}, ValueError, "allocation of 'a.clj'"),
    ],
)
def test_a_baseline_that_is_not_one_is_named(baseline, error, message):
    """The caller's own configuration is broken: nothing is safe to return, so it raises."""
    with pytest.raises(error) as raised:
        get_strategy_profile(baseline, client=Table({}))
    assert message in str(raised.value)
