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
from weighting_pipeline.devtools.infrastructure import receive_alerts
from weighting_pipeline.devtools.stack import LOCATION
from weighting_pipeline.ops.webserver import graphql

# The rehearsal starts every server itself, outside the fixtures that mark the others.
pytestmark = [pytest.mark.stack, pytest.mark.slow, pytest.mark.dynamodb, pytest.mark.postgres, pytest.mark.aws, pytest.mark.dagster]

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
    def __init__(self, root: Path):
        self.root = root
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DAGSTER_", "STRATEGY_", "TRADE_", "INTERMEDIATES_"))}
        env.update({"WEIGHTING_LOCAL_ROOT": str(root), "VENV": sys.prefix})
        backend = os.environ.get("WEIGHTING_TEST_BACKEND", "auto")
        self.proc = subprocess.Popen([str(REPO / "run.sh"), "stack", "--backend", backend], cwd=REPO, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.lines: list[str] = []
        self.ready: dict | None = None
        got = threading.Event()

        def read():
            for line in self.proc.stdout:
                self.lines.append(line)
                if line.startswith("STACK READY "):
                    self.ready = json.loads(line[len("STACK READY "):])
                    got.set()
            got.set()

        threading.Thread(target=read, daemon=True).start()
        got.wait(300)
        if self.ready is None:
            self.stop()
            pytest.fail("the stack did not print STACK READY:\n" + "".join(self.lines[-60:]) + self.logs())

    def logs(self) -> str:
        folder = self.root / ".local" / "stack" / "logs"
        return "".join(f"\n--- {p.name}\n" + p.read_text(errors="replace")[-3000:] for p in sorted(folder.glob("*.log")))

    def client(self, service: str):
        url = self.ready["dynamodb"] if service == "dynamodb" else self.ready["aws"]
        return boto3.client(service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="local", aws_secret_access_key="local")

    def gql(self, query: str, variables: dict) -> dict:
        return graphql(self.ready["webserver"], query, variables)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # to the ./run.sh stack process itself
        return self.proc.wait(timeout=120)


FAILING_WEEK = "2026-11-08"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = Stack(tmp_path_factory.mktemp("stack_root"))
    # Launched first, so the wait for its alert overlaps the other tests; its test reads the queue.
    launched = datetime.datetime.now(datetime.timezone.utc)
    running.failing_run = (launch_week(running, FAILING_WEEK, {"resources": {"settings": {"config": {"min_multiplier": 3.0}}}}), launched)
    yield running
    if running.proc.poll() is None:
        running.stop()


def launch_week(stack: Stack, week: str, run_config: dict | None = None) -> str:
    params = {
        "selector": {"repositoryLocationName": LOCATION, "repositoryName": "__repository__", "jobName": "__ASSET_JOB",
                     "assetSelection": ASSETS, "assetCheckSelection": CHECKS},
        "mode": "default",
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": week}]},
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
    got = stack.client("dynamodb").get_item(TableName=stack.ready["weights_table"], Key={"PK": {"S": "WEIGHTS#WEEK"}, "SK": {"S": week}})
    return got.get("Item")


def tasks_of(stack: Stack, run_id: str) -> list[dict]:
    ecs = stack.client("ecs")
    arns = ecs.list_tasks(cluster=stack.ready["cluster"])["taskArns"]
    arns += ecs.list_tasks(cluster=stack.ready["cluster"], desiredStatus="STOPPED")["taskArns"]
    tasks = ecs.describe_tasks(cluster=stack.ready["cluster"], tasks=sorted(set(arns)), include=["TAGS"])["tasks"] if arns else []
    return [t for t in tasks if {"key": "dagster/run_id", "value": run_id} in t.get("tags", [])]


def test_a_week_launched_like_the_materialize_button_runs_in_one_ecs_task(stack):
    week = "2026-11-15"
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

    engine = sa.create_engine(stack.ready["postgres"])
    with engine.connect() as connection:
        stored = connection.execute(sa.text("select status from runs where run_id = :id"), {"id": run_id}).scalar()
    engine.dispose()
    assert stored == "SUCCESS"

    bucket, prefix = stack.ready["intermediates"].removeprefix("s3://").split("/", 1)
    keys = {o["Key"] for o in stack.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])}
    for asset in INTERMEDIATE_ASSETS:  # <asset>/<computation key>/<week>.parquet, one key for the run's settings
        assert len([k for k in keys if re.fullmatch(rf"{prefix}/{asset}/[0-9a-f]{{12}}/{week}\.parquet", k)]) == 1, (asset, sorted(keys))
    published = item(stack, week)
    assert published is not None and published["run_id"]["S"] == run_id

    # Then the daemon's analysis_after_publication sensor starts the diagnostics in a run of their own.
    fetch = lambda: stack.gql(RUNS_AFTER, {"id": run_id})["runsOrError"]["results"]  # noqa: E731
    [analysis] = wait_for(fetch, lambda runs: runs and runs[0]["status"] in DONE, 240, f"the analysis run after {run_id}")
    assert analysis["jobName"] == "analysis_job" and analysis["status"] == "SUCCESS", stack.logs()
    assert {"key": "dagster/partition", "value": week} in analysis["tags"]
    assert len(tasks_of(stack, analysis["runId"])) == 1
    for asset in ("tilt_backtest", "tilt_report"):  # (another test's analysis run may have come since)
        recent = stack.gql(RECENT, {"path": [asset]})["assetOrError"]["assetMaterializations"]
        assert analysis["runId"] in {m["runId"] for m in recent}, asset


