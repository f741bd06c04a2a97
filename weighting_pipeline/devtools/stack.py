"""``./run.sh stack``: the production shape on this machine, on 127.0.0.1 only.

Started in order, each waited for: PostgreSQL (Dagster's storage), moto's
server (ECS, EC2, S3, SNS, SQS), DynamoDB Local; then what the AWS stack
would create (``infrastructure.provision``) and the demo ledger (40 weeks of
history before the latest complete week); then the code server, the daemon
and the webserver as separate processes with ``deploy/dagster.yaml`` and
``deploy/workspace.yaml``, and the Fargate stand-in. When the daemon reports
healthy it prints one line, ``STACK READY {json}``, and runs until SIGINT,
SIGTERM or SIGHUP, then stops everything it started, newest first.

Logs of every process are in ``.local/stack/logs/``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from weighting_pipeline.devtools.dynamodb_local import LocalDynamoDB
from weighting_pipeline.devtools.local_env import LOCAL_CREDENTIALS
from weighting_pipeline.devtools.processes import end_group
from weighting_pipeline.devtools.servers import HOST, free_port, wait_for_port
from weighting_pipeline.ops.webserver import graphql

REPO = Path(__file__).resolve().parents[2]
LOCATION = "weighting_pipeline"
IMAGE = "weighting-pipeline:local"
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
        for name, proc in reversed(self.children):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for name, proc in reversed(self.children):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
            end_group(proc.pid, grace=0)  # whatever of its group is left
            proc.wait()
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


def run(root: Path, backend: str = "auto") -> int:
    from weighting_pipeline.devtools.infrastructure import provision
    from weighting_pipeline.devtools.moto_server import LocalAWS, set_manual_ecs_transitions
    from weighting_pipeline.devtools.postgres import LocalPostgres
    from weighting_pipeline.settings import ENV_VARS

    state = root / ".local" / "stack"
    shutil.rmtree(state, ignore_errors=True)
    logs = state / "logs"
    logs.mkdir(parents=True)
    home = state / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    with ExitStack() as stack:
        postgres = stack.enter_context(LocalPostgres())
        aws = stack.enter_context(LocalAWS(log=logs / "moto.log"))
        dynamodb = stack.enter_context(LocalDynamoDB(backend=backend))
        set_manual_ecs_transitions(aws.endpoint)
        webserver = f"http://{HOST}:{free_port()}"
        code_port = free_port()
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": aws.endpoint,
            "AWS_ENDPOINT_URL_DYNAMODB": dynamodb.endpoint,
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            **LOCAL_CREDENTIALS,
            "APP__STAGE": os.environ.get("APP__STAGE", "prod"),
            "DAGSTER_WEBSERVER_URL": webserver,
            **postgres.env(),
        }
        for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "INTERMEDIATES__BASE_PATH", "SCHEDULE__DEFAULT_STATUS"):
            env.pop(var, None)
        # The run tasks get the deployment's setting variables too (set for the stack, as a deployment's
        # template sets them on the run task): a run whose settings differ would be a what-if run.
        settings = {var for var, _ in ENV_VARS.values()}
        task_env = {k: env[k] for k in env if k.startswith(("AWS_", "DAGSTER_PG_", "APP__", "DAGSTER_WEBSERVER")) or k in settings}
        infra = provision("stack", aws_endpoint=aws.endpoint, dynamodb_endpoint=dynamodb.endpoint, image=IMAGE, task_environment=task_env)
        env.update(infra.env())
        env.update({"DAGSTER_HOME": str(home), "DAGSTER_CODE_SERVER_HOST": HOST, "DAGSTER_CODE_SERVER_PORT": str(code_port)})
        print(f"provisioned tables, bucket, cluster {infra.cluster}, topic", flush=True)
        # HISTORY_WEEKS complete weeks before the latest one, each with its full lookback window.
        seed = [sys.executable, "-m", "weighting_pipeline.devtools.demo", "seed", "--days", str((HISTORY_WEEKS + 1) * 7 + 91)]
        if subprocess.call(seed, env=env, cwd=state):
            raise RuntimeError("seeding the demo ledger failed (its output is above)")

        processes = Processes(logs)
        stack.callback(processes.stop)
        bin_dir = Path(sys.executable).parent
        workspace = str(REPO / "deploy" / "workspace.yaml")
        processes.start("code-server", [str(bin_dir / "dagster"), "code-server", "start", "-h", HOST, "-p", str(code_port),
                                        "-m", "weighting_pipeline.definitions", "--location-name", LOCATION,
                                        "--container-image", IMAGE], env, state)
        wait_for_port(code_port, processes.children[-1][1], timeout=120, what="the code server")
        processes.start("daemon", [str(bin_dir / "dagster-daemon"), "run", "-w", workspace], env, state)
        port = int(webserver.rsplit(":", 1)[1])
        processes.start("webserver", [str(bin_dir / "dagster-webserver"), "-h", HOST, "-p", str(port), "-w", workspace], env, state)
        processes.start("fargate", [sys.executable, "-m", "weighting_pipeline.devtools.fargate", "--cluster", infra.cluster,
                                    "--dagster-yaml", str(REPO / "deploy" / "dagster.yaml"), "--workdir", str(state / "tasks")], env, state)
        wait_until_ready(webserver, processes, time.monotonic() + READY_TIMEOUT)
        ready = {
            "webserver": webserver,
            "dynamodb": dynamodb.endpoint,
            "aws": aws.endpoint,
            "postgres": postgres.url,
            "alerts_queue": infra.queue_url,
            "weights_table": infra.weights_table,
            "ledger_table": infra.ledger_table,
            "intermediates": infra.intermediates,
            "cluster": infra.cluster,
        }
        print("STACK READY " + json.dumps(ready), flush=True)
        while True:
            dead = processes.dead()
            if dead:
                print(f"stack process ended: {', '.join(dead)}; stopping (logs in {logs})", file=sys.stderr, flush=True)
                return 1
            time.sleep(1)
