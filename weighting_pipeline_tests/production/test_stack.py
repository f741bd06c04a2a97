"""The production rehearsal, ``./run.sh stack``, driven as an operator would: through
the webserver's GraphQL API, like the UI's Materialize button and backfill dialog.

One stack serves the module; the last test stops it with SIGTERM and checks that
nothing it started is left.
"""

import datetime
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import pytest
import sqlalchemy as sa

from weighting_pipeline.assets import CHAIN_ASSETS
from weighting_pipeline.core.calendar import latest_complete_week, previous_key
from weighting_pipeline.ops.webserver import graphql
from weighting_pipeline_devtools.containers import RUN_ID_LABEL, STACK_LABEL, Podman
from weighting_pipeline_devtools.infrastructure import receive_alerts
from weighting_pipeline_devtools.stack import LOCATION
from weighting_pipeline_tests.listening import is_loopback, listening_addresses, listening_sockets, with_descendants

# The rehearsal starts every server itself, outside the fixtures that mark the others.
STACK_MARKS = [
    pytest.mark.stack,
    pytest.mark.slow,
    pytest.mark.dynamodb,
    pytest.mark.postgres,
    pytest.mark.aws,
    pytest.mark.dagster,
]
pytestmark = STACK_MARKS

REPO = Path(__file__).resolve().parents[2]
ASSETS = [{"path": a.key.path} for a in CHAIN_ASSETS]
CHECKS = [{"assetKey": {"path": k.asset_key.path}, "name": k.name} for a in CHAIN_ASSETS for k in a.check_keys]
INTERMEDIATE_ASSETS = ["closed_lots", "daily_returns", "sharpe_ratios", "multipliers"]

LAUNCH_RUN = """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
  ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } ... on InvalidSubsetError { message }
  ... on RunConfigValidationInvalid { errors { message } } } }"""
RUN = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status tags { key value } } } }"
RUNS_AFTER = """query($id: String!) { runsOrError(filter: {tags: [{key: "weighting/after_run", value: $id}]}) {
  ... on Runs { results { runId jobName status tags { key value } } } } }"""
RECENT = """query($path: [String!]!) { assetOrError(assetKey: {path: $path}) { ... on Asset {
  assetMaterializations(limit: 10) { runId partition } } } }"""
BACKFILL = """query($id: String!) { partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill {
  status runs { runId status } } } }"""
DONE = {"SUCCESS", "FAILURE", "CANCELED"}


