"""What AWS does by itself in the scheduled runtime, which moto records but never does.

- ``fire_schedule``: EventBridge Scheduler's tick. The schedule is read back from the
  deployed stack (``GetSchedule``) and its templated ECS target becomes the ``RunTask``
  call the scheduler makes: cluster, task definition, launch type, group, network and tags
  as the target names them.
- ``task_state_change``: the "ECS Task State Change" event ECS puts on the default bus when
  a task stops, with the exit code of its container (moto's tasks have none); the Fargate
  stand-in puts one for each task it stops, so the stack's rules see them.
- ``evaluate_alarm``: CloudWatch's evaluation of a metric alarm at a given time, from the
  alarm's own definition and the datapoints moto holds, and the notification CloudWatch
  sends to the alarm's actions when its state changes.

Each is a simulation of AWS's documented behaviour, named here so that what the rehearsal
proves and what it assumes stay apart.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any


def _pick(mapping: dict, *names: str) -> Any:
    """The first of ``names`` in ``mapping`` (the API's camelCase, or the template's PascalCase)."""
    for name in names:
        if name in mapping:
            return mapping[name]
    return None


def fire_schedule(scheduler, ecs, name: str, overrides: dict | None = None) -> str:
    """Start the task schedule ``name`` targets, as EventBridge Scheduler does at a tick; its ARN.

    ``overrides`` (RunTask's) stand for the target's ``Input``, which the scheduler passes to
    RunTask as its overrides; the rehearsal uses them to make a run fail or a task die."""
    schedule = scheduler.get_schedule(Name=name)
    if schedule.get("State") != "ENABLED":
        raise RuntimeError(f"schedule {name} is {schedule.get('State')}: EventBridge Scheduler would not fire it")
    target = schedule["Target"]
    ecs_parameters = target["EcsParameters"]
    network = _pick(ecs_parameters.get("NetworkConfiguration", {}), "awsvpcConfiguration", "AwsvpcConfiguration")
    request: dict[str, Any] = {
        "cluster": target["Arn"],
        "taskDefinition": ecs_parameters["TaskDefinitionArn"],
        "count": int(ecs_parameters.get("TaskCount", 1)),
        "launchType": ecs_parameters.get("LaunchType", "FARGATE"),
        "enableECSManagedTags": bool(ecs_parameters.get("EnableECSManagedTags", False)),
        "startedBy": "events-scheduler",
    }
    if ecs_parameters.get("Group"):
        request["group"] = ecs_parameters["Group"]
    if network:
        request["networkConfiguration"] = {
            "awsvpcConfiguration": {
                "subnets": _pick(network, "Subnets", "subnets"),
                "securityGroups": _pick(network, "SecurityGroups", "securityGroups") or [],
                "assignPublicIp": _pick(network, "AssignPublicIp", "assignPublicIp") or "DISABLED",
            }
        }
    given = json.loads(target["Input"]) if target.get("Input") else None
    if given or overrides:
        request["overrides"] = {**(given or {}), **(overrides or {})}
    [task] = ecs.run_task(**request)["tasks"]
    return task["taskArn"]


def task_state_change(task: dict, exit_code: int | None, stop_code: str, reason: str) -> dict:
    """The PutEvents entry of the "ECS Task State Change" event ECS sends when ``task`` stops."""
    containers = [
        {"name": c.get("name"), **({"exitCode": exit_code} if exit_code is not None else {})}
        for c in task.get("containers", [])
    ] or [{"name": "run", **({"exitCode": exit_code} if exit_code is not None else {})}]
    detail = {
        "clusterArn": task["clusterArn"],
        "taskArn": task["taskArn"],
        "taskDefinitionArn": task["taskDefinitionArn"],
        "group": task.get("group", ""),
        "lastStatus": "STOPPED",
        "desiredStatus": "STOPPED",
        "stopCode": stop_code,
        "stoppedReason": reason,
        "containers": containers,
    }
    return {
        "Source": "aws.ecs",
        "DetailType": "ECS Task State Change",
        "Detail": json.dumps(detail),
        "Resources": [task["taskArn"]],
    }


OPERATORS = {
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
}


def alarm_state(alarm: dict, datapoints: list[dict], now: datetime) -> tuple[str, str]:
    """(state, reason) of ``alarm`` at ``now`` from its metric's ``datapoints`` (GetMetricStatistics'
    rows): the last EvaluationPeriods whole periods before ``now``, each breaching when its
    statistic crosses the threshold or, with ``TreatMissingData: breaching``, when it is empty;
    ALARM when DatapointsToAlarm of them breach. Only what the stack's alarms use is modelled:
    one metric, a static threshold, missing data breaching, notBreaching, missing or ignore."""
    period = timedelta(seconds=int(alarm["Period"]))
    n = int(alarm["EvaluationPeriods"])
    m = int(alarm.get("DatapointsToAlarm") or n)
    statistic, threshold = alarm["Statistic"], float(alarm["Threshold"])
    crosses = OPERATORS[alarm["ComparisonOperator"]]
    missing = alarm.get("TreatMissingData", "missing")
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    end = epoch + ((now - epoch) // period) * period  # periods are aligned to the period
    buckets: dict[datetime, float] = {}
    for point in datapoints:
        at = point["Timestamp"].astimezone(timezone.utc)
        start = epoch + ((at - epoch) // period) * period
        buckets[start] = buckets.get(start, 0.0) + float(point[statistic])
    breaching = empty = 0
    for i in range(1, n + 1):
        start = end - i * period
        if start in buckets:
            breaching += crosses(buckets[start], threshold)
        else:
            empty += 1
            breaching += missing == "breaching"
    if empty == n and missing in ("missing", "ignore"):
        return "INSUFFICIENT_DATA", f"no datapoints in the last {n} periods"
    state = "ALARM" if breaching >= m else "OK"
    return state, f"{breaching} of the last {n} periods of {period} breaching ({empty} without data; {m} alarm it)"


def evaluate_alarm(cloudwatch, sns, name: str, now: datetime) -> str:
    """Evaluate alarm ``name`` at ``now`` as CloudWatch would, set its state, and on a change
    notify its actions (AlarmActions for ALARM, OKActions for OK) with CloudWatch's JSON; the state."""
    [alarm] = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    window = timedelta(seconds=int(alarm["Period"]) * (int(alarm["EvaluationPeriods"]) + 1))
    datapoints = cloudwatch.get_metric_statistics(
        Namespace=alarm["Namespace"],
        MetricName=alarm["MetricName"],
        Dimensions=alarm.get("Dimensions", []),
        StartTime=now - window,
        EndTime=now,
        Period=int(alarm["Period"]),
        Statistics=[alarm["Statistic"]],
    )["Datapoints"]
    state, reason = alarm_state(alarm, datapoints, now)
    old = alarm.get("StateValue")
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)
    if state != old and alarm.get("ActionsEnabled", True):
        actions = {"ALARM": alarm.get("AlarmActions", []), "OK": alarm.get("OKActions", [])}.get(state, [])
        message = {
            "AlarmName": name,
            "AlarmDescription": alarm.get("AlarmDescription"),
            "NewStateValue": state,
            "NewStateReason": reason,
            "OldStateValue": old,
            "StateChangeTime": now.isoformat(),
            "Trigger": {k: alarm.get(k) for k in ("MetricName", "Namespace", "Period", "EvaluationPeriods")},
        }
        for topic in actions:
            sns.publish(
                TopicArn=topic, Subject=f'{state}: "{name}" in US East (N. Virginia)', Message=json.dumps(message)
            )
    return state
