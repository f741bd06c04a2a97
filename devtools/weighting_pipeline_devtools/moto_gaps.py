"""Where moto's CloudFormation falls short of AWS for our template, and how the rehearsal fills it.

``deploy/cloudformation/weighting-pipeline.yaml`` is deployed as it is into moto's
CloudFormation (``devtools/infrastructure.py``). moto 5.2 differs from AWS in ways that
would fail the stack or change what the processes are given; each is filled here and
nowhere else, so the template itself stays what AWS deploys:

- **Service discovery** (``AWS::ServiceDiscovery::PrivateDnsNamespace`` and ``::Service``)
  has no CloudFormation support in moto, and a ``GetAtt`` on a skipped resource fails the
  stack. Both types are registered here on moto's own Cloud Map backend.
- **Task definitions** made by CloudFormation keep only family, containers and memory;
  the task role, execution role, CPU, network mode and compatibilities are dropped. They
  are kept here, as RegisterTaskDefinition keeps them.
- **RunTask** crashes on a container without container-level memory, which Fargate does
  not need; the task's memory is used for it here.
- **The short form ``!Condition Name``** is read by moto's YAML loader as ``Fn::Condition``,
  which its condition parser does not know, so ``!Not [!Condition X]`` always held. It is
  read as CloudFormation reads it, ``{"Condition": Name}``.
- **EventBridge Scheduler** (``AWS::Scheduler::Schedule``) has no CloudFormation support in
  moto. It is registered here on moto's own scheduler backend, so ``GetSchedule`` returns the
  template's schedule and target; moto never fires it (``schedule.fire_schedule`` does what
  the scheduler would).
- **CloudWatch alarms** (``AWS::CloudWatch::Alarm``) have no CloudFormation support in moto.
  They are registered on moto's CloudWatch backend, so ``DescribeAlarms`` returns them; moto
  never evaluates them (``alarms.evaluate`` does, as CloudWatch would, and notifies).
- **EventBridge rules to SNS**: moto delivers a matching event to SQS, logs and buses only. An
  SNS target is delivered here too, through moto's SNS (its input transformer applied).
- **Event patterns over arrays of objects**: EventBridge matches ``{"containers": {"exitCode": ...}}``
  against any element of an event's ``containers`` array; moto's matcher does not descend into
  arrays. Arrays of objects are flattened here into each field's list of values, which moto's
  matcher already matches element by element.
- **The weights table** is created in moto's DynamoDB, but the rehearsal's tables live in
  DynamoDB Local (a real DynamoDB engine). This one is filled after the deployment, outside
  moto: ``infrastructure.copy_tables_to`` creates the template's tables there, with the
  template's TTL attribute (moto ignores TTL settings).

Registering happens on import, before moto first builds its list of resource types;
``moto_server.LocalAWS`` imports this module in moto's process (or thread) only, since
importing moto's CloudFormation loads every moto model (over a second).

Not filled, because nothing the rehearsal checks depends on them: the Container Insights
alarms of ``Runtime=services`` (registered, never evaluated), Aurora Serverless (the
rehearsal passes an existing PostgreSQL), the alerts topic's policy (moto enforces none;
it warns that it skips it), ``ManagedPolicyArns`` and IAM enforcement, and the
e-mail subscription (the rehearsal subscribes an SQS probe instead).
"""

from __future__ import annotations

import json
from typing import Any

from moto.cloudformation import models as cloudformation_models
from moto.cloudformation import parsing
from moto.cloudformation import responses as cloudformation_responses
from moto.cloudformation import utils as cloudformation_utils
from moto.cloudwatch.models import cloudwatch_backends
from moto.core.common_models import CloudFormationModel
from moto.ecs import models as ecs_models
from moto.events import models as events_models
from moto.scheduler.models import scheduler_backends
from moto.servicediscovery.models import servicediscovery_backends
from moto.sns.models import sns_backends


class _CloudMapResource:
    """What the two Cloud Map models share: a resource of moto's backend, named by ``Name``,
    whose ``Ref`` is its id and whose ``GetAtt`` attributes are its own (``Id`` -> ``.id``)."""

    ATTRIBUTES: tuple[str, ...] = ()

    def __init__(self, resource: Any):
        self.resource = resource

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @property
    def physical_resource_id(self) -> str:
        return self.resource.id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return getattr(self.resource, attribute_name.lower())


