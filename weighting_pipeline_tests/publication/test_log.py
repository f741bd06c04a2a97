"""The publication log's entries and what a listing of them says of each week."""

import math

import pandas as pd
import pytest

from weighting_pipeline.publication.log import (
    PUBLISHED,
    REFUSED,
    SUPERSEDED,
    UNPUBLISHED,
    Entry,
    EntryRef,
    allocation_rows,
    fold,
)
from weighting_pipeline.resources.publication_log import PublicationLog

WEEK = "2026-03-08"


def at(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_convert("UTC")


def ref(action: str, when: str, ident: str = "run-1", week: str = WEEK) -> EntryRef:
    return EntryRef(week, at(when), action, ident)


def test_an_entrys_name_says_its_week_time_action_and_id_and_sorts_in_time_order():
    r = ref(PUBLISHED, "2026-03-15T22:05:00.123456+00:00", "e239f797-04a0-4542-bd86-f4b9ce57db3d")
    assert r.name == f"{WEEK}/20260315T220500123456Z-published-e239f797-04a0-4542-bd86-f4b9ce57db3d.json"
    assert EntryRef.parse(r.name) == r
    later = ref(UNPUBLISHED, "2026-03-16T01:00:00+00:00", "abc")
    assert sorted([later.name, r.name]) == [r.name, later.name]
    for other in (f"{WEEK}/.x.json.1a2b.tmp", f"{WEEK}/20260315T220500123456Z-deleted-x.json", WEEK):
        assert EntryRef.parse(other) is None


def test_a_week_is_published_until_an_unpublish_after_its_newest_publication():
    first, gone, again = (
        ref(PUBLISHED, "2026-03-15T22:05Z", "R1"),
        ref(UNPUBLISHED, "2026-03-16T09:00Z", "u"),
        ref(PUBLISHED, "2026-03-17T10:00Z", "R2"),
    )
    [record] = fold([gone, first]).values()
    assert (record.state, record.published, record.unpublished_at) == (PUBLISHED, first, gone.at)
    [record] = fold([again, gone, first]).values()  # published again after the rollback
    assert (record.published, record.unpublished_at, record.latest) == (again, None, again)


def test_refused_and_superseded_weeks_were_computed_not_published_and_never_hide_a_publication():
    refused = ref(REFUSED, "2026-03-15T22:05Z", "W")
    [record] = fold([refused]).values()
    assert (record.state, record.published, record.latest) == (REFUSED, None, refused)
    published, lost = ref(PUBLISHED, "2026-03-15T22:05Z", "R2"), ref(SUPERSEDED, "2026-03-15T22:06Z", "R1")
    [record] = fold([lost, published]).values()
    assert (record.state, record.published, record.latest) == (PUBLISHED, published, lost)
    # An unpublish of a week never published says nothing of its state.
    [record] = fold([ref(UNPUBLISHED, "2026-03-16T09:00Z", "u")]).values()
    assert (record.state, record.unpublished_at) == (None, None)


def test_entries_round_trip_through_a_folder_with_nan_scores_as_null(tmp_path):
    week = pd.DataFrame(
        {
            "strategy": ["a", "b"],
            "baseline": [0.6, 0.4],
            "sharpe": [1.25, float("nan")],
            "score": [1.25, float("nan")],
            "multiplier": [1.5, 1.0],
            "weight": [0.692307692307692, 0.307692307692308],
            "skip_reason": ["", "fewer than 10 active days"],
        }
    )
    entry = Entry(ref(PUBLISHED, "2026-03-15T22:05Z"), allocation_rows(week), {"run_id": "run-1"}, {})
    log = PublicationLog(base_path=str(tmp_path / "log")).open()
    log.append([entry])
    assert (tmp_path / "log" / entry.ref.name).is_file()
    [listed] = log.refs()
    back = log.read([listed])[listed]
    assert back == entry and back.run_id == "run-1"
    assert back.weights() == {"a": 0.692307692307692, "b": 0.307692307692308}
    frame = back.frame()
    assert frame["sharpe"].iloc[0] == 1.25 and math.isnan(frame["sharpe"].iloc[1])
    assert list(frame["skip_reason"]) == ["", "fewer than 10 active days"]
    view = log.weeks()
    published = view.published([WEEK, "2026-03-01"])
    assert list(published) == [WEEK] and published[WEEK] == entry
    # A view reads each entry once: the backtest asks for the same weeks twice (its weeks, then
    # its lots' entry weeks), and on S3 each read is a GET.
    (tmp_path / "log" / entry.ref.name).unlink()
    assert view.latest([WEEK]) == {WEEK: entry}


def test_a_log_without_a_place_says_which_variable_to_set():
    with pytest.raises(RuntimeError, match="PUBLICATION_LOG__BASE_PATH"):
        PublicationLog().refs()
