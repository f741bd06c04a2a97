"""``./run.sh stack``: the production shape on this machine, on 127.0.0.1 only.

In order, each waited for: the project's image, built from its Dockerfile with podman
(``image``); PostgreSQL (Dagster's storage), moto's server and DynamoDB Local; then
``deploy/cloudformation/weighting-pipeline.yaml`` deployed into moto's CloudFormation
(``infrastructure.deploy``) and the demo ledger (40 weeks of history before the latest
complete week); then the template's three services, each a container of the image
with the command and environment its task definition gives, and the Fargate stand-in,
which runs every ECS task the run launcher starts in a container of the image too.
When the daemon reports healthy it prints one line, ``STACK READY {json}``, and runs
until SIGINT, SIGTERM or SIGHUP, then stops everything it started, newest first, and
removes its containers.

With ``runtime="scheduled"`` the template is deployed with ``Runtime=scheduled``: no
service is started (the stack has none). Instead the weekly schedule is read back from
the deployed stack and fired as EventBridge Scheduler would (``eventbridge.fire_schedule``);
the Fargate stand-in runs that task, which runs the week through Dagster; once it has
stopped, the UI task definition is started as ``weighting-pipeline open-ui`` would start it
on AWS, and ``STACK READY`` names the weekly task and how it ended.

What the rehearsal changes in what the template gives a container, and why, is in
``local_overrides``. Logs of every process are in ``.local/stack/logs/``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from weighting_pipeline.ops.webserver import graphql
from weighting_pipeline_devtools.dynamodb_local import LocalDynamoDB
from weighting_pipeline_devtools.local_env import LOCAL_CREDENTIALS
from weighting_pipeline_devtools.processes import stop_groups
from weighting_pipeline_devtools.servers import HOST, free_port, wait_for_port

LOCATION = "weighting_pipeline"  # the template's --location-name
HISTORY_WEEKS = 40
READY_TIMEOUT = 180
DAEMONS = ("SCHEDULER", "SENSOR", "QUEUED_RUN_COORDINATOR", "BACKFILL", "MONITORING")


class Processes:
    """Children in their own process groups, stopped newest first (SIGTERM, then SIGKILL after 20 s)."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.children: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, cmd: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen:
        with open(self.logs / f"{name}.log", "ab") as out:
            proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.children.append((name, proc))
        return proc

    def dead(self) -> list[str]:
        return [f"{name} (exit {proc.returncode})" for name, proc in self.children if proc.poll() is not None]

    def stop(self) -> None:
        stop_groups([proc for _name, proc in self.children])
        self.children.clear()


DAEMON_HEALTH = "{ instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }"


def wait_until_ready(webserver: str, processes: Processes, deadline: float) -> None:
    """Until the webserver answers and every daemon we rely on is healthy."""
    last = "no answer"
    while time.monotonic() < deadline:
        if processes.dead():
            raise RuntimeError(f"stopped while starting: {', '.join(processes.dead())}")
        try:
            statuses = graphql(webserver, DAEMON_HEALTH, timeout=5)["instance"]["daemonHealth"]["allDaemonStatuses"]
            unhealthy = [s["daemonType"] for s in statuses if s["daemonType"] in DAEMONS and not s["healthy"]]
            if not unhealthy:
                return
            last = f"daemons not yet healthy: {unhealthy}"
        except Exception as exc:  # webserver still starting
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(1)
    raise RuntimeError(f"the stack was not ready within {READY_TIMEOUT} s: {last}")


# What every container gets from the rehearsal, as a task role and VPC endpoints give it on AWS.
REHEARSAL_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_REGION", *LOCAL_CREDENTIALS)


def ui_overrides(spec, code_port: int, web_port: int) -> None:
    """The UI on demand's one container, on 127.0.0.1 and free ports, in place: its script starts
    a code server on 127.0.0.1:4000 and a webserver on 0.0.0.0:3000. What it lacks fails by name."""
    script = spec.command[-1]
    for needed in ("-h 127.0.0.1 -p 4000", "-h 0.0.0.0 -p 3000", "('127.0.0.1', 4000)"):
        if needed not in script:
            raise RuntimeError(f"the template's UI command has no {needed!r}: {script}")
    spec.command[-1] = (
        script.replace("-h 127.0.0.1 -p 4000", f"-h {HOST} -p {code_port}")
        .replace("('127.0.0.1', 4000)", f"('{HOST}', {code_port})")
        .replace("-h 0.0.0.0 -p 3000", f"-h {HOST} -p {web_port}")
    )
    if spec.environment.get("DAGSTER_CODE_SERVER_PORT") != "4000":
        raise RuntimeError("the template's UI task definition does not set DAGSTER_CODE_SERVER_PORT=4000")
    spec.environment["DAGSTER_CODE_SERVER_PORT"] = str(code_port)


