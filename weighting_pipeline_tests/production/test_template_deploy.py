"""The template deployed into moto as the rehearsal deploys it: what moto_gaps fills, what
Fargate's stand-in gives a container, and how the services are bound to loopback."""

import json
import uuid

import boto3
import pytest
from cfnlint.decode import decode

from weighting_pipeline.core.baseline import packaged_config_path
from weighting_pipeline_devtools.containers import ContainerSpec
from weighting_pipeline_devtools.fargate import container_spec, resolve_secret
from weighting_pipeline_devtools.infrastructure import SERVICES, TEMPLATE
from weighting_pipeline_devtools.stack import local_overrides
from weighting_pipeline_tests.template_conditions import deployed as deployed_resources

NO_MOTO_MODEL = {"AlertsTopicPolicy"}  # nothing in the rehearsal reads a topic policy (moto enforces none)


@pytest.fixture
def deployed(deployment, aws, dynamodb):
    return deployment


@pytest.fixture(scope="module")
def template():
    decoded, problems = decode(str(TEMPLATE))
    assert not problems, problems
    return decoded


def test_every_resource_moto_can_make_is_made_and_service_discovery_too(deployed, template):
    """moto skips only what it has no model for; the Cloud Map names the services register under exist."""
    resources = deployed.client("cloudformation").list_stack_resources(StackName=deployed.stack_name)[
        "StackResourceSummaries"
    ]
    made = {
        r["LogicalResourceId"] for r in resources if r["LogicalResourceId"]
    }  # moto lists skipped ones as blank rows
    assert made == set(deployed_resources(template, **deployed.parameters)) - NO_MOTO_MODEL
    discovery = deployed.client("servicediscovery")
    [namespace] = [n for n in discovery.list_namespaces()["Namespaces"] if n["Name"] == "weighting-prod.internal"]
    services = discovery.list_services(Filters=[{"Name": "NAMESPACE_ID", "Values": [namespace["Id"]]}])["Services"]
    assert {"code", "webserver"} <= {s["Name"] for s in services}


def test_task_definitions_keep_what_the_template_declares(deployed):
    ecs = deployed.client("ecs")
    definition = ecs.describe_task_definition(taskDefinition=deployed.run_task_family)["taskDefinition"]
    assert (definition["cpu"], definition["memory"], definition["networkMode"]) == ("1024", "4096", "awsvpc")
    assert definition["requiresCompatibilities"] == ["FARGATE"]
    assert definition["taskRoleArn"].split("/")[-1].startswith(f"{deployed.stack_name}-RunTaskRole")
    assert definition["executionRoleArn"].split("/")[-1].startswith(f"{deployed.stack_name}-ExecutionRole")


def test_a_run_task_starts_as_the_launcher_starts_it(deployed):
    """Fargate containers need no memory of their own; moto's RunTask would crash without the gap filled."""
    ecs = deployed.client("ecs")
    env = deployed.run_container().env()
    task = ecs.run_task(
        cluster=deployed.cluster,
        taskDefinition=deployed.run_task_family,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": [deployed.subnet],
                "securityGroups": [env["DAGSTER_ECS_SECURITY_GROUPS"]],
            }
        },
        overrides={"containerOverrides": [{"name": "run", "command": ["dagster", "api", "execute_run", "{}"]}]},
    )["tasks"]
    assert len(task) == 1 and task[0]["overrides"]["containerOverrides"][0]["command"][:2] == ["dagster", "api"]


def test_the_run_container_gets_the_template_environment_and_the_database_secret(deployed, postgres_server):
    run = deployed.run_container()
    assert run.image == "weighting-pipeline:test" and run.command == []  # the launcher gives the command
    database = postgres_server.env()
    assert run.secrets == {
        "DAGSTER_PG_USER": database["DAGSTER_PG_USER"],
        "DAGSTER_PG_PASSWORD": database["DAGSTER_PG_PASSWORD"],
    }
    env = run.environment
    assert [env[k] for k in ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_DB")] == [
        database[k] for k in ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_DB")
    ]
    assert database["DAGSTER_PG_PORT"] != "5432"  # so the port is the parameter's, not the template's default
    assert env["STRATEGY_WEIGHTS__TABLE_NAME"] == deployed.weights_table == "strategy-weights-prod"
    assert env["TRADE_LEDGER__TABLE_NAME"] == deployed.ledger_table
    assert env["DAGSTER_ECS_SUBNETS"] == deployed.subnet
    assert env["INTERMEDIATES__BASE_PATH"] == deployed.intermediates
    # A prod stack reads the baseline trading deploys, from the bucket trading's deploy put it in.
    bucket, key = deployed.parameters["BaselineConfigBucket"], deployed.parameters["BaselineConfigKey"]
    assert env["STRATEGY_CONFIG__PATH"] == f"s3://{bucket}/{key}" and key == "strategy.prod.json"
    assert (
        deployed.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        == packaged_config_path("prod").read_bytes()
    )


def test_the_weights_table_is_copied_to_dynamodb_local_with_its_ttl(deployed):
    local = deployed.client("dynamodb")
    table = local.describe_table(TableName=deployed.weights_table)["Table"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["PK", "SK"]
    assert local.describe_time_to_live(TableName=deployed.weights_table)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "ttl",
    }


