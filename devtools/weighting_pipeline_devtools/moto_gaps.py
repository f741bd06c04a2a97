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
- **The weights table** is created in moto's DynamoDB, but the rehearsal's tables live in
  DynamoDB Local (a real DynamoDB engine). This one is filled after the deployment, outside
  moto: ``infrastructure.copy_tables_to`` creates the template's tables there, with the
  template's TTL attribute (moto ignores TTL settings).

Registering happens on import, before moto first builds its list of resource types;
``moto_server.LocalAWS`` imports this module in moto's process (or thread) only, since
importing moto's CloudFormation loads every moto model (over a second).

Not filled, because nothing the rehearsal checks depends on them: CloudWatch alarms,
``ManagedPolicyArns`` and IAM enforcement, and the e-mail subscription (the rehearsal
subscribes an SQS probe instead).
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation import parsing
from moto.core.common_models import CloudFormationModel
from moto.ecs import models as ecs_models
from moto.servicediscovery.models import servicediscovery_backends


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
    ecs_models.TaskDefinition.create_from_cloudformation_json = classmethod(_task_definition_from_cloudformation)
    ecs_models.EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(
        _requirements_with_task_memory
    )
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()  # in case moto listed its types before this module was imported


fill()
