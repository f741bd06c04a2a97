"""Skipped ledger items are attributed to the weeks whose windows hold them."""

from weighting_pipeline.core.calendar import WeekWindows
from weighting_pipeline.resources.ledger_items import EXAMPLES_PER_REASON, ParseReport, skips_by_week

# Windows (New York): 2025-12-28 -> [2025-10-06 18:00, 2026-01-04 18:00); 2026-02-22 -> [2025-12-01 18:00, 2026-03-01 18:00)
WEEKS = WeekWindows.for_keys(["2025-12-28", "2026-02-22"], 90)


def report(*skips):
    r = ParseReport()
    for s in skips:
        r.skip(*s)
    return r


def test_an_item_counts_in_each_window_that_holds_its_close_time():
    parts = skips_by_week(
        report(
            ("zero qty", "in-both", "2025-12-15T15:00:00Z"),
            ("zero qty", "first-only", "2025-10-10T15:00:00Z"),
            ("zero qty", "second-only", "2026-02-20T15:00:00Z"),
            ("zero qty", "neither", "2025-06-01T15:00:00Z"),
        ),
        WEEKS,
    )
    assert [p.examples.get("zero qty") for p in parts] == [["first-only", "in-both"], ["in-both", "second-only"]]
    assert [p.total for p in parts] == [2, 2]


def test_the_window_bounds_are_half_open_at_1800_new_york():
    # 2026-01-04 18:00 EST is 23:00 UTC: the first week's window ends there, exclusive.
    parts = skips_by_week(
        report(("r", "at-end", "2026-01-04T23:00:00Z"), ("r", "before-end", "2026-01-04T22:59:59Z")), WEEKS
    )
    assert parts[0].examples["r"] == ["before-end"]


def test_an_item_without_a_usable_close_time_counts_against_every_week():
    parts = skips_by_week(
        report(
            ("missing fully_closed_at", "none", None),
            ("fully_closed_at has no UTC offset", "naive", "2025-12-15T15:00:00"),
            ("fully_closed_at is not an ISO-8601 time", "garbled", "yesterday Z"),
        ),
        WEEKS,
    )
    for part in parts:
        assert dict(part.counts) == {
            "missing fully_closed_at": 1,
            "fully_closed_at has no UTC offset": 1,
            "fully_closed_at is not an ISO-8601 time": 1,
        }


def test_examples_are_capped_and_ordered_by_close_time_then_lot_id():
    skips = [("r", f"L{i:02d}", f"2025-12-{10 + i % 3:02d}T15:00:00Z") for i in range(9)]
    part = skips_by_week(report(*skips), WEEKS)[0]
    assert part.counts == {"r": 9}
    assert part.examples["r"] == ["L00", "L03", "L06", "L01", "L04"][:EXAMPLES_PER_REASON]


def test_no_skips_give_empty_weeks():
    assert [p.total for p in skips_by_week(ParseReport(), WEEKS)] == [0, 0]
