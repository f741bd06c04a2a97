"""The AWS side of the rehearsal and the production tests, deployed from the CloudFormation template.

``deploy`` creates, against local endpoints (moto's server, DynamoDB Local), first what
``deploy/cloudformation/weighting-pipeline.yaml`` takes as parameters, hand-made here as
another stack or team would own them:

- a VPC with DNS hostnames and one subnet (10.0.1.0/24) for the services and runs;
- the trading system's ledger table, in DynamoDB Local;
- the database: the caller's PostgreSQL, and a Secrets Manager secret with its user;

then it deploys the template itself into moto's CloudFormation, as ``aws cloudformation
deploy`` would, and adds the SQS probe subscribed to the stack's alerts topic (an
operator's subscription, like the template's optional e-mail one). Where moto falls
short of AWS, ``moto_gaps`` fills the gap. Every process's environment is then what the
stack's task definitions give it (``Deployment.container``), so a variable the template
forgets or misnames is missing in the rehearsal too.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from weighting_pipeline.ops.tables import create_ledger_table
from weighting_pipeline_devtools.containers import ContainerSpec
from weighting_pipeline_devtools.fargate import RUN_CONTAINER, container_spec
from weighting_pipeline_devtools.local_env import LOCAL_CREDENTIALS

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "cloudformation" / "weighting-pipeline.yaml"
STACK_NAME = "weighting-pipeline"
SERVICES = ("code-server", "daemon", "webserver")  # the template's ECS services, started in this order


def _output(key: str) -> property:
    """A ``Deployment`` property reading the stack's output ``key``."""
    return property(lambda self: self.outputs[key], doc=f"The stack's output {key}.")


@dataclass
class Deployment:
    """The deployed stack: its outputs, the hand-made resources around it, and clients to reach both."""

    stack_name: str
    outputs: dict[str, str]
    parameters: dict[str, str]
    ledger_table: str
    subnet: str
    queue_url: str
    session: Any = field(repr=False)
    aws_endpoint: str = ""
    dynamodb_endpoint: str = ""

    def client(self, service: str):
        endpoint = self.dynamodb_endpoint if service == "dynamodb" else self.aws_endpoint
        return self.session.client(service, endpoint_url=endpoint)

    @property
    def stage(self) -> str:
        return self.parameters["Stage"]

    weights_table = _output("WeightsTableName")
    cluster = _output("ClusterName")
    bucket = _output("DataBucketName")
    topic_arn = _output("AlertsTopicArn")
    run_task_family = _output("RunTaskDefinitionFamily")

    @property
    def intermediates(self) -> str:
        return f"s3://{self.bucket}/intermediates"

    def resource(self, logical_id: str) -> str:
        """The physical id of the template's resource ``logical_id``."""
        return physical_ids(self.client("cloudformation"), self.stack_name)[logical_id]

    def task_container(self, task_definition: str, name: str | None = None) -> ContainerSpec:
        """What ECS gives container ``name`` (the only one, by default) of ``task_definition``."""
        definition = self.client("ecs").describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
        if name is None:
            [container] = definition["containerDefinitions"]
            name = container["name"]
        return container_spec(definition, name, {}, self.client("secretsmanager"))

    def service_container(self, service: str) -> ContainerSpec:
        """What ECS gives the container of ``service`` (its image, command, environment and
        resolved secrets), from the service's task definition in the stack."""
        [described] = self.client("ecs").describe_services(cluster=self.cluster, services=[service])["services"]
        return self.task_container(described["taskDefinition"])

    def run_container(self) -> ContainerSpec:
        """What a run's container is given before the launcher's overrides."""
        return self.task_container(self.run_task_family, RUN_CONTAINER)


def physical_ids(cloudformation, stack_name: str) -> dict[str, str]:
    """The stack's resources: logical id -> physical id (a table's name, a group's id)."""
    pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name)
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for page in pages
        for r in page["StackResourceSummaries"]
        if r["LogicalResourceId"]
    }  # moto lists each resource it skipped as a blank row


