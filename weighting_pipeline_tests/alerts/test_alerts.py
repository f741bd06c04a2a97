"""Alerts through moto's SNS to an SQS probe queue, from runs Dagster recorded."""

import uuid

import boto3
import dagster as dg
import pandas as pd
import pytest

from weighting_pipeline.alerts import messages
from weighting_pipeline.alerts.sensors import (
    alert_on_live_week_warnings,
    alert_on_missed_week,
    alert_on_run_failure,
    alert_on_warn_checks,
    missed_week_alert,
)
from weighting_pipeline.core.calendar import WeekWindows
from weighting_pipeline.core.calendar import previous_key as previous_week
from weighting_pipeline.deployments import alerts_topic
from weighting_pipeline.resources.alerts import AlertsTopic
from weighting_pipeline.settings import SettingsError
from weighting_pipeline_devtools.infrastructure import create_alerts_topic, receive_alerts
from weighting_pipeline_tests.conftest import run_chain_in_dagster

WEEKS = ["2026-02-22", "2026-03-01", "2026-03-08"]
UI = "http://dagster.example.internal:3000"


@pytest.fixture
def probe(aws):
    sqs = boto3.client("sqs", region_name="us-east-1")
    topic, queue = create_alerts_topic(boto3.client("sns", region_name="us-east-1"), sqs, f"t{uuid.uuid4().hex[:8]}")
    return AlertsTopic(topic_arn=topic, webserver_url=UI, stage="prod"), lambda: receive_alerts(sqs, queue)


def failure_context(instance, result, alerts):
    run = instance.get_run_by_id(result.run_id)
    [failure] = [e for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)]
    return dg.build_run_status_sensor_context(
        sensor_name="alert_on_run_failure",
        dagster_event=failure.dagster_event,
        dagster_instance=instance,
        dagster_run=run,
        resources={"alerts": alerts},
    ).for_run_failure()


def test_a_failed_run_is_published_with_its_weeks_step_and_error(ledger, instance, probe):
    alerts, receive = probe
    # dynamic_weights alone, for a week whose upstream was never stored: it fails with a clear error.
    failed = run_chain_in_dagster(instance, partition_key="2026-01-04", selection=["dynamic_weights"])
    assert not failed.success
    alert_on_run_failure(failure_context(instance, failed, alerts))
    [alert] = receive()
    assert alert["subject"] == "[weighting prod] run failed: weeks 2026-01-04"
    body = alert["body"].splitlines()
    assert body[0] == f"Run {failed.run_id} failed."
    assert "Weeks: 2026-01-04" in body and "Failing step: dynamic_weights" in body, body
    assert any(line.startswith("Error: ") and "no stored data for weeks ['2026-01-04']" in line for line in body), body
    assert body[-1] == f"Link: {UI}/runs/{failed.run_id}"


def test_nothing_is_sent_when_no_topic_is_set(ledger, instance, probe):
    _, receive = probe
    failed = run_chain_in_dagster(instance, partition_key="2026-01-04", selection=["dynamic_weights"])
    outcome = alert_on_run_failure(failure_context(instance, failed, AlertsTopic()))
    assert isinstance(outcome, dg.SkipReason) and "ALERTS__SNS_TOPIC_ARN is not set" in outcome.skip_message
    assert receive() == []


def test_a_missed_week_is_published_once_after_the_grace_hours(ledger, instance, probe):
    alerts, receive = probe
    week = WEEKS[-1]
    end = WeekWindows.for_keys([week], 1).ends[0]
    assert missed_week_alert(instance, alerts, end + pd.Timedelta(hours=1, minutes=59), None) == (None, None)
    alert, cursor = missed_week_alert(instance, alerts, end + pd.Timedelta(hours=2, minutes=1), None)
    assert cursor == week and alert.subject == f"[weighting prod] week {week} not published"
    assert f"Week {week} has no published weights 2 h after it ended ({end.isoformat()})." in alert.body
    assert alert.body.endswith(f"Link: {UI}/assets/dynamic_weights?partition={week}")
    # Once per week: the cursor remembers it.
    assert missed_week_alert(instance, alerts, end + pd.Timedelta(hours=5), cursor) == (None, cursor)
    # Published (late): nothing to say for a new evaluation of that week.
    assert run_chain_in_dagster(instance, partition_key=week).success
    assert missed_week_alert(instance, alerts, end + pd.Timedelta(hours=5), None) == (None, None)
    # Through the sensor itself (the clock is the real one: a long-past week is due).
    context = dg.build_sensor_context(instance=instance, resources={"alerts": alerts})
    alert_on_missed_week(context)
    [sent] = receive()
    assert sent["subject"].endswith("not published") and context.cursor == sent["subject"].split()[3]


