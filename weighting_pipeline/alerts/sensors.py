"""The alerting sensors (the daemon evaluates them; each needs ``AlertsTopic``).
The rules they follow are in ``alerts.rules``; docs/runbook.md lists them for operators.

- ``alert_on_run_failure``: every failed run of this code location, once: a run
  that Dagster will retry alerts only when its last attempt fails, naming them all.
- ``alert_on_missed_week``: the latest complete week still unpublished
  ``missed_week_hours`` after it ended, once per week. A scheduled run that
  never starts fails nothing, so the failure sensor cannot see this.
- ``alert_on_live_week_warnings``: the WARN checks of the week trading reads,
  when its own run publishes it: a check that starts failing, changes cause or
  clears. Its cursor holds what people were last told.
- ``alert_on_warn_checks``: a successful backfill (a run over several weeks)
  whose WARN checks failed: one summary per run.

Checks whose spec says ``weighting/alert: never`` are never named.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import dagster as dg
import pandas as pd

from weighting_pipeline.alerts import messages
from weighting_pipeline.alerts.rules import Outcome, backfill_summary, live_week_changes
from weighting_pipeline.assets import ANALYSIS_ASSETS, CHAIN_ASSETS
from weighting_pipeline.assets.checks import ALERT, CAUSE, NEVER
from weighting_pipeline.assets.dynamic_weights import ASSET as WEIGHTS
from weighting_pipeline.assets.dynamic_weights import PROTECTED
from weighting_pipeline.core.calendar import FIRST_WEEK, WeekWindows, current_partition_key
from weighting_pipeline.dagster_internals import get_cursor_value, set_cursor_value
from weighting_pipeline.history import latest_materializations
from weighting_pipeline.resources.alerts import AlertsTopic
from weighting_pipeline.schedules import ANALYSIS_JOB

RUNNING = dg.DefaultSensorStatus.RUNNING
OFF = "ALERTS__SNS_TOPIC_ARN is not set: alerts are off"
WILL_RETRY_TAG = "dagster/will_retry"  # set by Dagster on a failed run when run retries will re-execute it
RETRY_NUMBER_TAG = "dagster/retry_number"
INFORMATIONAL = frozenset(
    spec.key
    for a in (*CHAIN_ASSETS, *ANALYSIS_ASSETS)
    for spec in a.check_specs
    if (spec.metadata or {}).get(ALERT) == NEVER
)


def attempts(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[str]:
    """Run ids of every attempt of ``run``'s run group, the original first (just ``run`` if never retried)."""
    group = instance.get_run_group(run.run_id)
    if group is None:
        return [run.run_id]
    return [r.run_id for r in sorted(group[1], key=lambda r: int(r.tags.get(RETRY_NUMBER_TAG, "0")))]


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    default_status=RUNNING,
    minimum_interval_seconds=30,
    description="Publishes each failed run (job, weeks, run id, failing step, first error line) to SNS.",
)
def alert_on_run_failure(context: dg.RunFailureSensorContext, alerts: AlertsTopic):
    if not alerts.enabled:
        return dg.SkipReason(OFF)
    run = context.instance.get_run_by_id(context.dagster_run.run_id) or context.dagster_run  # tags added at failure
    if run.tags.get(WILL_RETRY_TAG) == "true":
        # Not a SkipReason: one tick handles several runs, and Dagster fails a tick that mixes a
        # SkipReason with handled runs, then hands the same runs over again (and they alert twice).
        context.log.info(f"run {run.run_id} will be retried: only its last attempt alerts")
        return None
    alerts.publish(
        run_failure_alert(
            context.instance, run, alerts, context.get_step_failure_events(), context.failure_event.message
        )
    )


def run_failure_alert(
    instance: dg.DagsterInstance,
    run: dg.DagsterRun,
    alerts: AlertsTopic,
    step_failures: list[dg.DagsterEvent],
    failure_message: str | None,
) -> messages.Alert:
    """The alert for failed ``run``: its first failing step and that step's root error, else
    the run's own failure message. The sensor and the scheduled task (``ops.scheduled``) send it."""
    if step_failures:
        step, error = step_failures[0].step_key, step_failures[0].event_specific_data.error
        while error is not None and error.cause is not None:  # Dagster wraps the user's error: name the root
            error = error.cause
        text = error.message if error is not None else step_failures[0].message
    else:
        step, text = None, failure_message
    return messages.run_failure(
        stage=alerts.stage,
        job=run.job_name,
        weeks=messages.run_weeks(run.tags),
        run_id=run.run_id,
        step=step,
        error=text,
        webserver_url=alerts.webserver_url,
        publishes=run.job_name != ANALYSIS_JOB,
        attempts=attempts(instance, run),
    )


