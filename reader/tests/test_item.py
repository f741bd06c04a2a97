"""The item's checks, and which week is in force, without a time-zone database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from reader_weeks import BASELINE, KEY, WEIGHTS, decimals, end_of, wire_item

from weighting_pipeline_reader.item import (
    FIRST_WEEK,
    ItemError,
    check_in_force,
    check_weights,
    latest_week,
    previous_week,
)

NEW_YORK = ZoneInfo("America/New_York")


def week_in_force(now: datetime) -> str:
    """The truth, with the time-zone database: the week whose end (Sunday 18:00 New York) is
    the latest at or before ``now``; its key is the Sunday a week before that end."""
    local = now.astimezone(NEW_YORK)
    day = local.date() - timedelta(days=1 if local.hour < 18 else 0)
    end = day - timedelta(days=(day.weekday() - 6) % 7)
    return (end - timedelta(days=7)).isoformat()


def test_the_latest_week_is_the_week_in_force_except_in_the_hour_standard_time_adds():
    """Every half hour of 2020-2040: the week whose end may have passed is the week in force,
    except from 22:00 to 23:00 UTC on a Sunday in standard time, when it is the week after
    (whose valid_from, 23:00 UTC, tells the reader it has not started)."""
    now = datetime(2020, 1, 13, tzinfo=timezone.utc)
    ahead = 0
    while now < datetime(2040, 12, 31, tzinfo=timezone.utc):
        truth, got = week_in_force(now), latest_week(now)
        if got != truth:
            assert (
                now.weekday() == 6 and now.hour == 22 and now.astimezone(NEW_YORK).utcoffset() == timedelta(hours=-5)
            ), now
            assert got == (datetime.fromisoformat(truth) + timedelta(days=7)).date().isoformat()
            ahead += 1
        now += timedelta(minutes=30)
    assert 0 < ahead <= 2 * 21 * 23  # two half hours a winter Sunday: the exception is real, and only that


def test_before_the_first_week_could_have_ended_there_is_none():
    earliest_end = datetime(2020, 1, 12, 22, tzinfo=timezone.utc)  # 18:00 New York is never earlier than 22:00 UTC
    assert latest_week(earliest_end - timedelta(minutes=1)) is None
    assert latest_week(earliest_end) == FIRST_WEEK
    assert previous_week("2020-03-15") == "2020-03-08"


def test_a_good_item_gives_its_weights_as_decimals():
    assert check_weights(wire_item(), KEY, decimals(BASELINE["allocations"])) == decimals(WEIGHTS)


def _with(**changes):
    def change(item):
        for name, value in changes.items():
            if value is None:
                item.pop(name, None)
            else:
                item[name] = value
        return item

    return change


def _weights(values: dict[str, str]):
    return _with(weights={"M": {k: {"N": v} for k, v in {**WEIGHTS, **values}.items()}})


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_with(partition_key={"S": "2040-02-12"}), "says partition_key '2040-02-12'"),
        (_with(partition_key=None), "partition_key is missing"),
        (
            _with(
                baseline_allocations={"M": {"a.clj": {"N": "0.5"}, "ftlt/b.clj": {"N": "0.3"}, "c.clj": {"N": "0.21"}}}
            ),
            "computed from another baseline (c.clj 0.21 there, 0.2 here)",
        ),
        (
            _with(baseline_allocations={"M": {"a.clj": {"N": "0.5"}, "ftlt/b.clj": {"N": "0.5"}}}),
            "only in this one: ['c.clj']",
        ),
        (_with(baseline_allocations=None), "baseline_allocations is missing or not a map"),
        (_with(weights={"S": "0.6"}), "weights is missing or not a map"),
        (_weights({"d.clj": "0"}), "extra ['d.clj']"),
        (_with(weights={"M": {"a.clj": {"N": "0.7"}, "ftlt/b.clj": {"N": "0.3"}}}), "missing ['c.clj']"),
        (_weights({"c.clj": "NaN"}), "not finite"),
        (_weights({"c.clj": "abc"}), "not a number"),
        (_weights({"c.clj": "0.16"}), "sum to 1.01"),
        (_weights({"a.clj": "0.2", "c.clj": "0.55"}), "weight 0.2 of a.clj is outside [0.5, 2.0] x baseline 0.5"),
        (
            _with(parameters={"M": {"min_multiplier": {"N": "1.1"}, "max_multiplier": {"N": "2"}}}),
            "impossible multiplier bounds",
        ),
        (_with(parameters=None), "parameters is missing"),
    ],
)
def test_each_broken_item_is_refused_with_its_reason(change, reason):
    with pytest.raises(ItemError) as refused:
        check_weights(change(wire_item()), KEY, decimals(BASELINE["allocations"]))
    assert reason in str(refused.value)


def test_a_weight_may_sit_exactly_on_its_bound():
    on_bounds = {"a.clj": "0.25", "ftlt/b.clj": "0.35", "c.clj": "0.4"}  # a at 0.5x, c at 2x
    assert check_weights(wire_item(weights=on_bounds), KEY, decimals(BASELINE["allocations"]))["c.clj"] == Decimal(
        "0.4"
    )


def test_an_item_is_in_force_from_its_week_end_until_a_week_later_plus_any_grace():
    item, start = wire_item(), end_of(KEY)
    with pytest.raises(ItemError, match="not in force before 2040-02-26T18:00:00-05:00"):
        check_in_force(item, KEY, start - timedelta(seconds=1))
    check_in_force(item, KEY, start)
    check_in_force(item, KEY, start + timedelta(days=7) - timedelta(seconds=1))
    with pytest.raises(ItemError, match="no longer valid"):
        check_in_force(item, KEY, start + timedelta(days=7))
    check_in_force(item, KEY, start + timedelta(days=7, hours=23), grace=timedelta(hours=24))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_with(ttl={"N": "100"}), "has expired (ttl 100)"),
        (_with(ttl=None), "ttl is not a number"),
        (_with(valid_from={"S": "2040-02-26T18:00:00"}), "without a UTC offset"),
        (_with(valid_until={"S": "next week"}), "unreadable valid_until"),
    ],
)
def test_an_item_that_cannot_say_when_it_is_in_force_is_refused(change, reason):
    with pytest.raises(ItemError) as refused:
        check_in_force(change(wire_item()), KEY, end_of(KEY) + timedelta(hours=1))
    assert reason in str(refused.value)
