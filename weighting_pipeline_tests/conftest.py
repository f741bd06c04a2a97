"""Shared fixtures and the test tiers.

Servers start only for the tests that use them, one per session and worker:
a local DynamoDB (AWS's DynamoDB Local when Java is available, CI installs
one, else moto's server; ``WEIGHTING_TEST_BACKEND`` forces either), moto's
server for the other AWS services, and Debian's PostgreSQL. All listen on
127.0.0.1 and are reached over HTTP by the real boto3 client.

Tiers: a test is marked by what it needs, from the fixtures it uses
(``SERVER_MARKERS``) or by hand (``stack``, ``slow``, ``dagster`` where a test
builds its own instance). ``./run.sh test fast`` runs the tests with none of
``TIER_MARKERS``; ``./run.sh test`` runs them all.
"""

from __future__ import annotations

import os
import re
import sys
import uuid
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import settings

from weighting_pipeline.core.baseline import load_baseline, packaged_config_path
from weighting_pipeline.ops.tables import create_ledger_table, create_tables
from weighting_pipeline.resources.dynamodb import DynamoDBResource
from weighting_pipeline_devtools.demo_ledger import seed_ledger  # noqa: F401  (tests import it from here)
from weighting_pipeline_devtools.dynamodb_local import LocalDynamoDB
from weighting_pipeline_devtools.moto_server import LocalAWS
from weighting_pipeline_devtools.postgres import LocalPostgres

# The console script, as a user runs it (installed beside this Python by pip install -e).
CLI = [str(Path(sys.executable).with_name("weighting-pipeline"))]