def deadline_of(week: str, hours: float) -> pd.Timestamp:
    """When ``week`` should be published by: its end (Sunday 18:00 New York) plus ``hours`` (UTC).
    The missed-week sensor alerts after it; the scheduled runtime's dead-man datapoint is stamped with it."""
    return WeekWindows.for_keys([week], 1).ends[0].tz_convert("UTC") + pd.Timedelta(hours=hours)


def missed_week_alert(
    instance: dg.DagsterInstance, alerts: AlertsTopic, now: pd.Timestamp, cursor: str | None
) -> tuple[messages.Alert | None, str | None]:
    """The alert for ``now`` (or None) and the new cursor (the last week alerted on)."""
    week = current_partition_key(now, FIRST_WEEK)
    if week is None or week == cursor:
        return None, cursor
    week_end = WeekWindows.for_keys([week], 1).ends[0]
    if now < deadline_of(week, alerts.missed_week_hours):
        return None, cursor
    if week in latest_materializations(instance, "dynamic_weights", [week]):
        return None, cursor
    alert = messages.missed_week(
        stage=alerts.stage,
        week=week,
        week_end=week_end.isoformat(),
        hours=alerts.missed_week_hours,
        webserver_url=alerts.webserver_url,
    )
    return alert, week


@dg.sensor(
    name="alert_on_missed_week",
    default_status=RUNNING,
    minimum_interval_seconds=300,
    description="Publishes to SNS, once per week, when the latest complete week is unpublished hours after it ended.",
)
def alert_on_missed_week(context: dg.SensorEvaluationContext, alerts: AlertsTopic):
    if not alerts.enabled:
        return dg.SkipReason(OFF)
    alert, cursor = missed_week_alert(context.instance, alerts, pd.Timestamp.now(tz="UTC"), context.cursor)
    if alert is None:
        return dg.SkipReason("the latest complete week is published, not yet due, or already alerted on")
    alerts.publish(alert)
    context.update_cursor(cursor)


def warn_outcomes(instance: dg.DagsterInstance, run_id: str) -> list[Outcome]:
    """Each WARN check evaluation the run recorded, informational checks left out."""
    found = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data
        if evaluation.severity != dg.AssetCheckSeverity.WARN or evaluation.asset_check_key in INFORMATIONAL:
            continue
        cause = ""
        if not evaluation.passed:  # evaluations recorded before causes existed: their first line
            recorded = evaluation.metadata.get(CAUSE)
            cause = str(recorded.value) if recorded is not None else messages.first_line(evaluation.description)
        check = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        found.append(
            Outcome(check, evaluation.partition or "-", evaluation.passed, cause, evaluation.description or "")
        )
    return found


@dataclass
class LiveWeekCursor:
    """``after``: the last dynamic_weights materialization looked at (storage id);
    ``watch``: check -> the cause people were last told it fails for."""

    after: int | None = None
    watch: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | None) -> LiveWeekCursor:
        return cls(**json.loads(text)) if text else cls()

    def dump(self) -> str:
        return json.dumps({"after": self.after, "watch": self.watch}, sort_keys=True)


FIRST_LOOK = pd.Timedelta(days=8)  # a new sensor starts with the last week's publications, not all history


def live_week_alerts(
    instance: dg.DagsterInstance, alerts: AlertsTopic, cursor: LiveWeekCursor, now: pd.Timestamp
) -> tuple[list[messages.Alert], LiveWeekCursor]:
    """The alerts of the live-week publications recorded since ``cursor``, and the new cursor.

    A publication counts when its ``dynamic_weights`` materialization says
    ``published`` and ``protected`` (trading read the week when it was written).
    It is read once its run has finished, so that every check of the run is in."""
    since = (
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(WEIGHTS), after_storage_id=cursor.after)
        if cursor.after is not None
        else dg.AssetRecordsFilter(asset_key=dg.AssetKey(WEIGHTS), after_timestamp=(now - FIRST_LOOK).timestamp())
    )
    records = instance.fetch_materializations(since, limit=100, ascending=True).records
    out, watch, after, runs = [], dict(cursor.watch), cursor.after, {}
    for record in records:
        if record.run_id not in runs:  # a backfill's weeks share one run
            runs[record.run_id] = instance.get_run_by_id(record.run_id)
        run = runs[record.run_id]
        if run is not None and not run.is_finished:
            break  # its check evaluations may still be coming; look again next tick
        after = record.storage_id
        metadata = record.asset_materialization.metadata
        if not all(metadata.get(k) is not None and metadata[k].value is True for k in ("published", PROTECTED)):
            continue
        week = record.partition_key
        changes, watch = live_week_changes([o for o in warn_outcomes(instance, record.run_id) if o.week == week], watch)
        if changes:
            out.append(
                messages.live_week_warnings(
                    stage=alerts.stage,
                    week=week,
                    run_id=record.run_id,
                    changes=changes,
                    webserver_url=alerts.webserver_url,
                )
            )
    return out, LiveWeekCursor(after, watch)