def test_the_probe_receives_what_is_published_to_the_stacks_topic(deployed):
    from weighting_pipeline_devtools.infrastructure import receive_alerts

    deployed.client("sns").publish(TopicArn=deployed.topic_arn, Subject="probe", Message="hello")
    [alert] = receive_alerts(deployed.client("sqs"), deployed.queue_url, wait_seconds=2)
    assert (alert["subject"], alert["body"]) == ("probe", "hello")


def test_services_are_bound_to_loopback_on_the_given_ports_and_only_what_the_template_sets_changes(deployed):
    webserver = "http://127.0.0.1:4321"
    specs = {service: deployed.service_container(service) for service in SERVICES}
    before = {service: dict(spec.environment) for service, spec in specs.items()}
    for service, spec in specs.items():
        local_overrides(service, spec, 1234, 4321, webserver)
    assert specs["code-server"].command[specs["code-server"].command.index("-h") + 1 :][:3] == [
        "127.0.0.1",
        "-p",
        "1234",
    ]
    assert specs["webserver"].command[specs["webserver"].command.index("-h") + 1 :][:3] == ["127.0.0.1", "-p", "4321"]
    assert not [a for spec in specs.values() for a in spec.command if a == "0.0.0.0"]
    for service in ("daemon", "webserver"):
        env = specs[service].environment
        assert (env["DAGSTER_CODE_SERVER_HOST"], env["DAGSTER_CODE_SERVER_PORT"]) == ("127.0.0.1", "1234")
    assert specs["code-server"].environment["DAGSTER_WEBSERVER_URL"] == webserver
    for service, spec in specs.items():
        assert set(spec.environment) == set(before[service])  # nothing added


def test_a_variable_the_template_lacks_is_named_not_invented():
    spec = ContainerSpec(
        image="i", command=["dagster-daemon", "run"], environment={"DAGSTER_CODE_SERVER_HOST": "code.x"}
    )
    with pytest.raises(
        RuntimeError, match="the template's daemon task definition does not set DAGSTER_CODE_SERVER_PORT"
    ):
        local_overrides("daemon", spec, 1, 2, "http://127.0.0.1:2")


def test_secrets_resolve_as_ecs_resolves_value_from(aws):
    secretsmanager = boto3.client("secretsmanager", region_name="us-east-1")
    arn = secretsmanager.create_secret(
        Name=f"s{uuid.uuid4().hex[:6]}", SecretString=json.dumps({"username": "u", "password": "p"})
    )["ARN"]
    assert resolve_secret(secretsmanager, f"{arn}:password::") == "p"
    assert json.loads(resolve_secret(secretsmanager, arn)) == {"username": "u", "password": "p"}
    with pytest.raises(KeyError, match="has no key 'token'"):
        resolve_secret(secretsmanager, f"{arn}:token::")
    with pytest.raises(ValueError, match="only Secrets Manager ARNs"):
        resolve_secret(secretsmanager, "arn:aws:ssm:us-east-1:123456789012:parameter/x")
    definition = {
        "containerDefinitions": [
            {
                "name": "run",
                "image": "img",
                "command": ["a"],
                "environment": [{"name": "X", "value": "1"}],
                "secrets": [{"name": "PW", "valueFrom": f"{arn}:password::"}],
            }
        ]
    }
    task = {
        "overrides": {
            "containerOverrides": [{"name": "run", "command": ["b", "c"], "environment": [{"name": "Y", "value": "2"}]}]
        }
    }
    spec = container_spec(definition, "run", task, secretsmanager)
    assert (spec.image, spec.command, spec.environment, spec.secrets) == (
        "img",
        ["b", "c"],
        {"X": "1", "Y": "2"},
        {"PW": "p"},
    )


def test_the_scheduled_runtime_deploys_its_schedule_alarm_rule_and_ui_and_no_service(scheduled_deployment):
    """Runtime=scheduled deployed into moto: exactly the resources its conditions select, the
    schedule readable through the scheduler's API as the template declares it, no ECS service."""
    from weighting_pipeline_devtools.infrastructure import physical_ids

    deployment = scheduled_deployment
    template, problems = decode(str(TEMPLATE))
    assert not problems
    made = set(physical_ids(deployment.client("cloudformation"), deployment.stack_name))
    assert made == set(deployed_resources(template, **deployment.parameters)) - NO_MOTO_MODEL
    assert deployment.client("ecs").list_services(cluster=deployment.cluster)["serviceArns"] == []
    schedule = deployment.client("scheduler").get_schedule(Name=deployment.outputs["WeeklyScheduleName"])
    assert (schedule["ScheduleExpression"], schedule["ScheduleExpressionTimezone"], schedule["State"]) == (
        "cron(0 18 ? * SUN *)",
        "America/New_York",
        "ENABLED",
    )
    target = schedule["Target"]["EcsParameters"]
    assert target["TaskDefinitionArn"].split("/")[-1].startswith(f"{deployment.run_task_family}:")
    [alarm] = deployment.client("cloudwatch").describe_alarms(AlarmNames=[deployment.outputs["MissedWeekAlarmName"]])[
        "MetricAlarms"
    ]
    assert alarm["AlarmActions"] == [deployment.topic_arn] and alarm["TreatMissingData"] == "breaching"
    [rule] = deployment.client("events").list_rules(NamePrefix=f"weighting-pipeline-{deployment.stage}-weekly")["Rules"]
    [target] = deployment.client("events").list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == deployment.topic_arn
    # The run container's command is the weekly task's.
    assert deployment.run_container().command == ["weighting-pipeline", "scheduled-run"]
