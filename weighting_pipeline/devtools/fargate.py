"""A stand-in for Fargate in the rehearsal: run each new ECS task's container.

moto records RunTask but starts nothing. This process watches the cluster in
moto and, for each new task, does what Fargate would: it starts the task's
container command (the launcher's ``dagster api execute_run ...`` override)
with the task definition's environment plus the overrides' environment, in a
fresh working directory whose DAGSTER_HOME holds the image's
``deploy/dagster.yaml``; when the command exits it stops the task, giving the
exit code as the reason. Nothing else of the host leaks into a task but HOME and
LANG, and a PATH that starts with this Python's environment (the image's).

    python -m weighting_pipeline.devtools.fargate --cluster NAME --dagster-yaml PATH --workdir DIR
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import boto3

POLL_SECONDS = 0.5


@dataclass
class Container:
    task_arn: str
    proc: subprocess.Popen
    log: Path


def container_environment(task: dict, definition: dict, container_name: str) -> tuple[list[str], dict[str, str]]:
    """The command and environment Fargate would give ``container_name`` of ``task``."""
    [container] = [c for c in definition["containerDefinitions"] if c["name"] == container_name]
    env = {e["name"]: e["value"] for e in container.get("environment", [])}
    command = list(container.get("command", []))
    for override in task.get("overrides", {}).get("containerOverrides", []):
        if override.get("name") == container_name:
            env.update({e["name"]: e["value"] for e in override.get("environment", [])})
            command = list(override.get("command") or command)
    if not command:
        raise ValueError(f"task {task['taskArn']}: container {container_name!r} has no command")
    return command, env


class FargateStandIn:
    def __init__(self, cluster: str, dagster_yaml: Path, workdir: Path, container_name: str = "run"):
        self.ecs = boto3.session.Session().client("ecs")
        self.cluster, self.dagster_yaml, self.workdir, self.container_name = cluster, dagster_yaml, workdir, container_name
        self.seen: set[str] = set()
        self.running: list[Container] = []

    def start_task(self, task: dict) -> None:
        definition = self.ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])["taskDefinition"]
        command, env = container_environment(task, definition, self.container_name)
        task_id = task["taskArn"].rsplit("/", 1)[-1]
        root = self.workdir / task_id
        home = root / "dagster_home"
        home.mkdir(parents=True)
        shutil.copyfile(self.dagster_yaml, home / "dagster.yaml")  # what the image holds
        base = {k: os.environ[k] for k in ("HOME", "LANG") if k in os.environ}
        # The image's PATH: this Python's environment (where `dagster` is installed) first.
        base["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "/usr/bin:/bin")])
        log = root / "container.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(command, cwd=root, env={**base, **env, "DAGSTER_HOME": str(home)},
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        print(f"task {task_id}: started {' '.join(command[:3])} ... (pid {proc.pid}, log {log})", flush=True)
        self.running.append(Container(task["taskArn"], proc, log))

    def poll(self) -> None:
        arns = self.ecs.list_tasks(cluster=self.cluster)["taskArns"]
        new = [a for a in arns if a not in self.seen]
        if new:
            for task in self.ecs.describe_tasks(cluster=self.cluster, tasks=new)["tasks"]:
                self.seen.add(task["taskArn"])
                if task.get("lastStatus") != "STOPPED":
                    try:
                        self.start_task(task)
                    except Exception as exc:  # a task that cannot start stops, as on Fargate
                        print(f"task {task['taskArn']}: cannot start: {exc}", flush=True)
                        self.ecs.stop_task(cluster=self.cluster, task=task["taskArn"], reason=f"CannotStartContainerError: {exc}"[:255])
        for container in [c for c in self.running if c.proc.poll() is not None]:
            self.running.remove(container)
            code = container.proc.returncode
            self.ecs.stop_task(cluster=self.cluster, task=container.task_arn, reason=f"Essential container in task exited (code {code})")
            print(f"task {container.task_arn.rsplit('/', 1)[-1]}: exited {code}, stopped", flush=True)

    def stop_all(self) -> None:
        for container in self.running:
            if container.proc.poll() is None:
                os.killpg(container.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for container in self.running:
            try:
                container.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(container.proc.pid, signal.SIGKILL)
                container.proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cluster", required=True)
    parser.add_argument("--dagster-yaml", required=True, type=Path)
    parser.add_argument("--workdir", required=True, type=Path)
    args = parser.parse_args(argv)

    def leave(signum, _frame):
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, leave)
    standin = FargateStandIn(args.cluster, args.dagster_yaml, args.workdir)
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