# Where the live-week rule's cursor is kept for whoever applies it: this sensor (the services
# runtime, or the UI on demand's daemon) or the scheduled runtime's weekly task (ops.scheduled).
LIVE_WEEK_CURSOR = "weighting_pipeline/alert_on_live_week_warnings"


def shared_cursor(instance: dg.DagsterInstance, own: str | None) -> LiveWeekCursor:
    """The further on of the sensor's own cursor and the one kept in the instance, so that a
    week the weekly task already alerted on is not alerted again by a sensor started later."""
    cursors = [LiveWeekCursor.parse(own), LiveWeekCursor.parse(get_cursor_value(instance, LIVE_WEEK_CURSOR))]
    return max(cursors, key=lambda c: -1 if c.after is None else c.after)


def send_live_week_alerts(
    instance: dg.DagsterInstance, alerts: AlertsTopic, own: str | None, now: pd.Timestamp
) -> tuple[list[str], LiveWeekCursor]:
    """Apply the live-week rule from the shared cursor (``shared_cursor``), publish what it says,
    and keep the new cursor in the instance: the subjects sent, and that cursor. The sensor and
    the scheduled runtime's weekly task (``ops.scheduled``) both call it."""
    sent, cursor = live_week_alerts(instance, alerts, shared_cursor(instance, own), now)
    subjects = [alert.subject for alert in sent if alerts.publish(alert)]
    set_cursor_value(instance, LIVE_WEEK_CURSOR, cursor.dump())
    return subjects, cursor


@dg.sensor(
    name="alert_on_live_week_warnings",
    default_status=RUNNING,
    minimum_interval_seconds=60,
    description="Publishes to SNS the WARN checks of the week trading reads that start failing, change cause or "
    "clear; a check failing for the same cause week after week is alerted once.",
)
def alert_on_live_week_warnings(context: dg.SensorEvaluationContext, alerts: AlertsTopic):
    if not alerts.enabled:
        return dg.SkipReason(OFF)
    sent, cursor = send_live_week_alerts(context.instance, alerts, context.cursor, pd.Timestamp.now(tz="UTC"))
    context.update_cursor(cursor.dump())
    if not sent:
        return dg.SkipReason("no live-week WARN check changed")


def backfill_alert(instance: dg.DagsterInstance, alerts: AlertsTopic, run: dg.DagsterRun) -> messages.Alert | None:
    """The one summary of a successful backfill's WARN failures, or None (no failure, or a single-week run)."""
    weeks = messages.run_weeks(run.tags)
    if "..." not in weeks:
        return None
    summary = backfill_summary(warn_outcomes(instance, run.run_id))
    if not summary:
        return None
    return messages.backfill_warnings(
        stage=alerts.stage, weeks=weeks, run_id=run.run_id, summary=summary, webserver_url=alerts.webserver_url
    )


@dg.run_status_sensor(
    name="alert_on_warn_checks",
    run_status=dg.DagsterRunStatus.SUCCESS,
    default_status=RUNNING,
    minimum_interval_seconds=30,
    description="Publishes to SNS one summary of the WARN checks that failed in a successful backfill.",
)
def alert_on_warn_checks(context: dg.RunStatusSensorContext, alerts: AlertsTopic):
    if not alerts.enabled:
        return dg.SkipReason(OFF)
    alert = backfill_alert(context.instance, alerts, context.dagster_run)
    if alert is None:  # not a SkipReason: see alert_on_run_failure
        context.log.info(f"run {context.dagster_run.run_id}: not a backfill, or no WARN check failed")
        return None
    alerts.publish(alert)


ALERT_SENSORS = [alert_on_run_failure, alert_on_missed_week, alert_on_live_week_warnings, alert_on_warn_checks]
