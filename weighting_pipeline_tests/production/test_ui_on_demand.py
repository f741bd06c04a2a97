"""``weighting-pipeline open-ui``: the UI task of a Runtime=scheduled stack, started and stopped
through moto's ECS, from the stack's own outputs."""

import json
import shlex

import pytest
from click.testing import CliRunner

from weighting_pipeline.cli import main
from weighting_pipeline.ops.ui_task import GROUP


@pytest.fixture
def scheduled(scheduled_deployment, monkeypatch):
    """The scheduled stack, and this process's AWS clients pointed at its moto server."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", scheduled_deployment.aws_endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return scheduled_deployment


def ui_tasks(deployment) -> list[dict]:
    ecs = deployment.client("ecs")
    arns = [
        arn
        for status in ("RUNNING", "STOPPED")
        for arn in ecs.list_tasks(cluster=deployment.cluster, desiredStatus=status)["taskArns"]
    ]
    tasks = ecs.describe_tasks(cluster=deployment.cluster, tasks=arns)["tasks"] if arns else []
    return [t for t in tasks if t.get("group") == GROUP]


def test_open_ui_starts_the_stacks_ui_task_prints_the_forwarding_and_stop_stops_it(scheduled):
    opened = CliRunner().invoke(main, ["open-ui", "--stack", scheduled.stack_name, "--detach", "--local-port", "8300"])
    assert opened.exit_code == 0, opened.output
    [task] = ui_tasks(scheduled)
    assert task["taskDefinitionArn"].split("/")[-1].startswith(f"weighting-pipeline-ui-{scheduled.stage}:")
    assert task["launchType"] == "FARGATE"
    # The printed command forwards local port 8300 to the webserver of that very task.
    [line] = [ln for ln in opened.output.splitlines() if ln.strip().startswith("aws ssm start-session")]
    args = shlex.split(line)
    target = args[args.index("--target") + 1]
    assert target.startswith(f"ecs:{scheduled.cluster}_{task['taskArn'].rsplit('/', 1)[-1]}_")
    assert json.loads(args[args.index("--parameters") + 1]) == {"portNumber": ["3000"], "localPortNumber": ["8300"]}

    stopped = CliRunner().invoke(main, ["open-ui", "--stack", scheduled.stack_name, "--stop"])
    assert stopped.exit_code == 0 and "Stopped 1 UI task(s)" in stopped.output, stopped.output
    [task] = ui_tasks(scheduled)
    assert task["desiredStatus"] == "STOPPED" and task["stoppedReason"].startswith("open-ui: stopped by ")


def test_open_ui_on_a_services_stack_says_where_its_webserver_is(deployment, aws, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    refused = CliRunner().invoke(main, ["open-ui", "--stack", deployment.stack_name])
    assert refused.exit_code == 1
    assert f"stack {deployment.stack_name} runs Runtime=services: its webserver is always on, at http://webserver." in (
        refused.output
    )


def test_the_ui_task_is_started_for_ecs_exec_with_a_public_ip_and_no_inbound_rule(scheduled):
    """moto keeps no record of ECS Exec on a task: the RunTask request is read as it is sent
    (botocore's documented request events)."""
    from weighting_pipeline.ops.ui_task import UiStack, start, stop

    ecs, sent = scheduled.client("ecs"), []
    ecs.meta.events.register("provide-client-params.ecs.RunTask", lambda params, **_: sent.append(dict(params)))
    stack = UiStack.read(scheduled.client("cloudformation"), scheduled.stack_name)
    task = start(ecs, stack)
    stop(ecs, stack, [task["taskArn"]], "test")
    [request] = sent
    assert request["enableExecuteCommand"] is True and request["group"] == GROUP
    network = request["networkConfiguration"]["awsvpcConfiguration"]
    assert network["assignPublicIp"] == "ENABLED" and network["subnets"] == [scheduled.subnet]
    [group] = scheduled.client("ec2").describe_security_groups(GroupIds=network["securityGroups"])["SecurityGroups"]
    assert group["IpPermissions"] == []  # Runtime=scheduled admits nothing inbound
