"""The ``scheduled`` runtime's weekly task: what the daemon would have done, in one process.

EventBridge Scheduler starts one ECS task on Sunday 18:00 New York with the command
``weighting-pipeline scheduled-run``. It:

1. opens Dagster's instance, retrying the first connection while Aurora Serverless
   resumes from a pause (``open_instance``);
2. evaluates the project's own weekly schedule at its latest tick, so the run has the
   schedule's partition and tags, and executes the weekly job in this process against
   the instance (same job, checks, IO managers and publication rules as a run the
   daemon launches; it is recorded in the same storage);
3. runs the analysis job for the weeks it published, as ``analysis_after_publication`` would;
4. sends, itself, what the alert sensors would: a failed run (``run_failure_alert``) and
   the live week's WARN changes (``live_week_alerts``, whose cursor it keeps in the instance);
5. after the week is published, puts the dead-man datapoint (``put_published``) that keeps
   the stack's missed-week alarm quiet (when alerts are on); if CloudWatch refuses it, says
   so in an alert rather than failing a task whose week is out.

Its exit code says what happened, for the stack's task-state rule: 0 the week ran
(published or refused by the rules, as the run recorded), ``EXIT_RUN_FAILED`` a run failed
and this task sent the alert, anything else the task died before it could say so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import boto3
import dagster as dg
import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError

from weighting_pipeline.alerts import messages
from weighting_pipeline.alerts.sensors import deadline_of, run_failure_alert, send_live_week_alerts
from weighting_pipeline.core.calendar import WeekWindows, latest_complete_week
from weighting_pipeline.resources.alerts import AlertsTopic
from weighting_pipeline.schedules import ANALYSIS_JOB, SCHEDULE, WEIGHTING_JOB, analysis_request, published_weeks

log = logging.getLogger("weighting_pipeline.scheduled")

EXIT_RUN_FAILED = 3
RUNTIME_TAG = "weighting/runtime"  # "scheduled" on the runs this task makes
# The dead-man metric: one datapoint per published live week (CloudWatch, namespace/metric/dimension).
DEADMAN_NAMESPACE, DEADMAN_METRIC, DEADMAN_DIMENSION = "WeightingPipeline", "LiveWeekPublished", "Stage"
# CloudWatch takes datapoints up to two hours ahead of its clock; keep a margin for clock skew.
MAX_AHEAD = pd.Timedelta(minutes=115)
CONNECT_TIMEOUT_SECONDS = 180.0  # Aurora resumes in about 15 s; a pause of over a day can take longer


def open_instance(
    get: Callable[[], dg.DagsterInstance] = dg.DagsterInstance.get,
    timeout: float = CONNECT_TIMEOUT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[dg.DagsterInstance, float]:
    """Dagster's instance once its storage answers, and the seconds waited for it.

    The first connection to a paused Aurora Serverless database is refused or times out
    while it resumes; this retries such connection errors (``unreachable``) from opening
    the instance or from its first query, 1 s, 2 s, 4 s ... apart (at most 15 s), until
    ``timeout`` seconds have passed, then raises the last one with how long it tried.
    Any other error (a bad password, a missing task definition) is raised at once."""
    started, delay, attempt = clock(), 1.0, 0
    while True:
        attempt += 1
        try:
            instance = get()
            instance.get_runs_count()
            return instance, clock() - started
        except Exception as exc:
            if not unreachable(exc):
                raise
            waited = clock() - started
            if waited + delay > timeout:
                raise RuntimeError(
                    f"Dagster's storage did not answer within {timeout:.0f} s ({attempt} attempts): "
                    f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                ) from exc
            log.warning("Dagster's storage is not answering yet (attempt %d, %.0f s): %s", attempt, waited, exc)
            sleep(delay)
            delay = min(delay * 2, 15.0)


def unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (or an error it was raised from) is a database connection that failed:
    SQLAlchemy's OperationalError or InterfaceError, or an OSError (refused, timed out)."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (OperationalError, InterfaceError, OSError)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def schedule_tick(definitions: dg.Definitions, now: pd.Timestamp) -> tuple[pd.Timestamp, dg.RunRequest]:
    """The weekly schedule's latest tick at or before ``now`` (the latest week's end), and the run it requests then."""
    schedule = definitions.resolve_schedule_def(SCHEDULE)
    # The schedule ticks at each partition's end (build_schedule_from_partitioned_job).
    tick = WeekWindows.for_keys([latest_complete_week(now)], 1).ends[0]
    data = schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=tick.to_pydatetime()))
    [request] = data.run_requests or [None]
    if request is None:
        raise RuntimeError(f"the schedule {SCHEDULE} requested no run at {tick.isoformat()}: {data.skip_message}")
    return tick, request


def datapoint_time(week: str, hours: float, now: pd.Timestamp) -> pd.Timestamp:
    """The time the dead-man datapoint of ``week`` is stamped with: its deadline, so the alarm's
    seven-day window runs out at the next week's deadline, but never further ahead of ``now``
    than CloudWatch accepts (then the window runs out up to ``hours`` - 2 h sooner)."""
    return min(deadline_of(week, hours), now + MAX_AHEAD)


def put_published(cloudwatch, stage: str, week: str, at: pd.Timestamp) -> None:
    """One datapoint (value 1, count) of the dead-man metric for ``stage``, stamped ``at``."""
    cloudwatch.put_metric_data(
        Namespace=DEADMAN_NAMESPACE,
        MetricData=[
            {
                "MetricName": DEADMAN_METRIC,
                "Dimensions": [{"Name": DEADMAN_DIMENSION, "Value": stage}],
                "Timestamp": at.to_pydatetime(),
                "Value": 1.0,
                "Unit": "Count",
            }
        ],
    )
    log.info("Dead-man datapoint for week %s put at %s", week, at.isoformat())


@dataclass
class Outcome:
    """What the task did: the week, the runs it made (job -> run id), the weeks published, the
    alerts it sent (subjects), and its exit code."""

    week: str
    runs: dict[str, str] = field(default_factory=dict)
    published: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    exit_code: int = 0


def _execute(
    definitions: dg.Definitions, job: str, instance: dg.DagsterInstance, tags: dict, run_config: dict
) -> dg.ExecuteInProcessResult:
    return definitions.resolve_job_def(job).execute_in_process(
        instance=instance, tags=tags, run_config=run_config, raise_on_error=False
    )


def _failed(instance, result, alerts: AlertsTopic, outcome: Outcome) -> None:
    run = instance.get_run_by_id(result.run_id)
    steps = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    failure = [e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE]
    alert = run_failure_alert(instance, run, alerts, steps, failure[0].message if failure else None)
    if alerts.publish(alert):
        outcome.alerts.append(alert.subject)
    outcome.exit_code = EXIT_RUN_FAILED


def _put_deadman(cloudwatch, alerts: AlertsTopic, week: str, now: pd.Timestamp, outcome: Outcome) -> None:
    """The published week's dead-man datapoint; if CloudWatch refuses it, an alert saying so
    (the week is out: the task did not die)."""
    try:
        put_published(
            cloudwatch or boto3.client("cloudwatch"),
            alerts.stage,
            week,
            datapoint_time(week, alerts.missed_week_hours, now),
        )
    except (BotoCoreError, ClientError) as exc:
        log.error("Dead-man datapoint for week %s not put: %s", week, exc)
        alert = messages.deadman_not_put(stage=alerts.stage, week=week, error=str(exc))
        if alerts.publish(alert):
            outcome.alerts.append(alert.subject)


def run_week(
    definitions: dg.Definitions,
    instance: dg.DagsterInstance,
    alerts: AlertsTopic,
    now: pd.Timestamp,
    cloudwatch=None,
    publication_now: str | None = None,
) -> Outcome:
    """The weekly task at ``now``: the schedule's run, the analysis, the alerts, the dead-man datapoint.

    ``publication_now`` sets the publication rules' clock (rehearsals and tests; default the real one)."""
    tick, request = schedule_tick(definitions, now)
    week = str(request.partition_key)
    outcome = Outcome(week)
    run_config = {"resources": {"publication": {"config": {"now": publication_now}}}} if publication_now else {}
    tags = {
        **request.tags,
        "dagster/partition": week,
        "dagster/schedule_name": SCHEDULE,
        RUNTIME_TAG: "scheduled",
        "weighting/scheduled_at": tick.isoformat(),
    }
    log.info("Week %s (the schedule's tick at %s): running %s", week, tick.isoformat(), WEIGHTING_JOB)
    result = _execute(definitions, WEIGHTING_JOB, instance, tags, run_config)
    outcome.runs[WEIGHTING_JOB] = result.run_id
    if not result.success:
        _failed(instance, result, alerts, outcome)
    else:
        outcome.published = published_weeks(instance, result.run_id)
        if week not in outcome.published:
            log.warning("Week %s was not published by run %s (see its dynamic_weights metadata)", week, result.run_id)
        elif alerts.enabled:
            _put_deadman(cloudwatch, alerts, week, now, outcome)
        analysis = analysis_request(instance, result.run_id)
        if analysis is not None:
            analysis_tags = {**analysis.tags, RUNTIME_TAG: "scheduled"}
            if analysis.partition_key:
                analysis_tags["dagster/partition"] = analysis.partition_key
            done = _execute(definitions, ANALYSIS_JOB, instance, analysis_tags, run_config)
            outcome.runs[ANALYSIS_JOB] = done.run_id
            if not done.success:
                _failed(instance, done, alerts, outcome)
    if alerts.enabled:
        outcome.alerts += send_live_week_alerts(instance, alerts, None, now)[0]
    return outcome