# Hypothesis runs the same examples every time by default, so CI is deterministic;
# HYPOTHESIS_PROFILE=explore searches afresh (run it when changing the math).
settings.register_profile("deterministic", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


def pytest_report_header(config):
    return f"local DynamoDB backend: {os.environ.get('WEIGHTING_TEST_BACKEND', 'auto')}"


# fixture -> the marker every test using it (directly or through another fixture) gets
SERVER_MARKERS = {
    "scheduled_deployment": ("aws", "dynamodb"),  # its own servers
    "dynamodb_server": "dynamodb",
    "postgres_server": "postgres",
    "aws_server": "aws",
    "instance": "dagster",
}
# what ./run.sh test fast leaves out (registered in pyproject.toml)
TIER_MARKERS = ("dynamodb", "postgres", "aws", "dagster", "stack", "slow")
# Where no DynamoDB server was asked for: a closed local port, so a test that
# reaches DynamoDB without the fixture fails at once, never calling real AWS.
NO_DYNAMODB = "http://127.0.0.1:9"


def pytest_collection_modifyitems(config, items):
    for item in items:
        for fixture, markers in SERVER_MARKERS.items():
            if fixture in item.fixturenames:
                for marker in (markers,) if isinstance(markers, str) else markers:
                    item.add_marker(marker)
    # The rehearsal's tests first and together: xdist's load scheduler hands each worker a
    # contiguous first chunk, so one worker builds the (module-scoped) stack once, early,
    # instead of two workers building one each near the end.
    items.sort(key=lambda item: item.get_closest_marker("stack") is None)


@pytest.fixture(scope="session")
def dynamodb_server():
    backend = os.environ.get("WEIGHTING_TEST_BACKEND", "auto")
    with LocalDynamoDB(backend=backend, quiet=False) as server:
        yield server


@pytest.fixture
def dynamodb(dynamodb_server, monkeypatch):
    """The local DynamoDB, reached through ``AWS_ENDPOINT_URL_DYNAMODB``."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_server.endpoint)
    return dynamodb_server


@pytest.fixture(autouse=True)
def aws_env(monkeypatch, tmp_path):
    """Every test sees AWS through the standard variables only, with test credentials."""
    for var in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_DEFAULT_REGION",
        "STRATEGY_CONFIG__PATH",
        "LOOKBACK_DAYS",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", NO_DYNAMODB)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("APP__STAGE", "prod")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()


@pytest.fixture(scope="session")
def aws_server():
    """moto's server for S3, SNS, SQS, ECS and EC2 (DynamoDB stays on its own server)."""
    with LocalAWS() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server():
    """Debian's PostgreSQL on 127.0.0.1 (``.ci/run`` installs it), one per session."""
    with LocalPostgres() as server:
        yield server


def deploy_for_tests(stage: str, aws_endpoint: str, dynamodb_endpoint: str, postgres, **options):
    """The template deployed into moto for the tests, onto ``postgres`` (a ``LocalPostgres``)."""
    from weighting_pipeline_devtools.infrastructure import deploy

    return deploy(
        stage=stage,
        aws_endpoint=aws_endpoint,
        dynamodb_endpoint=dynamodb_endpoint,
        database=postgres.env(),
        image="weighting-pipeline:test",
        stack_name=f"t{uuid.uuid4().hex[:8]}",
        **options,
    )


@pytest.fixture(scope="session")
def deployment(postgres_server, aws_server, dynamodb_server):
    """deploy/cloudformation/weighting-pipeline.yaml deployed into moto (stage prod), once per
    session: the stage names its tables and bucket, so a second one would collide."""
    return deploy_for_tests("prod", aws_server.endpoint, dynamodb_server.endpoint, postgres_server)


@pytest.fixture(scope="session")
def scheduled_deployment(postgres_server, tmp_path_factory):
    """The template deployed with Runtime=scheduled, once per session, on a moto server (its own
    process: moto's state is per process) and a DynamoDB of its own: a stack's tables are named
    by its stage, and the other deployments of the session use all three stages."""
    backend = os.environ.get("WEIGHTING_TEST_BACKEND", "auto")
    log = tmp_path_factory.mktemp("scheduled_moto") / "moto.log"
    with LocalAWS(log=log) as aws, LocalDynamoDB(backend=backend, quiet=False) as dynamodb:
        yield deploy_for_tests("staging", aws.endpoint, dynamodb.endpoint, postgres_server, runtime="scheduled")


def template_with_run_variable_renamed(variable: str | None, folder: Path) -> Path:
    """A copy of the CloudFormation template in ``folder`` whose run task definition spells
    ``variable`` with a trailing S (None: the template unchanged)."""
    from weighting_pipeline_devtools.infrastructure import TEMPLATE

    text = TEMPLATE.read_text()
    if variable:
        start = text.index("  RunTaskDefinition:")
        end = re.compile(r"^  \S", re.M).search(text, start + 1).start()  # the next resource or comment
        assert text[start:end].count(f"Name: {variable},") == 1
        text = text[:start] + text[start:end].replace(f"Name: {variable},", f"Name: {variable}S,") + text[end:]
    copy = folder / TEMPLATE.name
    copy.write_text(text)
    return copy


@pytest.fixture
def aws(aws_server, monkeypatch):
    """The AWS services beside DynamoDB, reached through ``AWS_ENDPOINT_URL``."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_server.endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # what boto3 reads, in Dagster's own clients
    return aws_server


@pytest.fixture
def s3_intermediates(aws, monkeypatch):
    """A fresh bucket; ``INTERMEDIATES__BASE_PATH`` points at a prefix in it, and
    ``PUBLICATION_LOG__BASE_PATH`` at ``publications`` beside it, as in production."""
    import boto3

    bucket = f"intermediates-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket)
    uri = f"s3://{bucket}/weighting"
    monkeypatch.setenv("INTERMEDIATES__BASE_PATH", uri)
    monkeypatch.setenv("PUBLICATION_LOG__BASE_PATH", f"s3://{bucket}/publications")
    return uri


@pytest.fixture
def client(dynamodb):
    return DynamoDBResource().get_client()


# ledger token -> a ledger table (kept for the session, on this worker's server) holding exactly it
_SHARED_LEDGERS: dict[tuple, str] = {}


def ledger_token(ledger) -> tuple:
    """Equal for two synthetic ledgers with the same lots and exit records."""
    return tuple(int(pd.util.hash_pandas_object(f, index=False).sum()) for f in (ledger.lots, ledger.exit_records))


class Tables(dict):
    """A test's table names (``ledger``, ``weights``), exported in the env vars."""

    def __init__(self, names: dict[str, str], client, monkeypatch):
        super().__init__(names)
        self._client, self._monkeypatch = client, monkeypatch

    def read_only_ledger(self, ledger) -> str:
        """Point this test at a ledger table holding exactly ``ledger`` (a ``SyntheticLedger``),
        seeded the first time a test of this session asks for that ledger and shared after:
        seeding the standard ledger costs seconds. Only for tests that never write the ledger."""
        token = ledger_token(ledger)
        if token not in _SHARED_LEDGERS:
            name = f"trade-ledger-shared-{uuid.uuid4().hex[:8]}"
            create_ledger_table(self._client, name)
            seed_ledger(name, ledger)
            _SHARED_LEDGERS[token] = name
        self["ledger"] = _SHARED_LEDGERS[token]
        self._monkeypatch.setenv("TRADE_LEDGER__TABLE_NAME", self["ledger"])
        return self["ledger"]


@pytest.fixture
def tables(client, monkeypatch):
    """Fresh ledger and weights tables (unique names), exported in the env vars."""
    suffix = uuid.uuid4().hex[:8]
    names = {"ledger": f"trade-ledger-{suffix}", "weights": f"strategy-weights-{suffix}"}
    create_tables(client, names["ledger"], names["weights"])
    monkeypatch.setenv("TRADE_LEDGER__TABLE_NAME", names["ledger"])
    monkeypatch.setenv("STRATEGY_WEIGHTS__TABLE_NAME", names["weights"])
    yield Tables(names, client, monkeypatch)
    for name in names.values():
        client.delete_table(TableName=name)


@pytest.fixture(scope="session")
def baseline():
    return load_baseline(packaged_config_path("prod"))


@pytest.fixture
def ledger(tables, baseline):
    """The standard test ledger (2025-10-01 .. 2026-03-31, every baseline strategy), seeded; its lots."""
    from weighting_pipeline_devtools.demo_ledger import synthetic_ledger

    ledger = synthetic_ledger(baseline.keys, "2025-10-01", "2026-03-31", 1.0, seed=4)
    tables.read_only_ledger(ledger)
    return ledger.lots


def ts(text: str) -> pd.Timestamp:
    """A New York wall-clock time as a UTC timestamp."""
    return pd.Timestamp(text, tz="America/New_York").tz_convert("UTC")


def build_definitions(environ: dict[str, str]):
    """The definitions as the code location loads them (``definitions.py``, Dagster's defs-folder
    loader) in a process whose environment is exactly ``environ``."""
    from unittest import mock

    from weighting_pipeline.definitions import defs

    with mock.patch.dict(os.environ, environ, clear=True):
        return defs()


def run_chain_in_dagster(
    instance,
    *,
    partition_key=None,
    partition_range=None,
    selection=None,
    environ=None,
    dynamodb=None,
    now=None,
    tags=None,
    run_config=None,
):
    """Materialise the chain through Dagster with the deployment's resources.

    ``environ`` holds the deployment's setting variables (``settings.ENV_VARS``) for the
    run: the process environment has them, and no others, while it runs, as a run
    worker's would, so the run is not taken for a what-if run. ``now`` is the
    publication rules' clock (ISO-8601 with offset; default: the real clock)."""
    from unittest import mock

    import dagster as dg

    from weighting_pipeline.assets import ANALYSIS_ASSETS, CHAIN_ASSETS, tilt_backtest
    from weighting_pipeline.deployments import build_resources
    from weighting_pipeline.resources.publication_rules import PublicationRules
    from weighting_pipeline.settings import ENV_VARS, WeightingSettings

    tags = dict(tags or {})
    if partition_range:
        tags.update(
            {
                "dagster/asset_partition_range_start": partition_range[0],
                "dagster/asset_partition_range_end": partition_range[1],
            }
        )
    resources = build_resources(WeightingSettings.from_env(environ), dynamodb)
    if now is not None:
        resources["publication"] = PublicationRules(now=str(now))
    variables = {var for var, _ in ENV_VARS.values()}
    deployment = (
        {k: v for k, v in os.environ.items() if k not in variables} if environ is not None else dict(os.environ)
    )
    deployment.update({k: v for k, v in (environ or {}).items() if k in variables})
    with mock.patch.dict(os.environ, deployment, clear=True):
        return dg.materialize(
            [*CHAIN_ASSETS, *ANALYSIS_ASSETS],
            partition_key=partition_key,
            tags=tags,
            resources=resources,
            instance=instance,
            # By default the weekly chain and the backtest of its weeks, in one run (the
            # product runs the backtest in the analysis job after a publication).
            selection=selection or [*CHAIN_ASSETS, tilt_backtest],
            raise_on_error=False,
            run_config=run_config,
        )


def temp_instance(home):
    """A temporary Dagster instance in ``home`` (which becomes DAGSTER_HOME, so the
    CLI runs a test starts use it too).

    Its event log is Dagster's consolidated SQLite storage, which Dagster keeps for
    test cases: one file instead of a shard per run, so each event costs fewer
    connections (a 50-week backfill: 14.5 s instead of 22 s). The demo and
    ``./run.sh ui`` keep Dagster's default storage, and the demo test runs on it.
    """
    import dagster as dg

    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    storage = {
        "module": "dagster._core.storage.event_log",
        "class": "ConsolidatedSqliteEventLogStorage",
        "config": {"base_dir": str(home / "event_log")},
    }
    return dg.instance_for_test(temp_dir=str(home), overrides={"event_log_storage": storage})


@pytest.fixture
def instance(tmp_path):
    with temp_instance(tmp_path / "dagster_home") as inst:
        yield inst