def _parameters(
    stage: str,
    image: str,
    vpc: str,
    subnet: str,
    ledger_table: str,
    database: dict[str, str],
    secret_arn: str,
    baseline: tuple[str, str],
    runtime: str,
) -> dict[str, str]:
    return {
        "Stage": stage,
        "Runtime": runtime,
        "BaselineConfigBucket": baseline[0],
        "BaselineConfigKey": baseline[1],
        "ImageUri": image,
        "VpcId": vpc,
        "SubnetIds": subnet,
        "TradeLedgerTableName": ledger_table,
        "ExistingDatabaseHost": database["DAGSTER_PG_HOST"],
        "ExistingDatabasePort": database["DAGSTER_PG_PORT"],
        "ExistingDatabaseName": database["DAGSTER_PG_DB"],
        "ExistingDatabaseSecretArn": secret_arn,
    }


def deploy_tradings_baseline(s3, bucket: str, stage: str) -> tuple[str, str]:
    """Trading's ``strategy.<stage>.json`` in a versioned bucket, as trading's deploy would put it
    (here the copy packaged for the demo, which is trading's at 433bc3af); its (bucket, key)."""
    from weighting_pipeline.core.baseline import packaged_config_path

    path = packaged_config_path(stage)
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key=path.name, Body=path.read_bytes())
    return bucket, path.name


def wait_for_stack(cloudformation, name: str, timeout: float = 60) -> dict:
    """The stack once CREATE_COMPLETE; a failure names each failed resource and why."""
    deadline = time.monotonic() + timeout
    while True:
        [stack] = cloudformation.describe_stacks(StackName=name)["Stacks"]
        status = stack["StackStatus"]
        if status == "CREATE_COMPLETE":
            return stack
        if not status.endswith("IN_PROGRESS") or time.monotonic() > deadline:
            events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
            failed = [
                f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}"
                for e in events
                if e["ResourceStatus"].endswith("FAILED")
            ]
            raise RuntimeError(f"stack {name} is {status}: {stack.get('StackStatusReason')}; {failed}")
        time.sleep(0.2)


def deploy(
    *,
    stage: str,
    aws_endpoint: str,
    dynamodb_endpoint: str,
    database: dict[str, str],
    image: str = "weighting-pipeline:local",
    runtime: str = "services",
    stack_name: str = STACK_NAME,
    region: str = "us-east-1",
    template: Path = TEMPLATE,
) -> Deployment:
    """Create the template's parameters by hand, deploy the template, fill moto's gaps.

    ``database`` holds the ``DAGSTER_PG_*`` variables of an existing PostgreSQL (the
    template's ``ExistingDatabase*`` parameters); ``image`` is its ``ImageUri``, ``runtime``
    its ``Runtime`` (``services`` or ``scheduled``).
    """
    from cfnlint.decode import decode

    session = boto3.session.Session(
        region_name=region,
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    aws = lambda service: session.client(service, endpoint_url=aws_endpoint)  # noqa: E731

    # ---- The parameters: what another stack or team owns ----
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # awsvpc tasks need it
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    ledger_table = f"{stack_name}-{stage}-trade-ledger"  # the trading system's table (ours only reads it)
    create_ledger_table(session.client("dynamodb", endpoint_url=dynamodb_endpoint), ledger_table)
    secret_arn = aws("secretsmanager").create_secret(
        Name=f"{stack_name}-{stage}-database",
        SecretString=json.dumps({"username": database["DAGSTER_PG_USER"], "password": database["DAGSTER_PG_PASSWORD"]}),
    )["ARN"]
    baseline = deploy_tradings_baseline(aws("s3"), f"{stack_name}-{stage}-trading-config".lower(), stage)
    parameters = _parameters(stage, image, vpc, subnet, ledger_table, database, secret_arn, baseline, runtime)

    # ---- The template, as AWS would deploy it ----
    cloudformation = aws("cloudformation")
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=template.read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    stack = wait_for_stack(cloudformation, stack_name)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    decoded, problems = decode(str(template))
    if problems:
        raise RuntimeError(f"{template}: {problems}")
    copy_tables_to(
        session.client("dynamodb", endpoint_url=dynamodb_endpoint),
        aws("dynamodb"),
        decoded,
        physical_ids(cloudformation, stack_name),
    )

    # ---- The probe: an operator's subscription to the alerts topic ----
    queue_url = subscribe_probe(aws("sns"), aws("sqs"), outputs["AlertsTopicArn"], f"{stack_name}-{stage}-alerts-probe")
    return Deployment(
        stack_name=stack_name,
        outputs=outputs,
        parameters=parameters,
        ledger_table=ledger_table,
        subnet=subnet,
        queue_url=queue_url,
        session=session,
        aws_endpoint=aws_endpoint,
        dynamodb_endpoint=dynamodb_endpoint,
    )


def subscribe_probe(sns, sqs, topic_arn: str, queue_name: str) -> str:
    """An SQS queue subscribed to ``topic_arn``; its URL.

    Delivery is SNS's JSON envelope, not raw, so the probe sees the subject too."""
    queue = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(
        QueueUrl=queue,
        Attributes={
            "Policy": json.dumps(
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "sns.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": queue_arn,
                        }
                    ]
                }
            )
        },
    )
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return queue


