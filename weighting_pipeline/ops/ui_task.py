"""The UI on demand of the ``scheduled`` runtime: one ECS task from the stack's UI task
definition (a code server, the daemon and the webserver), reached by ECS Exec port
forwarding, stopped when the operator is done (or by itself after the stack's UiMaxHours).

Everything is read from the stack's outputs, through the standard AWS credential chain.
"""

from __future__ import annotations

import getpass
import json
import time
from dataclasses import dataclass

GROUP = "ui-on-demand"  # the ECS task group of UI tasks (the dead-task rule watches only the weekly one)
WEBSERVER_PORT = 3000  # the UI task definition's webserver port


class UiTaskError(RuntimeError):
    """The stack has no UI on demand, or its task did not start; the message says which and why."""


@dataclass(frozen=True)
class UiStack:
    """What ``open-ui`` needs of the stack: its cluster, UI task definition and task network."""

    name: str
    cluster: str
    family: str
    subnets: list[str]
    security_group: str

    @classmethod
    def read(cls, cloudformation, name: str) -> UiStack:
        [stack] = cloudformation.describe_stacks(StackName=name)["Stacks"]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        if "UiTaskDefinitionFamily" not in outputs:
            where = outputs.get("WebserverUrl", "its WebserverUrl output")
            raise UiTaskError(f"stack {name} runs Runtime=services: its webserver is always on, at {where}")
        return cls(
            name=name,
            cluster=outputs["ClusterName"],
            family=outputs["UiTaskDefinitionFamily"],
            subnets=outputs["TaskSubnets"].split(","),
            security_group=outputs["TaskSecurityGroup"],
        )


def start(ecs, stack: UiStack, timeout: float = 300, poll: float = 3) -> dict:
    """Start the UI task and wait until it runs; the task (``UiTaskError`` if it stopped or stayed pending)."""
    [task] = ecs.run_task(
        cluster=stack.cluster,
        taskDefinition=stack.family,
        launchType="FARGATE",
        enableExecuteCommand=True,
        group=GROUP,
        startedBy=f"open-ui {getpass.getuser()}"[:36],
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": stack.subnets,
                "securityGroups": [stack.security_group],
                "assignPublicIp": "ENABLED",  # to pull the image and call AWS; nothing is admitted inbound
            }
        },
    )["tasks"]
    deadline = time.monotonic() + timeout
    while task["lastStatus"] != "RUNNING":
        if task["lastStatus"] == "STOPPED":
            raise UiTaskError(
                f"the UI task {task['taskArn']} stopped: {task.get('stoppedReason') or 'no reason given'}"
            )
        if time.monotonic() > deadline:
            ecs.stop_task(cluster=stack.cluster, task=task["taskArn"], reason="open-ui: did not start")
            raise UiTaskError(f"the UI task {task['taskArn']} was still {task['lastStatus']} after {timeout:.0f} s")
        time.sleep(poll)
        [task] = ecs.describe_tasks(cluster=stack.cluster, tasks=[task["taskArn"]])["tasks"]
    return task


def port_forwarding(stack: UiStack, task: dict, local_port: int = WEBSERVER_PORT) -> list[str]:
    """The ``aws ssm start-session`` command that forwards ``local_port`` to the task's webserver
    (ECS Exec; needs the Session Manager plugin beside the AWS CLI)."""
    task_id = task["taskArn"].rsplit("/", 1)[-1]
    runtime_id = next((c.get("runtimeId") for c in task.get("containers", []) if c.get("runtimeId")), None)
    target = f"ecs:{stack.cluster}_{task_id}_{runtime_id or task_id}"
    parameters = json.dumps({"portNumber": [str(WEBSERVER_PORT)], "localPortNumber": [str(local_port)]})
    return [
        "aws",
        "ssm",
        "start-session",
        "--target",
        target,
        "--document-name",
        "AWS-StartPortForwardingSession",
        "--parameters",
        parameters,
    ]


def running(ecs, stack: UiStack) -> list[str]:
    """The ARNs of the stack's UI tasks that have not stopped."""
    arns = ecs.list_tasks(cluster=stack.cluster, desiredStatus="RUNNING")["taskArns"]
    if not arns:
        return []
    tasks = ecs.describe_tasks(cluster=stack.cluster, tasks=arns)["tasks"]
    return [t["taskArn"] for t in tasks if t.get("group") == GROUP and t["lastStatus"] != "STOPPED"]


def stop(ecs, stack: UiStack, arns: list[str], why: str) -> None:
    for arn in arns:
        ecs.stop_task(cluster=stack.cluster, task=arn, reason=f"open-ui: {why}"[:255])