def drain(receive) -> list[dict]:
    """Every alert on the probe queue (it hands out at most ten at a time)."""
    got, batch = [], receive()
    while batch:
        got += batch
        batch = receive()
    return got


def warn_evaluations(instance, run_id: str, check: str) -> list:
    return [
        e.dagster_event.event_specific_data
        for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        if e.dagster_event.event_specific_data.check_name == check
    ]


def success_context(instance, run_id, alerts):
    run = instance.get_run_by_id(run_id)
    [success] = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_SUCCESS)
    return dg.build_run_status_sensor_context(
        sensor_name="alert_on_warn_checks",
        dagster_event=success.dagster_event,
        dagster_instance=instance,
        dagster_run=run,
        resources={"alerts": alerts},
    )


TINY_TURNOVER = {"TURNOVER_WARN_THRESHOLD": "0.0001"}


def test_a_backfill_with_warnings_sends_one_summary_of_counts_and_first_weeks(ledger, instance, probe):
    alerts, receive = probe
    result = run_chain_in_dagster(instance, partition_range=(WEEKS[0], WEEKS[-1]), environ=TINY_TURNOVER)
    assert result.success
    alert_on_warn_checks(success_context(instance, result.run_id, alerts))
    [alert] = drain(receive)
    # The first week has no earlier week to compare with; the next two moved more than 0.01%.
    assert alert["subject"] == f"[weighting prod] backfill {WEEKS[0]}...{WEEKS[-1]}: warnings in 1 check(s)"
    lines = alert["body"].splitlines()
    assert lines[0] == f"Backfill of weeks {WEEKS[0]}...{WEEKS[-1]} (run {result.run_id}) finished with warnings:"
    assert lines[1] == f"- dynamic_weights:turnover_below_threshold: 2 of 3 weeks, first {WEEKS[1]}, {WEEKS[2]}"
    assert lines[-1] == f"Link: {UI}/runs/{result.run_id}"


def test_an_informational_check_is_never_named(instance, probe):
    """A stand-in for ``multipliers`` whose noise check (``weighting/alert: never``) and one
    other WARN check fail in every week of a backfill: only the other is summarised."""
    from weighting_pipeline.alerts.sensors import INFORMATIONAL
    from weighting_pipeline.partitions import weekly_partitions

    alerts, receive = probe
    noise = dg.AssetCheckKey(dg.AssetKey("multipliers"), "tilt_exceeds_noise")
    assert noise in INFORMATIONAL

    @dg.asset(
        name="multipliers",
        partitions_def=weekly_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        check_specs=[
            dg.AssetCheckSpec("tilt_exceeds_noise", asset="multipliers"),
            dg.AssetCheckSpec("other", asset="multipliers"),
        ],
    )
    def stand_in(context: dg.AssetExecutionContext):
        yield dg.MaterializeResult()  # no IO manager: a stand-in stores nothing
        for output_name in context.assets_def.check_specs_by_output_name:  # as assets.checks.emit does
            yield dg.Output(None, output_name=output_name)
        for name in ("tilt_exceeds_noise", "other"):
            for week in context.partition_keys:
                yield dg.AssetCheckEvaluation(
                    asset_key=dg.AssetKey("multipliers"),
                    check_name=name,
                    passed=False,
                    partition=week,
                    severity=dg.AssetCheckSeverity.WARN,
                    description="noisy",
                )

    result = dg.materialize(
        [stand_in],
        instance=instance,
        tags={"dagster/asset_partition_range_start": WEEKS[0], "dagster/asset_partition_range_end": WEEKS[-1]},
        raise_on_error=False,
    )
    assert len(warn_evaluations(instance, result.run_id, "tilt_exceeds_noise")) == 3
    alert_on_warn_checks(success_context(instance, result.run_id, alerts))
    [alert] = drain(receive)
    assert "- multipliers:other: 3 of 3 weeks" in alert["body"] and "tilt_exceeds_noise" not in alert["body"]


LIVE = ["2026-03-01", "2026-03-08", "2026-03-15", "2026-03-22"]


def live(week: str) -> str:
    """A clock at which ``week`` is the week trading reads (an hour after it ended)."""
    return (WeekWindows.for_keys([week], 1).ends[0] + pd.Timedelta(hours=1)).isoformat()


def tick(instance, alerts, cursor):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"alerts": alerts})
    alert_on_live_week_warnings(context)
    return context.cursor