def test_a_six_week_backfill_through_the_backfill_command_is_one_sized_run_and_six_items(stack):
    weeks = ["2026-09-27", "2026-10-04", "2026-10-11", "2026-10-18", "2026-10-25", "2026-11-01"]
    # The command submits what the UI's backfill dialog does (launchPartitionBackfill).
    env = {**os.environ, "DAGSTER_WEBSERVER_URL": stack.ready["webserver"]}
    done = subprocess.run([str(Path(sys.executable).with_name("weighting-pipeline")), "backfill", "--range", f"{weeks[0]}...{weeks[-1]}",
                           "--cpu", "1024", "--memory", "4096"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    backfill_id = re.match(r"Backfill (\S+): 6 weeks ", done.stdout).group(1)
    assert f"{stack.ready['webserver']}/runs/b/{backfill_id}" in done.stdout
    fetch = lambda: stack.gql(BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]  # noqa: E731
    backfill = wait_for(fetch, lambda b: b["status"].startswith("COMPLETED") or b["status"] in ("FAILED", "CANCELED"), 240, "backfill")
    assert backfill["status"] == "COMPLETED_SUCCESS", stack.logs()
    [run] = backfill["runs"]  # the single-run backfill policy: one run for the six weeks
    assert run["status"] == "SUCCESS"
    [task] = tasks_of(stack, run["runId"])  # through the run launcher: one ECS task, sized by the tags
    assert (task["overrides"].get("cpu"), task["overrides"].get("memory")) == ("1024", "4096"), task["overrides"]
    for week in weeks:
        published = item(stack, week)
        assert published is not None and published["run_id"]["S"] == run["runId"], week


def test_a_failed_run_reaches_the_alerts_queue_within_two_minutes(stack):
    run_id, launched = stack.failing_run  # an impossible multiplier bound (launched by the fixture)
    sqs = stack.client("sqs")
    # The other tests may outlast two minutes, so the bound is on SNS's own send time, and the
    # queue is read for a while longer than that (it keeps the message until it is read).
    deadline, seen = time.monotonic() + 150, []
    while time.monotonic() < deadline:
        for alert in receive_alerts(sqs, stack.ready["alerts_queue"], wait_seconds=5):
            seen.append(alert)
            if run_id in alert["body"]:
                sent = datetime.datetime.fromisoformat(alert["sent_at"].replace("Z", "+00:00"))
                assert (sent - launched).total_seconds() <= 120, (launched, alert["sent_at"])
                assert alert["subject"] == f"[weighting prod] run failed: weeks {FAILING_WEEK}"
                assert "Failing step: closed_lots" in alert["body"]
                assert "min_multiplier must satisfy 0 < min <= 1, got 3.0" in alert["body"]
                assert f"Link: {stack.ready['webserver']}/runs/{run_id}" in alert["body"]
                assert item(stack, FAILING_WEEK) is None
                return
    pytest.fail(f"no alert named run {run_id}; got {seen}\n{stack.logs()}")


def _listening(url: str) -> bool:
    host_port = url.split("@")[-1].split("//")[-1].split("/")[0]
    host, port = host_port.rsplit(":", 1)
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


def test_stopping_the_stack_leaves_nothing_running(stack):
    urls = [stack.ready[k] for k in ("webserver", "dynamodb", "aws", "postgres")]
    assert all(_listening(u) for u in urls)
    before = _processes_of(stack.root)
    assert len(before) >= 5  # run.sh's python, moto, code server, daemon, webserver, stand-in, ...
    assert stack.stop() == 128 + signal.SIGTERM
    assert not [u for u in urls if _listening(u)]
    assert _processes_of(stack.root) == set()
    postgres = subprocess.run(["pgrep", "-u", "postgres", "-f", stack.ready["postgres"].rsplit(":", 1)[1].split("/")[0]],
                              capture_output=True, text=True)
    assert postgres.stdout.strip() == ""
