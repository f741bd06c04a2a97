"""The alert rules as tables: what each live-week outcome says, given what people were last told."""

import pytest

from weighting_pipeline.alerts import messages
from weighting_pipeline.alerts.rules import Outcome, backfill_summary, live_week_changes

T = "dynamic_weights:turnover_below_threshold"
Q = "dynamic_weights:enough_strategies_qualified"


def fail(check, cause, week="2026-03-08"):
    return Outcome(check, week, False, cause, f"{check} failed: {cause} (numbers)")


def ok(check, week="2026-03-08"):
    return Outcome(check, week, True)


@pytest.mark.parametrize(
    "watch, outcomes, kinds, after",
    [
        ({}, [ok(T)], [], {}),  # passing, and nobody was told otherwise
        ({}, [fail(T, "turnover above 20%")], ["failing"], {T: "turnover above 20%"}),
        (
            {T: "turnover above 20%"},
            [fail(T, "turnover above 20%")],
            [],
            {T: "turnover above 20%"},
        ),  # same cause: silent
        ({T: "turnover above 20%"}, [fail(T, "turnover above 10%")], ["changed"], {T: "turnover above 10%"}),
        ({T: "turnover above 20%"}, [ok(T)], ["cleared"], {}),
        ({T: "turnover above 20%"}, [ok(Q)], [], {T: "turnover above 20%"}),  # not evaluated: state kept
        ({T: "x"}, [ok(T), fail(Q, "1 qualified")], ["failing", "cleared"], {Q: "1 qualified"}),  # in check order
    ],
)
def test_live_week_changes(watch, outcomes, kinds, after):
    changes, new_watch = live_week_changes(outcomes, watch)
    assert [c.kind for c in changes] == kinds
    assert new_watch == after


def test_a_change_remembers_what_people_were_told():
    [changed], _ = live_week_changes([fail(T, "turnover above 10%")], {T: "turnover above 20%"})
    assert changed.was == "turnover above 20%"
    alert = messages.live_week_warnings(
        stage="prod", week="2026-03-08", run_id="r", changes=[changed], webserver_url=None
    )
    assert f"- {T}: changed (was: turnover above 20%): {T} failed: turnover above 10% (numbers)" in alert.body
    assert alert.subject == "[weighting prod] week 2026-03-08: turnover_below_threshold changed"


def test_a_backfill_summary_counts_failed_weeks_per_check_and_names_the_first():
    weeks = [f"2026-0{m}-0{d}" for m in (1, 2) for d in (1, 2, 3)]
    outcomes = [fail(T, "t", w) if i % 2 else ok(T, w) for i, w in enumerate(weeks)] + [ok(Q, w) for w in weeks]
    [summary] = backfill_summary(outcomes, first=2)
    assert (summary.check, summary.failed, summary.weeks, summary.first) == (T, 3, 6, ("2026-01-02", "2026-02-01"))
    assert backfill_summary([ok(T)]) == []


def test_the_last_attempt_of_a_retried_run_names_every_attempt():
    alert = messages.run_failure(
        stage="prod",
        job="weekly",
        weeks="2026-03-08",
        run_id="c",
        step="closed_lots",
        error="boom",
        webserver_url=None,
        attempts=["a", "b", "c"],
    )
    lines = alert.body.splitlines()
    assert lines[:2] == ["Run c failed on its last attempt (3 of 3).", "Attempts: a, b, c"]
    single = messages.run_failure(
        stage="prod", job="weekly", weeks="w", run_id="a", step=None, error="e", webserver_url=None, attempts=["a"]
    )
    assert single.body.splitlines()[0] == "Run a failed." and "Attempts" not in single.body
