"""deploy/cloudformation/: the template checked against the code and the runtime config.

What each process calls is read from the code (boto3 call names) and from
deploy/dagster.yaml / deploy/workspace.yaml (the variables they read); the
template must grant exactly that to the process's role and set exactly those
variables in its task definition. The few grants the code does not make
itself are listed in EXCEPTIONS with the reason.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cfnlint.decode import decode

from weighting_pipeline_tests.template_conditions import deployed

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "deploy" / "cloudformation" / "weighting-pipeline.yaml"
DYNAMODB_CALLS = {
    "get_item": "GetItem",
    "put_item": "PutItem",
    "batch_write_item": "BatchWriteItem",
    "query": "Query",
    "scan": "Scan",
    "describe_table": "DescribeTable",
    "delete_item": "DeleteItem",
}
# task definition -> (its role, the code it runs)
PROCESSES = {
    "RunTaskDefinition": "RunTaskRole",
    "CodeServerTaskDefinition": "CodeServerTaskRole",
    "DaemonTaskDefinition": "DaemonTaskRole",
    "WebserverTaskDefinition": "WebserverTaskRole",
    "UiTaskDefinition": "UiTaskRole",
}
ECS_EXEC = {  # the ECS Exec agent's channels, for port forwarding to the UI on demand
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
}
# Granted although our code does not call it itself, and why.
EXCEPTIONS = {
    "RunTaskRole": {
        "ecs:DescribeTaskDefinition": "the run worker loads the instance, whose ECS launcher describes the run task definition",
        "kms:GenerateDataKey": "Runtime=scheduled: the weekly task publishes alerts to the topic under its key",
        "kms:Decrypt": "the same: publishing to a topic under a customer managed key needs both",
    },
    "UiTaskRole": {
        "kms:GenerateDataKey": "the sensors in the UI task publish alerts to the topic under its key",
        "kms:Decrypt": "the same: publishing to a topic under a customer managed key needs both",
        **{action: "ECS Exec's agent opens these for port forwarding (not our code)" for action in ECS_EXEC},
    },
    "CodeServerTaskRole": {
        "ecs:DescribeTaskDefinition": "sensors receive the instance, which loads the launcher",
        "kms:GenerateDataKey": "SNS encrypts each alert under the topic's customer managed key for its publisher",
        "kms:Decrypt": "the same: publishing to a topic under a customer managed key needs both",
    },
    "WebserverTaskRole": {
        "ecs:DescribeTaskDefinition": "the instance loads the launcher",
        "iam:PassRole": "Dagster's own ECS example grants it to the webserver for run termination",
    },
}
# Dagster's launcher and monitoring calls, read in dagster_aws/ecs (launcher.py, tasks.py).
LAUNCHER_CALLS = {
    "ecs:RunTask",
    "ecs:DescribeTasks",
    "ecs:DescribeTaskDefinition",
    "ecs:StopTask",
    "ecs:TagResource",
    "ec2:DescribeNetworkInterfaces",
    "iam:PassRole",
}
# No resource-level permissions (PutMetricData is pinned to its namespace by a condition instead).
RESOURCE_STAR_ALLOWED = {"ecs:DescribeTaskDefinition", "ec2:DescribeNetworkInterfaces", "cloudwatch:PutMetricData"} | (
    ECS_EXEC
)


@pytest.fixture(scope="module")
def template():
    decoded, problems = decode(str(TEMPLATE))
    assert not problems, problems
    return decoded


def statements(template, resource: str, conditions_hold: bool = True) -> list[dict]:
    """A role's statements; one under ``!If`` counts as its true branch when
    ``conditions_hold`` (so every check also sees conditional grants), else its false one."""
    props = template["Resources"][resource]["Properties"]
    # Its inline policies, and the policies attached to it (conditional ones when ``conditions_hold``).
    attached = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        and {"Ref": resource} in r["Properties"]["Roles"]
        and (conditions_hold or "Condition" not in r)
    ]
    docs = [p["PolicyDocument"] for p in [*props.get("Policies", []), *attached]] + (
        [props["PolicyDocument"]] if "PolicyDocument" in props else []
    )
    out = []
    for s in (s for d in docs for s in d["Statement"]):
        if "Fn::If" in s:
            s = s["Fn::If"][1 if conditions_hold else 2]
        if s != {"Ref": "AWS::NoValue"}:
            out.append(s)
    return out


def granted(template, resource: str) -> set[str]:
    return {a for s in statements(template, resource) for a in s["Action"]}


def dynamodb_calls(paths) -> set[str]:
    used = set()
    for path in paths:
        text = path.read_text()
        used.update(
            DYNAMODB_CALLS[op]
            for op in re.findall(
                r"\.(get_item|put_item|batch_write_item|query|scan|describe_table|delete_item)\(", text
            )
        )
        used.update(DYNAMODB_CALLS[op] for op in re.findall(r"\.get_paginator\([\"'](query|scan)[\"']\)", text))
    return {f"dynamodb:{op}" for op in used}


OUTSIDE_RUNS = {"cli", "devtools", "local", "ops"}  # operator commands and development tools: not run by a run task


def package(*exclude: str) -> list[Path]:
    """The modules a run's ECS task executes: the package without the commands and ``exclude``."""
    return [
        p
        for p in (REPO / "weighting_pipeline").rglob("*.py")
        if not OUTSIDE_RUNS & set(p.relative_to(REPO).parts) and p.name not in exclude
    ]


