"""A stand-in for Fargate in the rehearsal: run each new ECS task in a container of its image.

moto records RunTask but starts nothing. This process watches the cluster in moto and,
for each new task, does what Fargate would: ``podman run`` of the task definition's
image, with the container's command and environment, its ``secrets`` resolved from
Secrets Manager, and the task's overrides (the launcher's ``dagster api execute_run ...``
command), labelled ``weighting-pipeline.run-id=<the task's dagster/run_id tag>`` (``scheduled``
for a task EventBridge Scheduler started, which has none). When the container exits it stops
the task, giving the exit code in the reason, and puts the "ECS Task State Change" event ECS
would (``eventbridge.task_state_change``) on the default bus, where the stack's rules see it.

What the rehearsal adds to every container (the endpoints of moto and DynamoDB Local,
their dummy credentials, the operator's setting variables) is named with ``--pass-env``
and taken from this process's environment; it never replaces a variable the task
definition sets.

    python -m weighting_pipeline_devtools.fargate --cluster NAME --state DIR --stack-label VALUE [--pass-env NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import boto3

from weighting_pipeline_devtools.containers import RUN_ID_LABEL, STACK_LABEL, ContainerSpec, Podman
from weighting_pipeline_devtools.processes import exit_on_termination_signals, stop_groups

POLL_SECONDS = 0.5
RUN_CONTAINER = "run"  # deploy/dagster.yaml's container_name: the one the launcher overrides


def resolve_secret(secretsmanager, value_from: str) -> str:
    """The value ECS injects for a container secret ``valueFrom``: a Secrets Manager ARN,
    optionally followed by ``:json-key:version-stage:version-id``."""
    parts = value_from.split(":")
    if parts[2:3] != ["secretsmanager"] or len(parts) < 7:
        raise ValueError(f"secret {value_from!r}: only Secrets Manager ARNs are supported")
    arn, (key, stage, version) = ":".join(parts[:7]), (parts[7:] + ["", "", ""])[:3]
    args = {
        "SecretId": arn,
        **({"VersionStage": stage} if stage else {}),
        **({"VersionId": version} if version else {}),
    }
    secret = secretsmanager.get_secret_value(**args)["SecretString"]
    if not key:
        return secret
    values = json.loads(secret)
    if key not in values:
        raise KeyError(f"secret {arn} has no key {key!r} (valueFrom {value_from!r})")
    return str(values[key])


def container_spec(definition: dict, container_name: str, task: dict, secretsmanager) -> ContainerSpec:
    """What Fargate would give ``container_name`` of ``definition`` for ``task`` (its overrides)."""
    [container] = [c for c in definition["containerDefinitions"] if c["name"] == container_name]
    env = {e["name"]: e["value"] for e in container.get("environment", [])}
    command = list(container.get("command", []))
    for override in task.get("overrides", {}).get("containerOverrides", []):
        if override.get("name") == container_name:
            env.update({e["name"]: e["value"] for e in override.get("environment", [])})
            command = list(override.get("command") or command)
    secrets = {s["name"]: resolve_secret(secretsmanager, s["valueFrom"]) for s in container.get("secrets", [])}
    return ContainerSpec(image=container["image"], command=command, environment=env, secrets=secrets)


@dataclass
class Container:
    task_arn: str
    proc: subprocess.Popen
    log: Path


SCHEDULED = "scheduled"  # the run-id label of a task no launcher started (the weekly schedule's)


def run_id_of(task: dict) -> str:
    """The Dagster run a task was started for (the launcher tags it ``dagster/run_id``), or
    ``SCHEDULED`` for the weekly schedule's task, which starts its runs itself."""
    tags = {t["key"]: t["value"] for t in task.get("tags", [])}
    if "dagster/run_id" in tags:
        return tags["dagster/run_id"]
    if task.get("group") == "weekly-schedule":  # the template's WeeklySchedule target group
        return SCHEDULED
    raise ValueError(f"task {task['taskArn']} has no dagster/run_id tag and was not started by the schedule")