# The mixin comes first and each class names CloudFormationModel itself: moto registers only
# CloudFormationModel's direct subclasses.
class PrivateDnsNamespace(_CloudMapResource, CloudFormationModel):
    """``AWS::ServiceDiscovery::PrivateDnsNamespace`` on moto's Cloud Map backend (Ref: Id; GetAtt Id, Arn)."""

    ATTRIBUTES = ("Id", "Arn")

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ServiceDiscovery::PrivateDnsNamespace"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # type: ignore[override]
        props = cloudformation_json["Properties"]
        backend = servicediscovery_backends[account_id][region_name]
        backend.create_private_dns_namespace(
            name=props["Name"],
            creator_request_id=resource_name,
            description=props.get("Description", ""),
            vpc=props["Vpc"],
            tags=[],
            properties=props.get("Properties", {}),
        )
        [namespace] = [n for n in backend.namespaces.values() if n.name == props["Name"] and n.vpc == props["Vpc"]]
        return cls(namespace)


class DiscoveryService(_CloudMapResource, CloudFormationModel):
    """``AWS::ServiceDiscovery::Service`` on moto's Cloud Map backend (Ref: Id; GetAtt Id, Arn, Name)."""

    ATTRIBUTES = ("Id", "Arn", "Name")

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ServiceDiscovery::Service"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # type: ignore[override]
        props = cloudformation_json["Properties"]
        service = servicediscovery_backends[account_id][region_name].create_service(
            name=props["Name"],
            namespace_id=props["NamespaceId"],
            creator_request_id=resource_name,
            description=props.get("Description", ""),
            dns_config=props.get("DnsConfig", {}),
            health_check_config=props.get("HealthCheckConfig", {}),
            health_check_custom_config=props.get("HealthCheckCustomConfig", {}),
            tags=[],
            service_type="DNS_HTTP",
        )
        return cls(service)


class _NamedResource:
    """What the scheduler and alarm models share: a resource of a moto backend whose ``Ref`` is
    its name (``NAME`` attribute) and whose one ``GetAtt``, ``Arn``, is its ``ARN`` attribute."""

    NAME, ARN = "name", "arn"

    def __init__(self, resource: Any):
        self.resource = resource

    @property
    def physical_resource_id(self) -> str:
        return getattr(self.resource, self.NAME)

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return getattr(self.resource, self.ARN)


class ScheduleResource(_NamedResource, CloudFormationModel):
    """``AWS::Scheduler::Schedule`` on moto's scheduler backend (Ref: its name; GetAtt Arn)."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Scheduler::Schedule"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # type: ignore[override]
        props = cloudformation_json["Properties"]
        target = json.loads(json.dumps(props["Target"]))
        network = target.get("EcsParameters", {}).get("NetworkConfiguration", {})
        if "AwsvpcConfiguration" in network:  # the template's spelling; the API's is awsvpcConfiguration
            network["awsvpcConfiguration"] = network.pop("AwsvpcConfiguration")
        schedule = scheduler_backends[account_id][region_name].create_schedule(
            description=props.get("Description", ""),
            end_date=props.get("EndDate"),
            flexible_time_window=props["FlexibleTimeWindow"],
            group_name=props.get("GroupName"),
            kms_key_arn=props.get("KmsKeyArn"),
            name=props.get("Name") or resource_name,
            schedule_expression=props["ScheduleExpression"],
            schedule_expression_timezone=props.get("ScheduleExpressionTimezone"),
            start_date=props.get("StartDate"),
            state=props.get("State"),
            target=target,
            action_after_completion=None,
        )
        return cls(schedule)


class AlarmResource(_NamedResource, CloudFormationModel):
    """``AWS::CloudWatch::Alarm`` on moto's CloudWatch backend (Ref: its name; GetAtt Arn)."""

    ARN = "alarm_arn"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # type: ignore[override]
        props = cloudformation_json["Properties"]
        alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=props.get("AlarmName") or resource_name,
            namespace=props.get("Namespace"),
            metric_name=props.get("MetricName"),
            comparison_operator=props["ComparisonOperator"],
            evaluation_periods=int(props["EvaluationPeriods"]),
            period=int(props["Period"]),
            threshold=float(props["Threshold"]),
            statistic=props.get("Statistic"),
            description=props.get("AlarmDescription", ""),
            dimensions=[{"Name": d["Name"], "Value": d["Value"]} for d in props.get("Dimensions", [])],
            alarm_actions=props.get("AlarmActions", []),
            datapoints_to_alarm=int(props["DatapointsToAlarm"]) if "DatapointsToAlarm" in props else None,
            ok_actions=props.get("OKActions", []),
            actions_enabled=str(props.get("ActionsEnabled", True)).lower() == "true",
            treat_missing_data=props.get("TreatMissingData"),
        )
        alarm.state_value = "INSUFFICIENT_DATA"  # CloudWatch's state for a new alarm (moto starts at OK)
        return cls(alarm)