def create_alerts_topic(sns, sqs, name: str) -> tuple[str, str]:
    """A topic of its own with the probe subscribed: (topic ARN, queue URL). For tests of the
    alert rules alone; the rehearsal uses the stack's topic."""
    topic = sns.create_topic(Name=f"{name}-alerts")["TopicArn"]
    return topic, subscribe_probe(sns, sqs, topic, f"{name}-alerts-probe")


def receive_alerts(sqs, queue_url: str, wait_seconds: int = 1) -> list[dict[str, str]]:
    """Alerts waiting on the probe queue (deleted once read): ``{"subject", "body", "sent_at"}`` each.

    ``sent_at`` is SNS's publication time (the envelope's ISO-8601 UTC ``Timestamp``), so a
    reader that comes late can still tell how soon the alert was sent."""
    got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds).get(
        "Messages", []
    )
    alerts = []
    for message in got:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        envelope = json.loads(message["Body"])
        alerts.append(
            {
                "subject": envelope.get("Subject", ""),
                "body": envelope["Message"],
                "sent_at": envelope.get("Timestamp", ""),
            }
        )
    return alerts


def copy_tables_to(dynamodb_local, moto_dynamodb, template: dict, physical_ids: dict[str, str]) -> list[str]:
    """Fill one of moto's gaps (``moto_gaps``): create each ``AWS::DynamoDB::Table`` of the deployed ``template`` in DynamoDB Local as
    moto holds it (keys, attributes, indexes, billing), with the template's TTL; the names.

    ``physical_ids`` maps the stack's logical resource ids to physical ones (a table's name)."""
    names = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::DynamoDB::Table":
            continue
        props, name = resource["Properties"], physical_ids[logical_id]
        table = moto_dynamodb.describe_table(TableName=name)["Table"]
        args: dict[str, Any] = {
            "TableName": name,
            "KeySchema": table["KeySchema"],
            "AttributeDefinitions": table["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        if args["BillingMode"] == "PROVISIONED":
            args["ProvisionedThroughput"] = {
                k: table["ProvisionedThroughput"][k] for k in ("ReadCapacityUnits", "WriteCapacityUnits")
            }
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if table.get(key):
                args[key] = [{k: index[k] for k in ("IndexName", "KeySchema", "Projection")} for index in table[key]]
        dynamodb_local.create_table(**args)
        dynamodb_local.get_waiter("table_exists").wait(TableName=name)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb_local.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
            )
        names.append(name)
    return names
