"""The rehearsal of ``Runtime=scheduled``: ``./run.sh stack --runtime scheduled``.

The template is deployed with ``Runtime=scheduled`` into moto; the weekly schedule is read back
from the stack and fired as EventBridge Scheduler fires it, and the Fargate stand-in runs the
task it names in a container of the image. What AWS would do by itself and moto does not (the
scheduler's tick, ECS's task-state event, CloudWatch's evaluation of the alarm) is simulated in
``weighting_pipeline_devtools.eventbridge``; everything after it is the stack's own: the rule
and its target, the alarm and its actions, the topic, the task's command and roles.

One stack, one test: its steps share the alerts queue, so they run in order.
"""

import datetime
import json

import pytest
import sqlalchemy as sa

from weighting_pipeline.ops.scheduled import EXIT_RUN_FAILED, RUNTIME_TAG
from weighting_pipeline_devtools.eventbridge import evaluate_alarm, fire_schedule
from weighting_pipeline_devtools.infrastructure import receive_alerts
from weighting_pipeline_tests.production.test_stack import LIVE_WEEK, RECENT, STACK_MARKS, Stack, item, wait_for

pytestmark = STACK_MARKS

RUNS = """query { runsOrError(filter: {tags: [{key: "weighting/runtime", value: "scheduled"}]}) {
  ... on Runs { results { runId jobName status tags { key value } } } } }"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = Stack(tmp_path_factory.mktemp("scheduled_stack_root"), "--runtime", "scheduled")
    yield running
    if running.proc.poll() is None:
        running.stop()


def fire(stack: Stack, overrides: dict | None = None) -> dict:
    """Fire the deployed schedule (with RunTask ``overrides``) and wait for its task to stop."""
    ecs = stack.client("ecs")
    name = stack.client("cloudformation").describe_stacks(StackName=stack.ready["stack_name"])["Stacks"][0]["Outputs"]
    schedule = {o["OutputKey"]: o["OutputValue"] for o in name}["WeeklyScheduleName"]
    arn = fire_schedule(stack.client("scheduler"), ecs, schedule, overrides)

    def described():
        return ecs.describe_tasks(cluster=stack.ready["cluster"], tasks=[arn])["tasks"][0]

    return wait_for(described, lambda t: t["lastStatus"] == "STOPPED", 300, f"task {arn}")


def drain(stack: Stack, want: int, timeout: float = 60) -> list[dict]:
    got: list[dict] = []
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=timeout)
    while len(got) < want and datetime.datetime.now() < deadline:
        got += receive_alerts(stack.client("sqs"), stack.ready["alerts_queue"], wait_seconds=2)
    got += receive_alerts(stack.client("sqs"), stack.ready["alerts_queue"], wait_seconds=2)  # and nothing more
    return got


def test_the_scheduled_runtime_publishes_from_its_schedule_and_alerts_without_a_daemon(stack):
    ecs, cluster = stack.client("ecs"), stack.ready["cluster"]
    # No service: the stack has none under Runtime=scheduled.
    assert ecs.list_services(cluster=cluster)["serviceArns"] == []

    # 1. The schedule's own target, fired at start, published the week that had just ended...
    assert "exited (code 0)" in stack.ready["weekly_task_stopped"], stack.logs()
    [task] = ecs.describe_tasks(cluster=cluster, tasks=[stack.ready["weekly_task"]])["tasks"]
    assert task["group"] == "weekly-schedule" and task["taskDefinitionArn"].split("/")[-1].startswith(
        "weighting-pipeline-run-"
    )
    published = item(stack, LIVE_WEEK)
    assert published is not None, stack.logs()
    # ... recorded in Dagster's storage (Postgres) as the schedule's runs, the week then its analysis ...
    runs = {r["jobName"]: r for r in stack.gql(RUNS, {})["runsOrError"]["results"]}
    assert set(runs) == {"weekly_weighting_job", "analysis_job"}, runs
    weekly = runs["weekly_weighting_job"]
    tags = {t["key"]: t["value"] for t in weekly["tags"]}
    assert weekly["status"] == "SUCCESS" and tags["dagster/partition"] == LIVE_WEEK and tags[RUNTIME_TAG] == "scheduled"
    engine = sa.create_engine(stack.ready["postgres"])
    with engine.connect() as connection:
        stored = connection.execute(sa.text("select status from runs where run_id = :id"), {"id": weekly["runId"]})
        assert stored.scalar() == "SUCCESS"
    # ... and shown by the UI started on demand.
    recent = stack.gql(RECENT, {"path": ["dynamic_weights"]})["assetOrError"]["assetMaterializations"]
    assert {"runId": weekly["runId"], "partition": LIVE_WEEK} in recent
    assert drain(stack, 0) == []  # nothing failed; the live week's WARN checks passed or were alerted by the task

    # 2. A run made to fail: the task alerts itself, exits 3, and the task-state rule stays quiet.
    broken = {
        "containerOverrides": [{"name": "run", "environment": [{"name": "TRADE_LEDGER__TABLE_NAME", "value": "gone"}]}]
    }
    stopped = fire(stack, broken)
    assert f"exited (code {EXIT_RUN_FAILED})" in stopped["stoppedReason"], stack.logs()
    [alert] = drain(stack, 1)
    assert alert["subject"] == f"[weighting prod] run failed: weeks {LIVE_WEEK}", alert
    assert "Failing step: closed_lots" in alert["body"] and "gone" in alert["body"], alert["body"]

    # 3. A task that dies before Dagster can report (killed, as out of memory is): the rule alerts.
    killed = {
        "containerOverrides": [{"name": "run", "command": ["python", "-c", "import os; os.kill(os.getpid(), 9)"]}]
    }
    stopped = fire(stack, killed)
    assert "exited (code 137)" in stopped["stoppedReason"]
    [alert] = drain(stack, 1)
    # The rule's input template is a JSON string: EventBridge sends it quoted, moto unquoted.
    body = json.loads(alert["body"]) if alert["body"].startswith('"') else alert["body"]
    assert body.startswith("[weighting prod] the weekly task died before it could report"), body
    assert stopped["taskArn"] in body and "exit code 137" in body

    # 4. The dead-man: the week's datapoint keeps the alarm OK now; eight days on with no
    #    publication it is ALARM, and the topic hears it.
    cloudwatch, sns = stack.client("cloudwatch"), stack.client("sns")
    alarm = "weighting-pipeline-prod-missed-week"
    now = datetime.datetime.now(datetime.timezone.utc)
    assert evaluate_alarm(cloudwatch, sns, alarm, now) == "OK"
    [ok] = drain(stack, 1)
    assert ok["subject"].startswith(f'OK: "{alarm}"')
    assert evaluate_alarm(cloudwatch, sns, alarm, now + datetime.timedelta(days=8)) == "ALARM"
    [missed] = drain(stack, 1)
    assert missed["subject"].startswith(f'ALARM: "{alarm}"') and json.loads(missed["body"])["NewStateValue"] == "ALARM"