def _condition_short_form(loader, tag, node):
    if tag == "!Condition":
        return {"Condition": node.value}
    return cloudformation_utils.yaml_tag_constructor(loader, tag, node)


def _flatten_with_arrays(node: Any, prefix: str = "", result: dict[str, Any] | None = None) -> dict[str, Any]:
    """moto's ``EventPattern._flatten_dict``, with an array of objects flattened into each field's
    values (``containers.exitCode`` -> ``[137]``), as EventBridge matches them."""
    result = {} if result is None else result
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else key
            if isinstance(value, dict) and value:
                _flatten_with_arrays(value, path, result)
            elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                for element in value:
                    for field, found in _flatten_with_arrays(element, path, {}).items():
                        result.setdefault(field, []).extend(found if isinstance(found, list) else [found])
            else:
                result[path] = value
    return result


_moto_send_to_targets = events_models.Rule.send_to_targets


def _send_to_targets_and_topics(self, original_event, transform_input: bool = True):
    """moto's delivery, then each SNS target's, as EventBridge does: the event, or the input
    transformer's text, published to the topic."""
    sns_targets = [t for t in self.targets if t["Arn"].split(":")[2] == "sns"]
    self.targets = [t for t in self.targets if t not in sns_targets]
    try:
        _moto_send_to_targets(self, original_event, transform_input)
    finally:
        self.targets = [*self.targets, *sns_targets]
    if not sns_targets or not self.event_pattern.matches_event(original_event):
        return
    for target in sns_targets:
        transformer = target.get("InputTransformer", {})
        message = events_models.EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=original_event,
        )
        text = message if isinstance(message, str) else json.dumps(message, default=str)
        _, _, _, region, account, _ = target["Arn"].split(":", 5)
        sns_backends[account][region].publish(text, arn=target["Arn"])


def _task_definition_from_cloudformation(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    props = cloudformation_json["Properties"]
    camel = lambda value: ecs_models.remap_nested_keys(value, ecs_models.pascal_to_camelcase)  # noqa: E731
    return ecs_models.ecs_backends[account_id][region_name].register_task_definition(
        family=props["Family"],
        container_definitions=camel(props.get("ContainerDefinitions", [])),
        volumes=camel(props.get("Volumes", [])),
        network_mode=props.get("NetworkMode"),
        requires_compatibilities=props.get("RequiresCompatibilities"),
        cpu=props.get("Cpu"),
        memory=props.get("Memory"),
        task_role_arn=props.get("TaskRoleArn"),
        execution_role_arn=props.get("ExecutionRoleArn"),
    )


_moto_requirements = ecs_models.EC2ContainerServiceBackend._calculate_task_resource_requirements


def _requirements_with_task_memory(task_definition):
    containers = task_definition.container_definitions
    missing = [
        c
        for c in containers
        if not any(c.get(k) for k in ("memory", "memoryReservation", "Memory", "MemoryReservation"))
    ]
    if missing and task_definition.memory:
        # Fargate sizes the task, not the container: give the one container the task's memory.
        patched = [
            {**c, "memory": int(task_definition.memory) // len(containers)} if c in missing else c for c in containers
        ]
        original, task_definition.container_definitions = task_definition.container_definitions, patched
        try:
            return _moto_requirements(task_definition)
        finally:
            task_definition.container_definitions = original
    return _moto_requirements(task_definition)


def fill() -> None:
    """Apply the fills to moto in this process (idempotent; the classes above register themselves)."""
    cloudformation_models.yaml_tag_constructor = _condition_short_form
    cloudformation_responses.yaml_tag_constructor = _condition_short_form
    events_models.Rule.send_to_targets = _send_to_targets_and_topics
    events_models.EventPattern._flatten_dict = staticmethod(_flatten_with_arrays)
    ecs_models.TaskDefinition.create_from_cloudformation_json = classmethod(_task_definition_from_cloudformation)
    ecs_models.EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(
        _requirements_with_task_memory
    )
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()  # in case moto listed its types before this module was imported


fill()
