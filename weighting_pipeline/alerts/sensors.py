"""The alerting sensors (the daemon evaluates them; each needs ``AlertsTopic``).

- ``alert_on_run_failure``: every failed run of this code location.
- ``alert_on_missed_week``: the latest complete week still unpublished
  ``missed_week_hours`` after it ended, once per week. A scheduled run that
  never starts fails nothing, so the failure sensor cannot see this.
- ``alert_on_warn_checks``: a successful run (its weeks are published) whose
  WARN checks failed for some week: one message per run, naming each week and
  check.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd

from weighting_pipeline.alerts import messages
from weighting_pipeline.core.calendar import FIRST_WEEK, WeekWindows, current_partition_key
from weighting_pipeline.history import latest_materializations
from weighting_pipeline.resources.alerts import AlertsTopic
from weighting_pipeline.schedules import ANALYSIS_JOB

RUNNING = dg.DefaultSensorStatus.RUNNING
OFF = "ALERTS__SNS_TOPIC_ARN is not set: alerts are off"


@dg.run_failure_sensor(name="alert_on_run_failure", default_status=RUNNING, minimum_interval_seconds=30,
                       description="Publishes each failed run (job, weeks, run id, failing step, first error line) to SNS.")
def alert_on_run_failure(context: dg.RunFailureSensorContext, alerts: AlertsTopic):
    if not alerts.enabled:
        return dg.SkipReason(OFF)
    run = context.dagster_run
    failures = context.get_step_failure_events()
    if failures:
        step, error = failures[0].step_key, failures[0].event_specific_data.error
        while error is not None and error.cause is not None:  # Dagster wraps the user's error: name the root
            error = error.cause
        text = error.message if error is not None else failures[0].message
    else:
        step, text = None, context.failure_event.message
    alerts.publish(messages.run_failure(stage=alerts.stage, job=run.job_name, weeks=messages.run_weeks(run.tags),
                                        run_id=run.run_id, step=step, error=text, webserver_url=alerts.webserver_url,
                                        publishes=run.job_name != ANALYSIS_JOB))


def missed_week_alert(instance: dg.DagsterInstance, alerts: AlertsTopic, now: pd.Timestamp, cursor: str | None) -> tuple[messages.Alert | None, str | None]:
    """The alert for ``now`` (or None) and the new cursor (the last week alerted on)."""
    week = current_partition_key(now, FIRST_WEEK)
    if week is None or week == cursor:
        return None, cursor
    week_end = WeekWindows.for_keys([week], 1).ends[0]
    if now < week_end + pd.Timedelta(hours=alerts.missed_week_hours):
        return None, cursor
    if week in latest_materializations(instance, "dynamic_weights", [week]):
        return None, cursor
    alert = messages.missed_week(stage=alerts.stage, week=week, week_end=week_end.isoformat(),
                                 hours=alerts.missed_week_hours, webserver_url=alerts.webserver_url)
    return alert, week


@dg.sensor(name="alert_on_missed_week", default_status=RUNNING, minimum_interval_seconds=300,
           description="Publishes to SNS, once per week, when the latest complete week is unpublished hours after it ended.")
def alert_on_missed_week(context: dg.SensorEvaluationContext, alerts: AlertsTopic):
    if not alerts.enabled:
        return dg.SkipReason(OFF)
    alert, cursor = missed_week_alert(context.instance, alerts, pd.Timestamp.now(tz="UTC"), context.cursor)
    if alert is None:
        return dg.SkipReason("the latest complete week is published, not yet due, or already alerted on")
    alerts.publish(alert)
    context.update_cursor(cursor)


def failed_warn_checks(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str, str]]:
    """(week, check, description) of each failed WARN evaluation the run recorded."""
    found = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN:
            check = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            found.append((evaluation.partition or "-", check, evaluation.description or ""))
    return sorted(found)


@dg.run_status_sensor(name="alert_on_warn_checks", run_status=dg.DagsterRunStatus.SUCCESS, default_status=RUNNING,
                      minimum_interval_seconds=30,
                      description="Publishes to SNS the WARN checks that failed on the weeks a successful run published.")
def alert_on_warn_checks(context: dg.RunStatusSensorContext, alerts: AlertsTopic):
    if not alerts.enabled:
        return dg.SkipReason(OFF)
    failures = failed_warn_checks(context.instance, context.dagster_run.run_id)
    if not failures:
        return dg.SkipReason("no WARN check failed")
    alerts.publish(messages.warn_checks(stage=alerts.stage, run_id=context.dagster_run.run_id, failures=failures,
                                        webserver_url=alerts.webserver_url))


ALERT_SENSORS = [alert_on_run_failure, alert_on_missed_week, alert_on_warn_checks]