def environment(template, task: str) -> tuple[dict, set[str]]:
    [container] = template["Resources"][task]["Properties"]["ContainerDefinitions"]
    return {e["Name"]: e["Value"] for e in container["Environment"]}, {s["Name"] for s in container.get("Secrets", [])}


def env_refs(path: Path) -> set[str]:
    return set(re.findall(r"\{env: ([A-Z0-9_]+)\}", path.read_text()))


def test_cfn_lint_passes_on_every_template():
    templates = sorted((REPO / "deploy" / "cloudformation").glob("*.yaml"))
    assert len(templates) == 2
    done = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), *map(str, templates)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_checkov_skip_names_a_check_and_states_its_reason():
    """checkov runs in CI (.ci/checkov.py); a check a template does not meet is skipped
    on its resource, and the skip must say why (an empty or missing comment fails here)."""
    from cfnlint.decode import decode

    skips = []
    for path in sorted((REPO / "deploy" / "cloudformation").glob("*.yaml")):
        parsed, errors = decode(str(path))
        assert not errors, errors
        for name, resource in parsed["Resources"].items():
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                skips.append((path.name, name, skip.get("id", ""), skip.get("comment", "")))
    assert skips  # the templates do skip some: this test would otherwise prove nothing
    for where, name, check, comment in skips:
        assert re.fullmatch(r"CKV_AWS_\d+", check), (where, name, check)
        assert len(comment.split()) >= 8, f"{where}:{name} skips {check} without a stated reason"


def test_no_scan_no_wildcard_actions_and_star_resources_only_where_aws_allows_nothing_narrower(template):
    for name, resource in template["Resources"].items():
        if resource["Type"] not in ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            continue
        for s in statements(template, name):
            assert s["Effect"] == "Allow" and "NotAction" not in s and "NotResource" not in s, name
            actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
            assert all("*" not in a for a in actions), (name, actions)
            assert not [a for a in actions if a.lower() == "dynamodb:scan"], name
            resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
            if "*" in resources:
                assert set(actions) <= RESOURCE_STAR_ALLOWED, (name, actions)


