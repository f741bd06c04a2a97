"""The scheduled runtime's weekly task (``ops.scheduled``): the schedule's run in one process,
its analysis, the alerts the sensors would send, and the dead-man datapoint; against
DynamoDB Local, moto's SNS and CloudWatch, and a Dagster instance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import dagster as dg
import pandas as pd
import pytest

from weighting_pipeline.alerts.sensors import LIVE_WEEK_CURSOR, alert_on_live_week_warnings
from weighting_pipeline.core.calendar import WeekWindows
from weighting_pipeline.ops.scheduled import (
    DEADMAN_DIMENSION,
    DEADMAN_METRIC,
    DEADMAN_NAMESPACE,
    EXIT_RUN_FAILED,
    RUNTIME_TAG,
    datapoint_time,
    deadline_of,
    open_instance,
    run_week,
)
from weighting_pipeline.resources.alerts import AlertsTopic
from weighting_pipeline.schedules import ANALYSIS_JOB, SCHEDULE, SCHEDULED_PRIORITY, WEIGHTING_JOB
from weighting_pipeline_devtools.infrastructure import create_alerts_topic, receive_alerts
from weighting_pipeline_tests.conftest import build_definitions

REPO = Path(__file__).resolve().parents[1]


def week_end(week: str) -> pd.Timestamp:
    return WeekWindows.for_keys([week], 1).ends[0].tz_convert("UTC")


def at_tick(week: str, minutes: int = 1) -> pd.Timestamp:
    """When EventBridge Scheduler's task for ``week`` runs: ``minutes`` after the week's end."""
    return week_end(week) + pd.Timedelta(minutes=minutes)


@pytest.fixture
def probe(aws):
    sqs = boto3.client("sqs", region_name="us-east-1")
    topic, queue = create_alerts_topic(boto3.client("sns", region_name="us-east-1"), sqs, f"t{uuid.uuid4().hex[:8]}")
    return AlertsTopic(topic_arn=topic, stage=f"s{uuid.uuid4().hex[:6]}"), lambda: receive_alerts(sqs, queue)


def datapoints(alerts: AlertsTopic, around: pd.Timestamp) -> list[dict]:
    got = boto3.client("cloudwatch", region_name="us-east-1").get_metric_statistics(
        Namespace=DEADMAN_NAMESPACE,
        MetricName=DEADMAN_METRIC,
        Dimensions=[{"Name": DEADMAN_DIMENSION, "Value": alerts.stage}],
        StartTime=(around - pd.Timedelta(days=8)).to_pydatetime(),
        EndTime=(around + pd.Timedelta(days=1)).to_pydatetime(),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    return sorted(got, key=lambda d: d["Timestamp"])


def task(instance, alerts, now: pd.Timestamp, environ: dict | None = None, cloudwatch=None):
    """The weekly task at ``now``, its definitions built as the code location builds them."""
    from unittest import mock

    environ = {**os.environ, **(environ or {})}
    definitions = build_definitions(environ)
    with mock.patch.dict(os.environ, environ, clear=True):  # as in the task's container
        return run_week(definitions, instance, alerts, now, cloudwatch=cloudwatch, publication_now=now.isoformat())


def test_the_task_runs_the_schedules_week_then_its_analysis_and_puts_the_deadman_datapoint(ledger, instance, probe):
    alerts, receive = probe
    week, now = "2026-03-08", at_tick("2026-03-08", 30)
    outcome = task(instance, alerts, now)
    assert (outcome.week, outcome.published, outcome.exit_code) == (week, [week], 0)
    run = instance.get_run_by_id(outcome.runs[WEIGHTING_JOB])
    # The schedule's own request: its partition and priority, recorded as a scheduled run.
    assert run.status == dg.DagsterRunStatus.SUCCESS and run.tags["dagster/partition"] == week
    assert run.tags["dagster/priority"] == SCHEDULED_PRIORITY and run.tags["dagster/schedule_name"] == SCHEDULE
    assert run.tags[RUNTIME_TAG] == "scheduled"
    analysis = instance.get_run_by_id(outcome.runs[ANALYSIS_JOB])
    assert analysis.status == dg.DagsterRunStatus.SUCCESS and analysis.tags["dagster/partition"] == week
    assert instance.get_latest_materialization_event(dg.AssetKey("tilt_report")) is not None
    # Trading's reader serves the week.
    from weighting_pipeline.core.baseline import packaged_config_path
    from weighting_pipeline_reader import get_strategy_profile

    trading = json.loads(packaged_config_path("prod").read_text())  # trading's strategy.prod.json, as its file holds it
    profile = get_strategy_profile(
        trading,
        now=(now + pd.Timedelta(minutes=5)).to_pydatetime(),
    )
    assert week in profile.source, profile.source
    # One datapoint, stamped at the week's deadline (its end + ALERTS__MISSED_WEEK_HOURS).
    [point] = datapoints(alerts, now)
    assert pd.Timestamp(point["Timestamp"]) == deadline_of(week, alerts.missed_week_hours) and point["Sum"] == 1
    assert receive() == []  # nothing failed, no WARN check failed


def test_a_failed_run_alerts_from_the_task_exits_3_and_puts_no_datapoint(ledger, instance, probe, monkeypatch):
    alerts, receive = probe
    week, now = "2026-03-15", at_tick("2026-03-15")
    monkeypatch.setenv("TRADE_LEDGER__TABLE_NAME", "no-such-ledger")
    outcome = task(instance, alerts, now)
    assert outcome.exit_code == EXIT_RUN_FAILED and outcome.published == [] and ANALYSIS_JOB not in outcome.runs
    [alert] = receive()
    assert alert["subject"] == f"[weighting {alerts.stage}] run failed: weeks {week}"
    assert f"Run {outcome.runs[WEIGHTING_JOB]} failed." in alert["body"]
    assert "Failing step: closed_lots" in alert["body"] and "no-such-ledger" in alert["body"], alert["body"]
    assert datapoints(alerts, now) == []


def test_a_published_week_whose_datapoint_cloudwatch_refuses_is_said_in_an_alert_not_a_dead_task(
    ledger, instance, probe
):
    from botocore.config import Config

    alerts, receive = probe
    unreachable = boto3.client(
        "cloudwatch",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",  # nothing listens: CloudWatch cannot be reached
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    outcome = task(instance, alerts, at_tick("2026-03-08", 30), cloudwatch=unreachable)
    assert outcome.published == ["2026-03-08"] and outcome.exit_code == 0
    [alert] = receive()
    assert alert["subject"] == f"[weighting {alerts.stage}] week 2026-03-08: missed-week alarm not fed"
    assert "Could not connect to the endpoint URL" in alert["body"]


def test_the_live_week_warning_rule_runs_in_the_task_once_per_cause(ledger, instance, probe):
    alerts, receive = probe
    tiny = {"TURNOVER_WARN_THRESHOLD": "0.0001"}
    assert task(instance, alerts, at_tick("2026-03-01"), tiny).alerts == []  # no earlier week: no turnover
    first = task(instance, alerts, at_tick("2026-03-08"), tiny)
    [alert] = receive()
    assert alert["subject"] == f"[weighting {alerts.stage}] week 2026-03-08: turnover_below_threshold failing"
    assert first.alerts == [alert["subject"]]
    # The next week fails for the same cause: the task's cursor, kept in the instance, knows it was said.
    from weighting_pipeline.dagster_internals import get_cursor_value

    assert get_cursor_value(instance, LIVE_WEEK_CURSOR)
    second = task(instance, alerts, at_tick("2026-03-15"), tiny)
    assert second.published == ["2026-03-15"] and second.alerts == [] and receive() == []
    # The UI on demand's daemon starts the sensor afresh: it takes up the task's cursor, and repeats nothing.
    context = dg.build_sensor_context(instance=instance, cursor=None, resources={"alerts": alerts})
    alert_on_live_week_warnings(context)
    assert receive() == []


@pytest.mark.parametrize(
    "minutes, stamp",
    [
        (30, "deadline"),  # the run is 30 min in: the deadline is 90 min ahead, within CloudWatch's two hours
        (1, "1h55m on"),  # 119 min ahead is too close to CloudWatch's limit: 1 h 55 min after the run
        (300, "deadline"),  # a late run (by hand, after the deadline): the deadline, in the past
    ],
)
def test_the_datapoint_is_stamped_at_the_deadline_never_more_than_cloudwatch_takes_ahead(minutes, stamp):
    week = "2026-11-29"
    now = at_tick(week, minutes)
    expected = deadline_of(week, 2.0) if stamp == "deadline" else now + pd.Timedelta(hours=1, minutes=55)
    assert datapoint_time(week, 2.0, now) == expected


def test_the_deadline_follows_new_york_across_daylight_saving():
    # Sunday 18:00 New York is 22:00 UTC in summer and 23:00 UTC in winter.
    assert deadline_of("2026-06-07", 2.0) == pd.Timestamp("2026-06-15 00:00", tz="UTC")
    assert deadline_of("2026-11-29", 2.0) == pd.Timestamp("2026-12-07 01:00", tz="UTC")


class FlakyStorage:
    """An instance getter that fails ``failures`` times, as a paused Aurora does while it resumes."""

    def __init__(self, failures: int, instance):
        self.failures, self.instance, self.calls = failures, instance, 0

    def __call__(self):
        self.calls += 1
        if self.calls <= self.failures:
            raise OSError("connection refused")
        return self.instance


def test_the_first_connection_is_retried_with_growing_pauses_until_the_storage_answers(instance):
    slept, clock = [], [0.0]

    def sleep(seconds):
        slept.append(seconds)
        clock[0] += seconds

    got, waited = open_instance(FlakyStorage(4, instance), timeout=60, sleep=sleep, clock=lambda: clock[0])
    assert got is instance and slept == [1, 2, 4, 8] and waited == 15


def test_a_storage_that_never_answers_fails_naming_how_long_it_tried(instance):
    clock = [0.0]

    def sleep(seconds):
        clock[0] += seconds

    with pytest.raises(RuntimeError, match=r"did not answer within 20 s \(5 attempts\): OSError: connection refused"):
        open_instance(FlakyStorage(99, instance), timeout=20, sleep=sleep, clock=lambda: clock[0])


def test_an_error_that_is_not_a_connection_is_raised_at_once(instance):
    def get():
        raise ValueError("storage pool in dagster.yaml: pool_size must be >= 2")

    with pytest.raises(ValueError, match="pool_size"):
        open_instance(get, timeout=60, sleep=lambda s: pytest.fail("retried a configuration error"))


def test_the_command_waits_for_a_database_that_starts_late(tmp_path, deployment, aws):
    """``weighting-pipeline scheduled-run`` in the template's run container, against
    deploy/dagster.yaml on a PostgreSQL that is not up yet, as a paused Aurora is not: it
    retries, then gets as far as the week."""
    import shutil

    from weighting_pipeline_devtools.postgres import LocalPostgres

    server = LocalPostgres()
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    # What the template's run task definition gives the task, but a database that is not up yet.
    env = {
        **os.environ,
        **deployment.run_container().env(),
        **server.env(),
        "DAGSTER_HOME": str(home),
        "TRADE_LEDGER__TABLE_NAME": "no-such-ledger",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "weighting_pipeline.cli", "scheduled-run", "--now", "2026-03-15T19:01:00-04:00"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # The database starts once the task has found it down and is retrying, as Aurora resumes.
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "Retrying failed database connection" in line or "not answering yet" in line:
            break
    refused_at = time.monotonic()
    with server:
        up_after = time.monotonic() - refused_at
        out = "".join(lines) + proc.communicate(timeout=240)[0]
    assert "Dagster's storage answered after" in out, out
    waited = float(out.split("Dagster's storage answered after ")[1].split(" s")[0])
    assert waited >= up_after > 0, (waited, up_after)
    # It went on to run the week: the ledger table is missing, so the run failed and exited 3.
    assert proc.returncode == EXIT_RUN_FAILED, out


@pytest.mark.parametrize(
    "args, environ, message",
    [
        (["--now", "Sunday evening"], {}, "--now 'Sunday evening' is not an ISO-8601 time"),
        (["--now", "2026-03-15T19:00:00"], {}, "--now '2026-03-15T19:00:00' has no time zone offset"),
        ([], {"APP__STAGE": "bogus"}, "APP__STAGE='bogus' is not a known stage"),
    ],
)
def test_the_command_names_a_bad_clock_or_setting_without_a_traceback(args, environ, message, monkeypatch):
    from click.testing import CliRunner

    from weighting_pipeline.cli import main

    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    done = CliRunner().invoke(main, ["scheduled-run", *args])
    assert done.exit_code in (1, 2) and message in done.output and "Traceback" not in done.output, done.output
