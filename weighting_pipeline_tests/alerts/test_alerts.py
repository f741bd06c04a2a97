"""Alerts through moto's SNS to an SQS probe queue, from runs Dagster recorded."""

import uuid

import boto3
import dagster as dg
import pandas as pd
import pytest

from weighting_pipeline.alerts import messages
from weighting_pipeline.alerts.sensors import alert_on_missed_week, alert_on_run_failure, alert_on_warn_checks, missed_week_alert
from weighting_pipeline.core.calendar import WeekWindows
from weighting_pipeline.definitions import alerts_topic
from weighting_pipeline.devtools.infrastructure import create_alerts_topic, receive_alerts
from weighting_pipeline.resources.alerts import AlertsTopic
from weighting_pipeline.settings import SettingsError
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
        sensor_name="alert_on_run_failure", dagster_event=failure.dagster_event, dagster_instance=instance,
        dagster_run=run, resources={"alerts": alerts},
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


def test_warn_checks_of_a_published_range_are_one_message_naming_each_week(ledger, instance, probe):
    alerts, receive = probe
    result = run_chain_in_dagster(instance, partition_range=(WEEKS[0], WEEKS[-1]), environ={"TURNOVER_WARN_THRESHOLD": "0.0001"})
    assert result.success
    run = instance.get_run_by_id(result.run_id)
    [success] = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS)
    context = dg.build_run_status_sensor_context(sensor_name="alert_on_warn_checks", dagster_event=success.dagster_event,
                                                 dagster_instance=instance, dagster_run=run, resources={"alerts": alerts})
    alert_on_warn_checks(context)
    [alert] = receive()
    # The first week has no earlier week to compare with; the next two moved more than 0.01%.
    assert alert["subject"] == f"[weighting prod] dynamic_weights:turnover_below_threshold: week {WEEKS[1]}...{WEEKS[2]} (2 weeks)"
    lines = alert["body"].splitlines()
    assert lines[0] == f"Published with warnings (run {run.run_id}):"
    assert [line.split(":")[0] for line in lines[1:-1]] == [f"- week {WEEKS[1]}", f"- week {WEEKS[2]}"]
    assert lines[-1] == f"Link: {UI}/runs/{run.run_id}"


def test_subjects_fit_sns_and_errors_keep_their_first_line():
    alert = messages.run_failure(stage="prod", job="j" * 200, weeks="2020-01-05...2026-11-22", run_id="r",
                                 step=None, error="\n  ValueError: bad\nTraceback ...", webserver_url=None)
    assert len(alert.subject) <= 100 and alert.subject.startswith("[weighting prod] run failed")
    assert "Error: ValueError: bad" in alert.body and "Link:" not in alert.body
    assert "Failing step: (none: the run failed outside a step)" in alert.body
    assert messages.run_weeks({"dagster/asset_partition_range_start": "a", "dagster/asset_partition_range_end": "b"}) == "a...b"


@pytest.mark.parametrize("raw", ["0", "-1", "soon", "inf"])
def test_a_bad_missed_week_delay_is_refused_by_name(raw):
    with pytest.raises(SettingsError, match=rf"ALERTS__MISSED_WEEK_HOURS='{raw}' must be a positive number of hours"):
        alerts_topic("prod", {"ALERTS__MISSED_WEEK_HOURS": raw})


def test_the_missed_week_message_does_not_blame_the_daemon_that_sent_it():
    from weighting_pipeline.alerts import messages

    alert = messages.missed_week(stage="prod", week="2026-03-01", week_end="2026-03-08T18:00:00-05:00", hours=2, webserver_url=None)
    assert "daemon" not in alert.body and "schedule is off" in alert.body