def test_each_role_is_granted_exactly_what_its_process_calls(template):
    pipeline = dynamodb_calls(package("weights_table.py")) | dynamodb_calls(
        [REPO / "weighting_pipeline/resources/weights_table.py"]
    )
    s3 = {
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListBucket",
    }  # the Parquet IO manager (pyarrow: GET/HEAD, PUT, LIST) and compute logs
    expected = {
        # ops/scheduled.py, in the weekly task of Runtime=scheduled: alerts and the dead-man datapoint
        "RunTaskRole": pipeline | s3 | {"sns:Publish", "cloudwatch:PutMetricData"},
        # a code server, the daemon and the webserver in one task (the UI on demand)
        "UiTaskRole": (LAUNCHER_CALLS - {"ec2:DescribeNetworkInterfaces"})
        | {"sns:Publish", "s3:GetObject", "s3:ListBucket"},
        "WeeklyScheduleRole": {"ecs:RunTask", "iam:PassRole"},  # EventBridge Scheduler starts the weekly task
        "CodeServerTaskRole": {"sns:Publish"},  # resources/alerts.py, from the sensors
        "DaemonTaskRole": LAUNCHER_CALLS,
        "WebserverTaskRole": {"ecs:DescribeTasks", "ecs:StopTask", "s3:GetObject", "s3:ListBucket"},
        "TradingReaderPolicy": dynamodb_calls([REPO / "reader/weighting_pipeline_reader/profile.py"]),
        # unpublish.py: WeightsTable.get_week (GetItem), replace_week (DescribeTable, PutItem of the tombstone),
        # then the reader (GetItem) to say what trading reads, and one object in the publication log (PUT);
        # audit --against-table: query_weeks (Query)
        "OperatorPolicy": {
            "dynamodb:PutItem",
            "dynamodb:DescribeTable",
            "dynamodb:GetItem",
            "dynamodb:Query",
            "s3:PutObject",
        },
    }
    assert expected["TradingReaderPolicy"] == {"dynamodb:GetItem"}
    assert {"dynamodb:Query", "dynamodb:PutItem", "dynamodb:DescribeTable"} <= pipeline
    assert "dynamodb:BatchWriteItem" not in pipeline  # it takes no condition: writes are conditional PutItems
    for role, calls in expected.items():
        exceptions = set(EXCEPTIONS.get(role, {}))
        assert granted(template, role) == calls | exceptions, role


def test_the_ledger_is_only_queried_through_its_indexes_and_described(template):
    for s in statements(template, "RunTaskRole"):
        ledger = [r for r in s["Resource"] if "TradeLedgerTableName" in str(r)]
        if not ledger:
            continue
        assert set(s["Action"]) <= {"dynamodb:Query", "dynamodb:DescribeTable"}
        if "dynamodb:Query" in s["Action"]:
            assert all("/index/GSI" in str(r) for r in ledger)


