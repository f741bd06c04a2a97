"""What the rehearsal simulates of AWS in the scheduled runtime (``devtools/eventbridge.py`` and
``moto_gaps``), checked against the template's own rule and alarm."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cfnlint.decode import decode

from weighting_pipeline.ops.scheduled import EXIT_RUN_FAILED
from weighting_pipeline_devtools.eventbridge import alarm_state, task_state_change

TEMPLATE = Path(__file__).resolve().parents[1] / "deploy" / "cloudformation" / "weighting-pipeline.yaml"


@pytest.fixture(scope="module")
def resources():
    decoded, problems = decode(str(TEMPLATE))
    assert not problems
    return decoded["Resources"]


def stopped(exit_code, stop_code="EssentialContainerExited", group="weekly-schedule") -> dict:
    task = {
        "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/weighting-pipeline-prod",
        "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/weighting-pipeline-prod/abc",
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/weighting-pipeline-run-prod:1",
        "group": group,
        "containers": [{"name": "run"}],
    }
    entry = task_state_change(task, exit_code, stop_code, "Essential container in task exited")
    return {"source": entry["Source"], "detail-type": entry["DetailType"], "detail": json.loads(entry["Detail"])}


@pytest.mark.parametrize(
    "event, alerts",
    [
        (stopped(137), True),  # killed (out of memory): died before it could say so
        (stopped(1), True),  # a crash outside Dagster
        (stopped(None, "TaskFailedToStart"), True),  # the image could not be pulled
        (stopped(0), False),  # the week ran
        (stopped(EXIT_RUN_FAILED), False),  # a run failed and the task sent that alert itself
        (stopped(137, group="ui-on-demand"), False),  # not the weekly task
    ],
)
def test_the_dead_task_rule_matches_exactly_the_tasks_that_died_unreported(resources, event, alerts):
    from moto.events.models import EventPattern

    import weighting_pipeline_devtools.moto_gaps  # noqa: F401  (EventBridge's matching of arrays)

    pattern = resources["WeeklyTaskDiedRule"]["Properties"]["EventPattern"]
    pattern["detail"]["clusterArn"] = [event["detail"]["clusterArn"]]  # the template's is a GetAtt
    assert EventPattern.load(json.dumps(pattern)).matches_event(event) is alerts


NOW = datetime(2026, 12, 14, 3, 0, tzinfo=timezone.utc)


def alarm(resources, **changes) -> dict:
    props = {**resources["MissedWeekAlarm"]["Properties"], **changes}
    return {k: props[k] for k in ("Period", "EvaluationPeriods", "DatapointsToAlarm", "Statistic", "Threshold")} | {
        "ComparisonOperator": props["ComparisonOperator"],
        "TreatMissingData": props["TreatMissingData"],
    }


@pytest.mark.parametrize(
    "published_ago, state",
    [
        (timedelta(days=6, hours=22), "OK"),  # last week's datapoint is still in the seven-day window
        (timedelta(days=7, hours=2), "ALARM"),  # it has left the window and no week followed
        (None, "ALARM"),  # nothing ever published: missing data breaches
    ],
)
def test_the_missed_week_alarm_breaches_seven_days_after_the_last_datapoint(resources, published_ago, state):
    points = [] if published_ago is None else [{"Timestamp": NOW - published_ago, "Sum": 1.0}]
    assert alarm_state(alarm(resources), points, NOW)[0] == state


def test_without_breaching_missing_data_the_same_silence_would_say_nothing(resources):
    assert alarm_state(alarm(resources, TreatMissingData="missing"), [], NOW)[0] == "INSUFFICIENT_DATA"