def test_a_live_week_warning_alerts_once_while_it_stays_and_again_when_it_clears(ledger, instance, probe):
    alerts, receive = probe
    a, b, c, d = LIVE
    assert run_chain_in_dagster(instance, partition_key=a, now=live(a)).success  # live, clean
    # An old week, not what trading reads: its failing turnover is not alerted.
    old = run_chain_in_dagster(instance, partition_key=b, now=live(d), environ=TINY_TURNOVER)
    assert any(not e.passed for e in warn_evaluations(instance, old.run_id, "turnover_below_threshold"))
    first = run_chain_in_dagster(instance, partition_key=c, now=live(c), environ=TINY_TURNOVER)
    # A single-week run is no backfill: the backfill summary stays silent about it.
    assert alert_on_warn_checks(success_context(instance, first.run_id, alerts)) is None
    cursor = tick(instance, alerts, None)
    [alert] = drain(receive)
    assert alert["subject"] == f"[weighting prod] week {c}: turnover_below_threshold failing"
    body = alert["body"].splitlines()
    assert body[0] == f"Week {c}, published by run {first.run_id}, which trading reads now:"
    assert body[1].startswith("- dynamic_weights:turnover_below_threshold: failing: ") and "> 0%" in body[1], body
    # The next live week fails for the same cause (turnover above 0%): nothing new to say.
    assert run_chain_in_dagster(instance, partition_key=d, now=live(d), environ=TINY_TURNOVER).success
    cursor = tick(instance, alerts, cursor)
    assert drain(receive) == []
    # The same week re-run under the default threshold: the warning clears, and says so once.
    cleared = run_chain_in_dagster(instance, partition_key=d, now=live(d))
    cursor = tick(instance, alerts, cursor)
    [alert] = drain(receive)
    assert alert["subject"] == f"[weighting prod] week {d}: turnover_below_threshold cleared"
    assert f"published by run {cleared.run_id}" in alert["body"]
    assert "- dynamic_weights:turnover_below_threshold: cleared (was failing: turnover above 0%)" in alert["body"]
    tick(instance, alerts, cursor)
    assert drain(receive) == []


def test_a_what_if_run_of_the_live_week_alerts_nothing(ledger, instance, probe):
    alerts, receive = probe
    week = LIVE[0]
    run_config = {"resources": {"settings": {"config": {"turnover_warn": 0.0001}}}}
    assert run_chain_in_dagster(instance, partition_key=previous_week(week), now=live(week)).success
    what_if = run_chain_in_dagster(instance, partition_key=week, now=live(week), run_config=run_config)
    assert any(not e.passed for e in warn_evaluations(instance, what_if.run_id, "turnover_below_threshold"))
    tick(instance, alerts, None)
    assert drain(receive) == []


def test_a_run_dagster_will_retry_does_not_alert(ledger, tmp_path, probe):
    alerts, receive = probe
    overrides = {"run_retries": {"enabled": True, "max_retries": 1, "retry_on_asset_or_op_failure": True}}
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home"), overrides=overrides) as instance:
        failed = run_chain_in_dagster(instance, partition_key="2026-01-04", selection=["dynamic_weights"])
        assert instance.get_run_by_id(failed.run_id).tags.get("dagster/will_retry") == "true"
        # No SkipReason either: a tick that mixed one with an alert for another run would fail and repeat.
        assert alert_on_run_failure(failure_context(instance, failed, alerts)) is None
        assert drain(receive) == []


def test_subjects_fit_sns_and_errors_keep_their_first_line():
    alert = messages.run_failure(
        stage="prod",
        job="j" * 200,
        weeks="2020-01-05...2026-11-22",
        run_id="r",
        step=None,
        error="\n  ValueError: bad\nTraceback ...",
        webserver_url=None,
    )
    assert len(alert.subject) <= 100 and alert.subject.startswith("[weighting prod] run failed")
    assert "Error: ValueError: bad" in alert.body and "Link:" not in alert.body
    assert "Failing step: (none: the run failed outside a step)" in alert.body
    assert (
        messages.run_weeks({"dagster/asset_partition_range_start": "a", "dagster/asset_partition_range_end": "b"})
        == "a...b"
    )


@pytest.mark.parametrize("raw", ["0", "-1", "soon", "inf"])
def test_a_bad_missed_week_delay_is_refused_by_name(raw):
    with pytest.raises(SettingsError, match=rf"ALERTS__MISSED_WEEK_HOURS='{raw}' must be a positive number of hours"):
        alerts_topic("prod", {"ALERTS__MISSED_WEEK_HOURS": raw})


def test_the_missed_week_message_does_not_blame_the_daemon_that_sent_it():
    from weighting_pipeline.alerts import messages

    alert = messages.missed_week(
        stage="prod", week="2026-03-01", week_end="2026-03-08T18:00:00-05:00", hours=2, webserver_url=None
    )
    assert "daemon" not in alert.body and "schedule is off" in alert.body