def test_every_variable_a_process_reads_is_set_and_no_secret_is_plain_text(template):
    instance = env_refs(REPO / "deploy" / "dagster.yaml")
    workspace = env_refs(REPO / "deploy" / "workspace.yaml")
    pipeline = {"APP__STAGE", "TRADE_LEDGER__TABLE_NAME", "STRATEGY_WEIGHTS__TABLE_NAME", "INTERMEDIATES__BASE_PATH"}
    needs = {
        "RunTaskDefinition": instance | pipeline | {"ALERTS__SNS_TOPIC_ARN"},
        "CodeServerTaskDefinition": instance | pipeline | {"ALERTS__SNS_TOPIC_ARN", "DAGSTER_WEBSERVER_URL"},
        "DaemonTaskDefinition": instance | workspace,
        "WebserverTaskDefinition": instance | workspace,
        "UiTaskDefinition": instance | workspace | pipeline | {"ALERTS__SNS_TOPIC_ARN"},
    }
    assert {"DAGSTER_PG_PASSWORD", "DAGSTER_RUN_TASK_DEFINITION", "DAGSTER_ECS_CLUSTER"} <= instance
    for task, variables in needs.items():
        env, secrets = environment(template, task)
        assert variables <= set(env) | secrets, (task, variables - set(env) - secrets)
        assert secrets == {"DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD"}, task
        assert not [k for k in env if re.search(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY", k)], task
        assert (
            str(env["INTERMEDIATES__BASE_PATH"]).startswith("{'Fn::Sub': 's3://")
            if "INTERMEDIATES__BASE_PATH" in env
            else True
        )
        role = template["Resources"][task]["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
        assert role == PROCESSES[task]
    # The run container is the one the launcher overrides.
    [run] = template["Resources"]["RunTaskDefinition"]["Properties"]["ContainerDefinitions"]
    assert (
        run["Name"]
        == yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())["run_launcher"]["config"]["container_name"]
    )


def test_the_weights_table_matches_what_the_code_writes(template):
    from weighting_pipeline.publication.item import PK  # noqa: F401  (the key the code writes under)

    props = template["Resources"]["WeightsTable"]["Properties"]
    assert [k["AttributeName"] for k in props["KeySchema"]] == ["PK", "SK"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert (
        props["BillingMode"] == "PAY_PER_REQUEST"
        and props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
    )
    assert (
        props["SSESpecification"]["SSEEnabled"] and template["Resources"]["WeightsTable"]["DeletionPolicy"] == "Retain"
    )
    assert props["DeletionProtectionEnabled"] == {"Fn::If": ["IsProd", True, False]}


def test_s3_grants_cover_exactly_the_prefixes_the_runs_use_and_passrole_only_the_run_roles(template):
    env, _ = environment(template, "RunTaskDefinition")
    assert env["INTERMEDIATES__BASE_PATH"] == {"Fn::Sub": "s3://${DataBucket}/intermediates"}
    assert env["PUBLICATION_LOG__BASE_PATH"] == {"Fn::Sub": "s3://${DataBucket}/publications"}
    objects = {
        str(r) for s in statements(template, "RunTaskRole") if "s3:PutObject" in s["Action"] for r in s["Resource"]
    }
    assert objects == {
        str({"Fn::Sub": "${DataBucket.Arn}/intermediates/*"}),
        str({"Fn::Sub": "${DataBucket.Arn}/publications/*"}),
        str({"Fn::Sub": "${DataBucket.Arn}/dagster/compute-logs/*"}),
    }
    [listing] = [s for s in statements(template, "RunTaskRole") if "s3:ListBucket" in s["Action"]]
    assert listing["Condition"]["StringLike"]["s3:prefix"] == [
        "intermediates/*",
        "publications/*",
        "dagster/compute-logs/*",
    ]
    compute_logs = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())["compute_logs"]["config"]["prefix"]
    assert compute_logs == "dagster/compute-logs"
    for role in ("DaemonTaskRole", "WebserverTaskRole", "UiTaskRole", "WeeklyScheduleRole"):
        [passrole] = [s for s in statements(template, role) if "iam:PassRole" in s["Action"]]
        assert passrole["Resource"] == [
            {"Fn::GetAtt": ["RunTaskRole", "Arn"]},
            {"Fn::GetAtt": ["ExecutionRole", "Arn"]},
        ]
        assert passrole["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}


def test_intermediates_expire_after_the_configured_days_and_only_they_and_the_step_logs_do(template):
    env, _ = environment(template, "RunTaskDefinition")
    prefix = env["INTERMEDIATES__BASE_PATH"]["Fn::Sub"].removeprefix("s3://${DataBucket}/") + "/"
    log = env["PUBLICATION_LOG__BASE_PATH"]["Fn::Sub"].removeprefix("s3://${DataBucket}/") + "/"
    rules = {
        r["Prefix"]: r for r in template["Resources"]["DataBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    }
    assert set(rules) == {prefix, "dagster/compute-logs/"}
    assert not any(log.startswith(p) or p.startswith(log) for p in rules)  # the publication log never expires
    assert rules[prefix]["Status"] == "Enabled"
    assert rules[prefix]["ExpirationInDays"] == {"Ref": "IntermediatesRetentionDays"}
    parameter = template["Parameters"]["IntermediatesRetentionDays"]
    assert parameter["Type"] == "Number" and parameter["Default"] >= 7 and parameter["MinValue"] >= 1


def test_runs_read_the_baseline_trading_deploys_when_given_and_only_that_object(template):
    from weighting_pipeline.core.baseline import packaged_config_path
    from weighting_pipeline.settings import ENV_VARS, WeightingSettings

    variable = ENV_VARS["strategy_config_path"][0]
    env, _ = environment(template, "RunTaskDefinition")
    assert env[variable] == {
        "Fn::If": ["ReadsTradingsBaseline", {"Fn::Sub": "s3://${BaselineConfigBucket}/${BaselineConfigKey}"}, ""]
    }
    assert template["Conditions"]["ReadsTradingsBaseline"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "BaselineConfigBucket"}, ""]}]
    }
    assert template["Parameters"]["BaselineConfigBucket"]["Default"] == ""

    def grants(conditions_hold):
        return [
            s
            for s in statements(template, "RunTaskRole", conditions_hold)
            if s.get("Sid") == "ReadTheBaselineTradingDeploys"
        ]

    [grant] = grants(True)
    assert grant["Action"] == ["s3:GetObject"]
    assert grant["Resource"] == [{"Fn::Sub": "arn:aws:s3:::${BaselineConfigBucket}/${BaselineConfigKey}"}]
    assert grants(False) == []
    # The parameter's empty default reaches the run as an empty variable: the packaged copy.
    assert (
        WeightingSettings.from_env({"APP__STAGE": "prod", variable: ""}).baseline().location
        == packaged_config_path("prod").name
    )
    assert WeightingSettings.from_env({"APP__STAGE": "prod", variable: "s3://b/k"}).strategy_config_path == "s3://b/k"
    # ... which only a dev stack may do: staging and prod must be given trading's file.
    rule = template["Rules"]["StagingAndProdReadTradingsBaseline"]
    assert rule["RuleCondition"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "Stage"}, "dev"]}]}
    assert [a["Assert"] for a in rule["Assertions"]] == [
        {"Fn::Not": [{"Fn::Equals": [{"Ref": "BaselineConfigBucket"}, ""]}]}
    ]