class Stack:
    def __init__(self, root: Path, *args: str):
        self.root = root
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_", "DAGSTER_", "STRATEGY_", "TRADE_", "INTERMEDIATES_"))
        }
        env.update({"WEIGHTING_LOCAL_ROOT": str(root), "VENV": sys.prefix, **DEPLOYMENT})
        backend = os.environ.get("WEIGHTING_TEST_BACKEND", "auto")
        self.proc = subprocess.Popen(
            [str(REPO / "run.sh"), "stack", "--backend", backend, *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.ready: dict | None = None
        got = threading.Event()

        def read():
            for line in self.proc.stdout:
                self.lines.append(line)
                if line.startswith("STACK READY "):
                    self.ready = json.loads(line[len("STACK READY ") :])
                    got.set()
            got.set()

        threading.Thread(target=read, daemon=True).start()
        got.wait(900)  # a first start builds the image (docs/deployment.md)
        if self.ready is None:
            self.stop()
            pytest.fail("the stack did not print STACK READY:\n" + "".join(self.lines[-60:]) + self.logs())

    def logs(self) -> str:
        logs = sorted((self.state / "logs").glob("*.log")) + sorted((self.state / "tasks").glob("*.log"))
        return "".join(f"\n--- {p.name}\n" + p.read_text(errors="replace")[-3000:] for p in logs)

    @property
    def state(self) -> Path:
        return self.root / ".local" / "stack"

    def containers(self, label: str, value: str) -> list[dict]:
        return Podman(self.state).containers(label, value)

    def client(self, service: str):
        url = self.ready["dynamodb"] if service == "dynamodb" else self.ready["aws"]
        return boto3.client(
            service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="local", aws_secret_access_key="local"
        )

    def gql(self, query: str, variables: dict) -> dict:
        return graphql(self.ready["webserver"], query, variables)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # to the ./run.sh stack process itself
        return self.proc.wait(timeout=120)


IMPOSSIBLE = {"resources": {"settings": {"config": {"min_multiplier": 3.0}}}}  # fails in closed_lots, naming the bound
# The deployment's settings: a turnover threshold every week that moves exceeds, so the rehearsal shows WARN alerts.
DEPLOYMENT = {"TURNOVER_WARN_THRESHOLD": "0.0001"}
LIVE_WEEK = latest_complete_week()  # what trading reads now


def weeks_before(week: str, n: int) -> str:
    for _ in range(n):
        week = previous_key(week)
    return week


# Every week relative to the live one, inside the stack's seeded history and apart from each other.
FAILING_WEEK = weeks_before(LIVE_WEEK, 2)
BACKFILL_WEEKS = [weeks_before(LIVE_WEEK, n) for n in range(8, 2, -1)]
RETRIED_WEEK = weeks_before(LIVE_WEEK, 12)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = Stack(tmp_path_factory.mktemp("stack_root"))
    # Launched first, so the wait for their alerts overlaps the other tests; the alerts test reads the queue.
    launched = datetime.datetime.now(datetime.timezone.utc)
    running.failing_run = (launch_week(running, FAILING_WEEK, IMPOSSIBLE), launched)
    # Dagster retries this one once (the tags lift deploy/dagster.yaml's no-retry-on-step-failure rule for it).
    retry_tags = {"dagster/max_retries": "1", "dagster/retry_on_asset_or_op_failure": "true"}
    running.retried_run = launch_week(running, RETRIED_WEEK, IMPOSSIBLE, retry_tags)
    yield running
    if running.proc.poll() is None:
        running.stop()


def launch_week(stack: Stack, week: str, run_config: dict | None = None, tags: dict | None = None) -> str:
    tags = {"dagster/partition": week, **(tags or {})}
    params = {
        "selector": {
            "repositoryLocationName": LOCATION,
            "repositoryName": "__repository__",
            "jobName": "__ASSET_JOB",
            "assetSelection": ASSETS,
            "assetCheckSelection": CHECKS,
        },
        "mode": "default",
        "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
        "runConfigData": json.dumps(run_config or {}),
    }
    answer = stack.gql(LAUNCH_RUN, {"p": params})["launchRun"]
    assert answer["__typename"] == "LaunchRunSuccess", answer
    return answer["run"]["runId"]


def wait_for(fetch, done, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fetch()
        if done(value):
            return value
        time.sleep(1)
    raise AssertionError(f"{what} not done within {timeout} s: {value}")


def run_status(stack: Stack, run_id: str) -> dict:
    run = stack.gql(RUN, {"id": run_id})["runOrError"]
    return {"status": run["status"], "tags": {t["key"]: t["value"] for t in run["tags"]}}


def item(stack: Stack, week: str) -> dict | None:
    got = stack.client("dynamodb").get_item(
        TableName=stack.ready["weights_table"], Key={"PK": {"S": "WEIGHTS#WEEK"}, "SK": {"S": week}}
    )
    return got.get("Item")


def tasks_of(stack: Stack, run_id: str) -> list[dict]:
    ecs = stack.client("ecs")
    arns = ecs.list_tasks(cluster=stack.ready["cluster"])["taskArns"]
    arns += ecs.list_tasks(cluster=stack.ready["cluster"], desiredStatus="STOPPED")["taskArns"]
    tasks = (
        ecs.describe_tasks(cluster=stack.ready["cluster"], tasks=sorted(set(arns)), include=["TAGS"])["tasks"]
        if arns
        else []
    )
    return [t for t in tasks if {"key": "dagster/run_id", "value": run_id} in t.get("tags", [])]


def test_a_week_launched_like_the_materialize_button_runs_in_one_ecs_task(stack):
    week = previous_key(LIVE_WEEK)  # the live week's turnover is then measured against it
    run_id = launch_week(stack, week)
    run = wait_for(lambda: run_status(stack, run_id), lambda r: r["status"] in DONE, 180, f"run {run_id}")
    assert run["status"] == "SUCCESS", stack.logs()

    [task] = tasks_of(stack, run_id)  # exactly one ECS task for the run
    assert task["clusterArn"].endswith(f":cluster/{stack.ready['cluster']}") and task["launchType"] == "FARGATE"
    assert run["tags"]["ecs/task_arn"] == task["taskArn"]
    [override] = task["overrides"]["containerOverrides"]
    assert override["name"] == "run" and override["command"][:3] == ["dagster", "api", "execute_run"]
    [eni] = [a for a in task["attachments"] if a["type"] == "ElasticNetworkInterface"]
    details = {d["name"]: d["value"] for d in eni["details"]}
    [subnet] = stack.client("ec2").describe_subnets(SubnetIds=[details["subnetId"]])["Subnets"]
    assert subnet["CidrBlock"] == "10.0.1.0/24"  # the stack's run subnet (DAGSTER_ECS_SUBNETS), not a default one
    # The run is SUCCESS in Postgres a moment before its container exits and the task stops.
    [task] = wait_for(lambda: tasks_of(stack, run_id), lambda t: t[0]["lastStatus"] == "STOPPED", 60, "task stop")
    assert "exited (code 0)" in task["stoppedReason"]
    # It ran in one container of the image the stack built, with the launcher's command.
    [container] = stack.containers(RUN_ID_LABEL, run_id)
    assert container["Image"].endswith(stack.ready["image"]) and container["ExitCode"] == 0, container
    assert container["Command"][:3] == ["dagster", "api", "execute_run"] and container["Labels"][STACK_LABEL] == str(
        stack.state
    )

    engine = sa.create_engine(stack.ready["postgres"])
    with engine.connect() as connection:
        stored = connection.execute(sa.text("select status from runs where run_id = :id"), {"id": run_id}).scalar()
    engine.dispose()
    assert stored == "SUCCESS"

    bucket, prefix = stack.ready["intermediates"].removeprefix("s3://").split("/", 1)
    keys = {o["Key"] for o in stack.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])}
    for asset in INTERMEDIATE_ASSETS:  # <asset>/<computation key>/<week>.parquet, one key for the run's settings
        assert len([k for k in keys if re.fullmatch(rf"{prefix}/{asset}/[0-9a-f]{{12}}/{week}\.parquet", k)]) == 1, (
            asset,
            sorted(keys),
        )
    published = item(stack, week)
    assert published is not None and published["run_id"]["S"] == run_id
    # The run's task logged the week where the template points it (PUBLICATION_LOG__BASE_PATH),
    # beside the intermediates and outside their expiry.
    logged = stack.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"publications/{week}/").get("Contents", [])
    assert [o["Key"].rsplit("-published-", 1)[-1] for o in logged] == [f"{run_id}.json"], logged

    # Then the daemon's analysis_after_publication sensor starts the diagnostics in a run of their own.
    fetch = lambda: stack.gql(RUNS_AFTER, {"id": run_id})["runsOrError"]["results"]  # noqa: E731
    [analysis] = wait_for(
        fetch, lambda runs: runs and runs[0]["status"] in DONE, 240, f"the analysis run after {run_id}"
    )
    assert analysis["jobName"] == "analysis_job" and analysis["status"] == "SUCCESS", stack.logs()
    assert {"key": "dagster/partition", "value": week} in analysis["tags"]
    assert len(tasks_of(stack, analysis["runId"])) == 1
    for asset in ("tilt_backtest", "tilt_report"):  # (another test's analysis run may have come since)
        recent = stack.gql(RECENT, {"path": [asset]})["assetOrError"]["assetMaterializations"]
        assert analysis["runId"] in {m["runId"] for m in recent}, asset