def wait_for_task(ecs, cluster: str, task_arn: str, processes: Processes, timeout: float = 600) -> dict:
    """The task once it has stopped."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        [task] = ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"]
        if task["lastStatus"] == "STOPPED":
            return task
        if processes.dead():
            raise RuntimeError(f"stopped while the weekly task ran: {', '.join(processes.dead())}")
        time.sleep(1)
    raise RuntimeError(f"the weekly task {task_arn} did not stop within {timeout:.0f} s")


def local_overrides(service: str, spec, code_port: int, web_port: int, webserver: str) -> None:
    """Bind the services to 127.0.0.1 on free ports, in place, where the template gives them 0.0.0.0,
    ports 3000/4000 and Cloud Map names (which resolve only inside the VPC).

    Only variables and flags the template sets are changed: one it lacks fails here, by name."""

    def replace_flag(flag: str, value: str) -> None:
        if flag not in spec.command:
            raise RuntimeError(f"the template's {service} command has no {flag}: {spec.command}")
        spec.command[spec.command.index(flag) + 1] = value

    def replace_var(name: str, value: str) -> None:
        if name not in spec.environment:
            raise RuntimeError(f"the template's {service} task definition does not set {name}")
        spec.environment[name] = value

    if service in ("code-server", "webserver"):
        replace_flag("-h", HOST)
        replace_flag("-p", str(code_port if service == "code-server" else web_port))
    if service in ("daemon", "webserver"):
        replace_var("DAGSTER_CODE_SERVER_HOST", HOST)
        replace_var("DAGSTER_CODE_SERVER_PORT", str(code_port))
    if service == "code-server":
        replace_var("DAGSTER_WEBSERVER_URL", webserver)


def run(root: Path, backend: str = "auto", runtime: str = "services") -> int:
    from weighting_pipeline.settings import ENV_VARS
    from weighting_pipeline_devtools.containers import SERVICE_LABEL, STACK_LABEL, Podman
    from weighting_pipeline_devtools.image import build
    from weighting_pipeline_devtools.infrastructure import SERVICES, deploy
    from weighting_pipeline_devtools.moto_server import LocalAWS, set_manual_ecs_transitions
    from weighting_pipeline_devtools.postgres import LocalPostgres

    state = root / ".local" / "stack"
    shutil.rmtree(state, ignore_errors=True)
    logs = state / "logs"
    logs.mkdir(parents=True)
    podman = Podman(state)
    stack_label = str(state)
    podman.remove_all(STACK_LABEL, stack_label)  # a previous start's, if it was killed
    print("building the image (podman build; logs/image.log)", flush=True)
    image = build(podman, logs / "image.log")
    with ExitStack() as stack:
        stack.callback(podman.remove_all, STACK_LABEL, stack_label)
        postgres = stack.enter_context(LocalPostgres())
        aws = stack.enter_context(LocalAWS(log=logs / "moto.log"))
        dynamodb = stack.enter_context(LocalDynamoDB(backend=backend))
        set_manual_ecs_transitions(aws.endpoint)
        stage = os.environ.get("APP__STAGE") or "prod"
        deployment = deploy(
            stage=stage,
            aws_endpoint=aws.endpoint,
            dynamodb_endpoint=dynamodb.endpoint,
            database=postgres.env(),
            image=image,
            runtime=runtime,
        )
        print(
            f"deployed {deployment.stack_name} ({stage}, Runtime={runtime}) from the template: cluster {deployment.cluster}, "
            f"table {deployment.weights_table}, topic {deployment.topic_arn}",
            flush=True,
        )
        env = {k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_SESSION_TOKEN")}
        env.update(
            {
                "AWS_ENDPOINT_URL": aws.endpoint,
                "AWS_ENDPOINT_URL_DYNAMODB": dynamodb.endpoint,
                "AWS_REGION": "us-east-1",
                "AWS_DEFAULT_REGION": "us-east-1",
                **LOCAL_CREDENTIALS,
            }
        )
        # The operator's setting variables reach the code server and every run, as a deployment
        # would add them to the template's task definitions; a variable the template sets wins.
        settings = sorted({var for var, _ in ENV_VARS.values()} & set(env))
        passed = {name: env[name] for name in (*REHEARSAL_VARIABLES, *settings)}

        # HISTORY_WEEKS complete weeks before the latest one, each with its full lookback window.
        seed = [
            sys.executable,
            "-m",
            "weighting_pipeline_devtools.demo",
            "seed",
            "--days",
            str((HISTORY_WEEKS + 1) * 7 + 91),
        ]
        seed_env = {
            **env,
            "APP__STAGE": stage,
            "TRADE_LEDGER__TABLE_NAME": deployment.ledger_table,
            "STRATEGY_WEIGHTS__TABLE_NAME": deployment.weights_table,
        }
        if subprocess.call(seed, env=seed_env, cwd=state):
            raise RuntimeError("seeding the demo ledger failed (its output is above)")

        processes = Processes(logs)
        stack.callback(processes.stop)
        webserver = f"http://{HOST}:{free_port()}"
        code_port, web_port = free_port(), int(webserver.rsplit(":", 1)[1])
        processes.start(
            "fargate",
            [
                sys.executable,
                "-m",
                "weighting_pipeline_devtools.fargate",
                "--cluster",
                deployment.cluster,
                "--state",
                str(state),
                "--stack-label",
                stack_label,
                *[arg for name in passed for arg in ("--pass-env", name)],
            ],
            {**env, **podman.env()},
            state,
        )
        extra: dict[str, object] = {}
        if runtime == "scheduled":
            from weighting_pipeline_devtools.eventbridge import fire_schedule

            schedule = deployment.outputs["WeeklyScheduleName"]
            print(f"firing the schedule {schedule} as EventBridge Scheduler would", flush=True)
            fired = time.monotonic()
            task_arn = fire_schedule(deployment.client("scheduler"), deployment.client("ecs"), schedule)
            task = wait_for_task(deployment.client("ecs"), deployment.cluster, task_arn, processes)
            took = time.monotonic() - fired
            print(f"the weekly task stopped after {took:.0f} s: {task.get('stoppedReason')}", flush=True)
            extra = {"weekly_task": task_arn, "weekly_task_stopped": task.get("stoppedReason", "")}
            # The UI on demand: the template's UI task definition, as open-ui starts it on AWS.
            family = deployment.outputs["UiTaskDefinitionFamily"]
            spec = deployment.task_container(family)
            ui_overrides(spec, code_port, web_port)
            spec.environment = {**passed, **spec.environment}
            labels = {STACK_LABEL: stack_label, SERVICE_LABEL: "ui"}
            processes.start("ui", podman.run_command(spec, labels), podman.env(spec.env()), state)
        else:
            for service in SERVICES:
                spec = deployment.service_container(service)
                local_overrides(service, spec, code_port, web_port, webserver)
                spec.environment = {**passed, **spec.environment}
                labels = {STACK_LABEL: stack_label, SERVICE_LABEL: service}
                proc = processes.start(service, podman.run_command(spec, labels), podman.env(spec.env()), state)
                if service == "code-server":
                    wait_for_port(code_port, proc, timeout=120, what="the code server")
        wait_until_ready(webserver, processes, time.monotonic() + READY_TIMEOUT)
        ready = {
            "webserver": webserver,
            "dynamodb": dynamodb.endpoint,
            "aws": aws.endpoint,
            "postgres": postgres.url,
            "alerts_queue": deployment.queue_url,
            "weights_table": deployment.weights_table,
            "ledger_table": deployment.ledger_table,
            "intermediates": deployment.intermediates,
            "cluster": deployment.cluster,
            "image": image,
            "runtime": runtime,
            "stack_name": deployment.stack_name,
            **extra,
        }
        print("STACK READY " + json.dumps(ready), flush=True)
        while True:
            dead = processes.dead()
            if dead:
                print(f"stack process ended: {', '.join(dead)}; stopping (logs in {logs})", file=sys.stderr, flush=True)
                return 1
            time.sleep(1)