class FargateStandIn:
    def __init__(
        self,
        cluster: str,
        podman: Podman,
        workdir: Path,
        stack_label: str,
        pass_env: dict[str, str],
        container_name: str = RUN_CONTAINER,
    ):
        session = boto3.session.Session()
        self.ecs, self.secretsmanager = session.client("ecs"), session.client("secretsmanager")
        self.events = session.client("events")
        self.cluster, self.podman, self.workdir, self.container_name = cluster, podman, workdir, container_name
        self.stack_label, self.pass_env = stack_label, pass_env
        self.seen: set[str] = set()
        self.running: list[Container] = []

    def start_task(self, task: dict) -> None:
        definition = self.ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])["taskDefinition"]
        spec = container_spec(definition, self.container_name, task, self.secretsmanager)
        spec.environment = {**self.pass_env, **spec.environment}  # the task definition's own variables win
        task_id = task["taskArn"].rsplit("/", 1)[-1]
        labels = {STACK_LABEL: self.stack_label, RUN_ID_LABEL: run_id_of(task), "weighting-pipeline.task": task_id}
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.workdir / f"{task_id}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                self.podman.run_command(spec, labels, name=f"weighting-run-{task_id[:12]}"),
                env=self.podman.env(spec.env()),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        print(f"task {task_id}: started {spec.image} {' '.join(spec.command[:3])} ... (log {log})", flush=True)
        self.running.append(Container(task["taskArn"], proc, log))

    def poll(self) -> None:
        arns = self.ecs.list_tasks(cluster=self.cluster)["taskArns"]
        new = [a for a in arns if a not in self.seen]
        if new:
            for task in self.ecs.describe_tasks(cluster=self.cluster, tasks=new, include=["TAGS"])["tasks"]:
                self.seen.add(task["taskArn"])
                if task.get("lastStatus") == "STOPPED" or str(task.get("group", "")).startswith("service:"):
                    continue  # the services run as the stack's own containers
                try:
                    self.start_task(task)
                except Exception as exc:  # a task that cannot start stops, as on Fargate
                    print(f"task {task['taskArn']}: cannot start: {exc}", flush=True)
                    self.stopped(task["taskArn"], None, "TaskFailedToStart", f"CannotStartContainerError: {exc}"[:255])
        for container in [c for c in self.running if c.proc.poll() is not None]:
            self.running.remove(container)
            code = container.proc.returncode
            code = 128 - code if code < 0 else code  # killed by a signal: the shell's convention, as ECS reports it
            self.stopped(
                container.task_arn,
                code,
                "EssentialContainerExited",
                f"Essential container in task exited (code {code})",
            )
            print(f"task {container.task_arn.rsplit('/', 1)[-1]}: exited {code}, stopped", flush=True)

    def stopped(self, task_arn: str, exit_code: int | None, stop_code: str, reason: str) -> None:
        """Stop the task in moto and put ECS's state-change event for it."""
        from weighting_pipeline_devtools.eventbridge import task_state_change

        task = self.ecs.stop_task(cluster=self.cluster, task=task_arn, reason=reason)["task"]
        self.events.put_events(Entries=[task_state_change(task, exit_code, stop_code, reason)])

    def stop_all(self) -> None:
        """SIGTERM to each ``podman run`` (podman passes it to the container), SIGKILL after 20 s."""
        stop_groups([container.proc for container in self.running])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cluster", required=True)
    parser.add_argument(
        "--state", required=True, type=Path, help="the rehearsal's state folder (podman's configuration, task logs)"
    )
    parser.add_argument("--stack-label", required=True, help=f"the value of every container's {STACK_LABEL} label")
    parser.add_argument(
        "--pass-env", action="append", default=[], help="a variable of this process every container is given"
    )
    args = parser.parse_args(argv)

    exit_on_termination_signals()
    missing = [name for name in args.pass_env if name not in os.environ]
    if missing:
        parser.error(f"--pass-env names variables this process does not have: {missing}")
    standin = FargateStandIn(
        args.cluster,
        Podman(args.state),
        args.state / "tasks",
        args.stack_label,
        {name: os.environ[name] for name in args.pass_env},
    )
    print(f"Fargate stand-in watching cluster {args.cluster}", flush=True)
    try:
        while True:
            try:
                standin.poll()
            except Exception as exc:  # moto busy or restarting: try again, as an agent would
                print(f"poll failed: {type(exc).__name__}: {exc}", flush=True)
            time.sleep(POLL_SECONDS)
    finally:
        standin.stop_all()


if __name__ == "__main__":
    sys.exit(main())