def test_the_live_week_run_alone_publishes_it(stack):
    run_id = launch_week(stack, LIVE_WEEK)
    run = wait_for(lambda: run_status(stack, run_id), lambda r: r["status"] in DONE, 180, f"run {run_id}")
    assert run["status"] == "SUCCESS", stack.logs()
    published = item(stack, LIVE_WEEK)
    assert published is not None and published["run_id"]["S"] == run_id
    stack.live_run = run_id


def test_a_six_week_backfill_through_the_backfill_command_is_one_sized_run_and_six_items(stack):
    weeks = BACKFILL_WEEKS
    # The command submits what the UI's backfill dialog does (launchPartitionBackfill).
    env = {**os.environ, "DAGSTER_WEBSERVER_URL": stack.ready["webserver"]}
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("weighting-pipeline")),
            "backfill",
            "--range",
            f"{weeks[0]}...{weeks[-1]}",
            "--cpu",
            "1024",
            "--memory",
            "4096",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    backfill_id = re.match(r"Backfill (\S+): 6 weeks ", done.stdout).group(1)
    assert f"{stack.ready['webserver']}/runs/b/{backfill_id}" in done.stdout
    fetch = lambda: stack.gql(BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]  # noqa: E731
    backfill = wait_for(
        fetch, lambda b: b["status"].startswith("COMPLETED") or b["status"] in ("FAILED", "CANCELED"), 240, "backfill"
    )
    assert backfill["status"] == "COMPLETED_SUCCESS", stack.logs()
    [run] = backfill["runs"]  # the single-run backfill policy: one run for the six weeks
    assert run["status"] == "SUCCESS"
    [task] = tasks_of(stack, run["runId"])  # through the run launcher: one ECS task, sized by the tags
    [container] = stack.containers(RUN_ID_LABEL, run["runId"])
    assert container["Image"].endswith(stack.ready["image"])
    assert (task["overrides"].get("cpu"), task["overrides"].get("memory")) == ("1024", "4096"), task["overrides"]
    for week in weeks:
        published = item(stack, week)
        assert published is not None and published["run_id"]["S"] == run["runId"], week
    stack.backfill_run = run["runId"]


