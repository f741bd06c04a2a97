"""What the AWS stack provides, created against local endpoints (moto, DynamoDB Local).

The rehearsal (``./run.sh stack``) and the tests create, in this order: the
ledger and weights tables, the intermediates bucket (which also holds compute
logs), a VPC with a subnet and a security group, the ECS cluster, the run task
definition, and the alerts topic with an SQS queue subscribed to it (the
probe). ``Infrastructure.env()`` is then the environment production sets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import boto3

from weighting_pipeline.devtools.local_env import LOCAL_CREDENTIALS
from weighting_pipeline.ops.tables import create_tables

RUN_CONTAINER = "run"  # the launcher's default container name
RUN_FAMILY = "weighting-pipeline-run"


@dataclass
class Infrastructure:
    """Names and ARNs of what ``provision`` created."""

    ledger_table: str
    weights_table: str
    bucket: str
    cluster: str
    task_definition: str
    subnet: str
    security_group: str
    topic_arn: str
    queue_url: str
    region: str = "us-east-1"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def intermediates(self) -> str:
        return f"s3://{self.bucket}/intermediates"

    def env(self) -> dict[str, str]:
        """Environment variables production sets for these resources."""
        return {
            "TRADE_LEDGER__TABLE_NAME": self.ledger_table,
            "STRATEGY_WEIGHTS__TABLE_NAME": self.weights_table,
            "INTERMEDIATES__BASE_PATH": self.intermediates,
            "DAGSTER_COMPUTE_LOGS_BUCKET": self.bucket,
            "DAGSTER_ECS_CLUSTER": self.cluster,
            "DAGSTER_RUN_TASK_DEFINITION": self.task_definition,
            "DAGSTER_ECS_SUBNETS": self.subnet,
            "DAGSTER_ECS_SECURITY_GROUPS": self.security_group,
            "ALERTS__SNS_TOPIC_ARN": self.topic_arn,
            **self.extra,
        }


def create_alerts_topic(sns, sqs, name: str) -> tuple[str, str]:
    """The alerts topic and the SQS queue subscribed to it: (topic ARN, queue URL).

    Delivery is SNS's JSON envelope, not raw, so the probe sees the subject too."""
    topic = sns.create_topic(Name=f"{name}-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"{name}-alerts-probe")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"Policy": json.dumps({"Statement": [
        {"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": queue_arn}]})})
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return topic, queue


def receive_alerts(sqs, queue_url: str, wait_seconds: int = 1) -> list[dict[str, str]]:
    """Alerts waiting on the probe queue (deleted once read): ``{"subject", "body", "sent_at"}`` each.

    ``sent_at`` is SNS's publication time (the envelope's ISO-8601 UTC ``Timestamp``), so a
    reader that comes late can still tell how soon the alert was sent."""
    got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds).get("Messages", [])
    alerts = []
    for message in got:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        envelope = json.loads(message["Body"])
        alerts.append({"subject": envelope.get("Subject", ""), "body": envelope["Message"], "sent_at": envelope.get("Timestamp", "")})
    return alerts


def provision(
    name: str,
    *,
    aws_endpoint: str,
    dynamodb_endpoint: str,
    image: str = "weighting-pipeline:local",
    task_environment: dict[str, str] | None = None,
    region: str = "us-east-1",
) -> Infrastructure:
    """Create every resource, named after ``name`` (lower-case letters, digits, dashes).

    The run task definition's container environment is ``task_environment``
    plus ``Infrastructure.env()``: what a run's ECS task is given, as the
    CloudFormation stack would give it.
    """
    session = boto3.session.Session(region_name=region, aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                                    aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    aws = lambda service: session.client(service, endpoint_url=aws_endpoint)  # noqa: E731
    ledger, weights = f"{name}-trade-ledger", f"{name}-strategy-weights"
    create_tables(session.client("dynamodb", endpoint_url=dynamodb_endpoint), ledger, weights)

    bucket = f"{name}-data"
    aws("s3").create_bucket(Bucket=bucket)

    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # awsvpc tasks need it
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=f"{name}-runs", Description="weighting runs", VpcId=vpc)["GroupId"]

    ecs = aws("ecs")
    cluster = ecs.create_cluster(clusterName=f"{name}-cluster")["cluster"]["clusterName"]
    topic, queue = create_alerts_topic(aws("sns"), aws("sqs"), name)
    infra = Infrastructure(ledger_table=ledger, weights_table=weights, bucket=bucket, cluster=cluster,
                           task_definition="", subnet=subnet, security_group=group,
                           topic_arn=topic, queue_url=queue, region=region)

    # Registered here, not by the launcher: Fargate definitions without container-level
    # memory crash moto's RunTask (see NOTES-production.md).
    environment = {**(task_environment or {}), **infra.env()}
    environment["DAGSTER_RUN_TASK_DEFINITION"] = RUN_FAMILY  # the run worker loads the instance, launcher included
    infra.task_definition = ecs.register_task_definition(
        family=RUN_FAMILY,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="1024",
        memory="4096",
        containerDefinitions=[{
            "name": RUN_CONTAINER, "image": image, "memory": 4096, "essential": True,
            "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
        }],
    )["taskDefinition"]["taskDefinitionArn"]
    return infra