@pytest.mark.parametrize("service", ["DaemonService", "WebserverService"])
def test_an_alarm_that_needs_no_daemon_watches_the_daemons_and_the_webservers_running_tasks(template, service):
    """moto does not evaluate alarms, so the alarm is checked as configuration."""
    resources = template["Resources"]
    [alarm] = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and {"Name": "ServiceName", "Value": {"Fn::GetAtt": [service, "Name"]}} in r["Properties"]["Dimensions"]
    ]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "ECS/ContainerInsights",
        "RunningTaskCount",
        "Minimum",
    )
    assert {"Name": "ClusterName", "Value": {"Ref": "Cluster"}} in alarm["Dimensions"]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanThreshold", 1)
    assert alarm["TreatMissingData"] == "breaching"  # a service with no task reports nothing: that is the alarm
    assert {"Ref": "AlertsTopic"} in alarm["AlarmActions"] and {"Ref": "AlertsTopic"} in alarm["OKActions"]
    assert alarm["Period"] * alarm["EvaluationPeriods"] <= 600
    assert {"Name": "containerInsights", "Value": "enabled"} in resources["Cluster"]["Properties"]["ClusterSettings"]
    assert resources[service]["Condition"] == "IsServices"  # the alarm exists where the service does


def test_the_alerts_topic_is_under_a_key_cloudwatch_may_use(template):
    resources = template["Resources"]
    assert resources["AlertsTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlertsKey"}  # not alias/aws/sns
    key_policy = resources["AlertsKey"]["Properties"]["KeyPolicy"]["Statement"]
    [cloudwatch] = [s for s in key_policy if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    [publish] = [st for st in statements(template, "CodeServerTaskRole") if "kms:GenerateDataKey" in st["Action"]]
    assert publish["Resource"] == [{"Fn::GetAtt": ["AlertsKey", "Arn"]}]


def test_the_scheduled_runtime_runs_nothing_between_weeks_and_starts_the_run_task_on_the_schedules_cron(template):
    from click import Context

    from weighting_pipeline.cli import main
    from weighting_pipeline.schedules import SCHEDULE

    resources = deployed(template, Runtime="scheduled", Stage="prod")
    types = {r["Type"] for r in resources.values()}
    assert "AWS::ECS::Service" not in types and "AWS::EC2::NatGateway" not in types
    assert not [r for r in resources.values() if r["Type"] == "AWS::EC2::SecurityGroupIngress"]  # nothing inbound
    schedule = resources["WeeklySchedule"]["Properties"]
    # EventBridge's cron is the Dagster schedule's, in the same zone: Sunday (0, SUN) 18:00 New York.
    dagster = build_definitions_schedule(SCHEDULE)
    minute, hour, _, _, weekday = dagster.cron_schedule.split()
    assert schedule["ScheduleExpression"] == f"cron({minute} {hour} ? * {['SUN'][int(weekday)]} *)"
    assert schedule["ScheduleExpressionTimezone"] == dagster.execution_timezone == "America/New_York"
    target = schedule["Target"]
    assert target["Arn"] == {"Fn::GetAtt": ["Cluster", "Arn"]}
    assert target["EcsParameters"]["TaskDefinitionArn"] == {"Ref": "RunTaskDefinition"}
    assert target["EcsParameters"]["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "ENABLED"
    assert schedule["State"] == {"Fn::If": ["IsDev", "DISABLED", "ENABLED"]}
    # ... whose container runs the weekly task's command, a command of the console script.
    [run] = resources["RunTaskDefinition"]["Properties"]["ContainerDefinitions"]
    scheduled, services = run["Command"]["Fn::If"][1:]
    assert run["Command"]["Fn::If"][0] == "IsScheduled" and services == {"Ref": "AWS::NoValue"}
    assert scheduled[0] in tomllib_scripts() and main.get_command(Context(main), scheduled[1]) is not None
    # Dagster's storage scales to zero; no RDS instance runs all month.
    assert "Database" not in resources
    scaling = resources["AuroraCluster"]["Properties"]["ServerlessV2ScalingConfiguration"]
    assert (
        scaling["MinCapacity"] == 0 and resources["AuroraInstance"]["Properties"]["DBInstanceClass"] == "db.serverless"
    )


def build_definitions_schedule(name: str):
    """The project's schedule as the code location resolves it."""
    import os

    from weighting_pipeline_tests.conftest import build_definitions

    return build_definitions({**os.environ, "APP__STAGE": "prod"}).resolve_schedule_def(name)


def tomllib_scripts() -> set[str]:
    import tomllib

    return set(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"])


def test_the_scheduled_runtimes_alerts_reach_the_topic_without_a_daemon(template):
    from weighting_pipeline.ops.scheduled import (
        DEADMAN_DIMENSION,
        DEADMAN_METRIC,
        DEADMAN_NAMESPACE,
        EXIT_RUN_FAILED,
    )

    resources = deployed(template, Runtime="scheduled", Stage="prod")
    alarm = resources["MissedWeekAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (DEADMAN_NAMESPACE, DEADMAN_METRIC)
    assert alarm["Dimensions"] == [{"Name": DEADMAN_DIMENSION, "Value": {"Ref": "Stage"}}]
    assert alarm["TreatMissingData"] == "breaching" and alarm["AlarmActions"] == [{"Ref": "AlertsTopic"}]
    assert alarm["Period"] * alarm["EvaluationPeriods"] == 7 * 86400  # a week: CloudWatch's longest window
    assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == ("Sum", "LessThanThreshold", 1)
    rule = resources["WeeklyTaskDiedRule"]["Properties"]
    assert [t["Arn"] for t in rule["Targets"]] == [{"Ref": "AlertsTopic"}]
    detail = rule["EventPattern"]["detail"]
    schedule_group = resources["WeeklySchedule"]["Properties"]["Target"]["EcsParameters"]["Group"]
    assert detail["group"] == [schedule_group] and detail["lastStatus"] == ["STOPPED"]
    assert {"containers": {"exitCode": [{"anything-but": [0, EXIT_RUN_FAILED]}]}} in detail["$or"]
    # EventBridge may publish to the topic and use its key.
    policy = resources["AlertsTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert [s["Principal"] for s in policy] == [{"Service": "events.amazonaws.com"}]
    key = resources["AlertsKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert any(s["Principal"] == {"Service": "events.amazonaws.com"} for s in key)


def test_the_services_runtime_is_unchanged_and_carries_none_of_the_scheduled_parts(template):
    resources = deployed(template, Runtime="services", Stage="prod")
    services = sorted(r["Properties"]["ServiceName"] for r in resources.values() if r["Type"] == "AWS::ECS::Service")
    assert services == ["code-server", "daemon", "webserver"] and "Database" in resources
    assert not {"WeeklySchedule", "MissedWeekAlarm", "WeeklyTaskDiedRule", "AuroraCluster", "UiTaskDefinition"} & set(
        resources
    )
    assert template["Parameters"]["Runtime"]["Default"] == "services"  # an existing stack keeps its shape