def test_the_alerts_queue_receives_exactly_what_the_alert_rules_say(stack):
    """A failing run, a retried run, a backfill with WARNs and a live week with a WARN: one
    alert each, and nothing else but, possibly, the live week's missed-week alert (sent if the
    daemon's sensor looked before that week's run had published it)."""
    run_id, launched = stack.failing_run
    sqs, seen = stack.client("sqs"), []
    expected = {
        "failed": f"[weighting prod] run failed: weeks {FAILING_WEEK}",
        "retried": f"[weighting prod] run failed: weeks {RETRIED_WEEK}",
        "backfill": f"[weighting prod] backfill {BACKFILL_WEEKS[0]}...{BACKFILL_WEEKS[-1]}: warnings in 1 check(s)",
        "live": f"[weighting prod] week {LIVE_WEEK}: turnover_below_threshold failing",
    }
    missed = f"[weighting prod] week {LIVE_WEEK} not published"
    # Sensors tick every 30-60 s and the retry is a second ECS task: read until every expected
    # alert is in, then 45 s more (longer than a run status sensor's 30 s interval), so that a duplicate (a first attempt's alert, a second
    # summary) would be caught.
    deadline, settle = time.monotonic() + 300, None
    while time.monotonic() < (settle or deadline):
        seen += receive_alerts(sqs, stack.ready["alerts_queue"], wait_seconds=5)
        if settle is None and set(expected.values()) <= {a["subject"] for a in seen}:
            settle = time.monotonic() + 45
    subjects = sorted(a["subject"] for a in seen)
    assert sorted(s for s in subjects if s != missed) == sorted(expected.values()), f"{subjects}\n{stack.logs()}"
    assert subjects.count(missed) <= 1
    by_subject = {a["subject"]: a for a in seen}

    failed = by_subject[expected["failed"]]
    sent = datetime.datetime.fromisoformat(failed["sent_at"].replace("Z", "+00:00"))
    assert (sent - launched).total_seconds() <= 120, (launched, failed["sent_at"])
    assert failed["body"].startswith(f"Run {run_id} failed.\n") and "Attempts" not in failed["body"]
    assert "Failing step: closed_lots" in failed["body"]
    assert "min_multiplier must satisfy 0 < min <= 1, got 3.0" in failed["body"]
    assert f"Link: {stack.ready['webserver']}/runs/{run_id}" in failed["body"]
    assert item(stack, FAILING_WEEK) is None

    retried = by_subject[expected["retried"]]["body"].splitlines()
    retry = retried[0].split()[1]
    assert retried[0] == f"Run {retry} failed on its last attempt (2 of 2)." and retry != stack.retried_run
    assert retried[1] == f"Attempts: {stack.retried_run}, {retry}"
    assert run_status(stack, retry)["tags"]["dagster/parent_run_id"] == stack.retried_run
    for attempt in (stack.retried_run, retry):  # each attempt in a container of its own
        [container] = stack.containers(RUN_ID_LABEL, attempt)
        assert container["Image"].endswith(stack.ready["image"]), container

    backfill = by_subject[expected["backfill"]]["body"]
    assert f"(run {stack.backfill_run})" in backfill
    assert (
        f"- dynamic_weights:turnover_below_threshold: 5 of 6 weeks, first {BACKFILL_WEEKS[1]}, {BACKFILL_WEEKS[2]}, {BACKFILL_WEEKS[3]}"
        in backfill
    )

    live = by_subject[expected["live"]]["body"]
    assert live.startswith(f"Week {LIVE_WEEK}, published by run {stack.live_run}, which trading reads now:")


LOAD_THE_INSTANCE = "import dagster as dg; instance = dg.DagsterInstance.get(); instance.run_launcher; instance.get_runs(limit=1); print('loaded')"


@pytest.mark.parametrize("renamed", [None, "DAGSTER_ECS_CLUSTER"])
def test_a_run_container_of_the_image_loads_the_instance_only_from_the_templates_own_variables(
    stack, tmp_path, renamed
):
    """The template (one run-task variable renamed, or as it is) deployed beside the stack's, and a
    container of the stack's image given that run task's environment, as the Fargate stand-in
    gives it: the run worker's first step, loading the instance, fails naming the variable."""
    from weighting_pipeline_devtools.containers import ContainerSpec
    from weighting_pipeline_devtools.infrastructure import deploy
    from weighting_pipeline_tests.conftest import template_with_run_variable_renamed

    template = template_with_run_variable_renamed(renamed, tmp_path)
    url = sa.engine.make_url(stack.ready["postgres"])
    database = {
        "DAGSTER_PG_HOST": url.host,
        "DAGSTER_PG_PORT": str(url.port),
        "DAGSTER_PG_USER": url.username,
        "DAGSTER_PG_PASSWORD": url.password or "",
        "DAGSTER_PG_DB": url.database,
    }
    stage = "staging" if renamed else "dev"  # the stack's own is prod; the stage names the tables
    deployment = deploy(
        stage=stage,
        aws_endpoint=stack.ready["aws"],
        dynamodb_endpoint=stack.ready["dynamodb"],
        database=database,
        image=stack.ready["image"],
        stack_name=f"renamed-{stage}",
        template=template,
    )
    run = deployment.run_container()
    assert run.image == stack.ready["image"]
    endpoints = {
        "AWS_ENDPOINT_URL": stack.ready["aws"],
        "AWS_ENDPOINT_URL_DYNAMODB": stack.ready["dynamodb"],
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
    }
    spec = ContainerSpec(
        image=run.image,
        command=["python", "-c", LOAD_THE_INSTANCE],
        environment={**endpoints, **run.environment},
        secrets=run.secrets,
    )
    podman = Podman(stack.state)
    done = subprocess.run(
        podman.run_command(spec, {STACK_LABEL: str(stack.state)}),
        env=podman.env(spec.env()),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if renamed:
        assert done.returncode != 0 and renamed in done.stdout + done.stderr, done.stdout + done.stderr
    else:
        assert done.returncode == 0 and "loaded" in done.stdout, done.stdout + done.stderr


def _host_port(url: str) -> tuple[str, str]:
    return url.split("@")[-1].split("//")[-1].split("/")[0].rsplit(":", 1)


def _listening(url: str) -> bool:
    host, port = _host_port(url)
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def _processes_of(root: Path) -> set[int]:
    """Processes whose environment names this stack's root (everything it started but PostgreSQL)."""
    marker = f"WEIGHTING_LOCAL_ROOT={root}".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.add(int(entry.name))
            except OSError:
                pass
    return found


def test_nothing_the_stack_runs_listens_beyond_loopback(stack):
    """Read from the kernel's socket tables, for every process the stack started and every
    process in its containers (which share the host's network)."""
    containers = [c for c in stack.containers(STACK_LABEL, str(stack.state)) if c["State"] == "running"]
    pids = with_descendants(_processes_of(stack.root) | {c["Pid"] for c in containers})
    sockets = listening_sockets(pids)
    ports = {port for _, port in sockets}
    expected = {int(_host_port(stack.ready[k])[1]) for k in ("webserver", "dynamodb", "aws")}
    assert expected <= ports and len(ports) > len(expected), sockets  # the code server's gRPC port too
    assert [s for s in sockets if not is_loopback(s[0])] == []
    postgres = listening_addresses(int(_host_port(stack.ready["postgres"])[1]))
    assert postgres and all(is_loopback(a) for a in postgres), postgres


def test_stopping_the_stack_leaves_nothing_running(stack):
    urls = [stack.ready[k] for k in ("webserver", "dynamodb", "aws", "postgres")]
    assert all(_listening(u) for u in urls)
    before = _processes_of(stack.root)
    assert len(before) >= 5  # run.sh's python, moto, the services' podman, stand-in, ...
    services = {
        c["Labels"]["weighting-pipeline.service"]
        for c in stack.containers(STACK_LABEL, str(stack.state))
        if c["State"] == "running" and "weighting-pipeline.service" in c["Labels"]
    }
    assert services == {"code-server", "daemon", "webserver"}
    assert stack.stop() == 128 + signal.SIGTERM
    assert not [u for u in urls if _listening(u)]
    assert _processes_of(stack.root) == set()
    assert stack.containers(STACK_LABEL, str(stack.state)) == []  # stopped and removed, runs' containers too
    postgres = subprocess.run(
        ["pgrep", "-u", "postgres", "-f", stack.ready["postgres"].rsplit(":", 1)[1].split("/")[0]],
        capture_output=True,
        text=True,
    )
    assert postgres.stdout.strip() == ""
