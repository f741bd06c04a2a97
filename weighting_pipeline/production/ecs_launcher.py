"""Dagster's ECS run launcher, with the run task's networking from the environment.

dagster-aws's ``EcsRunLauncher`` does all the work: one ECS task per run, run
tags ``ecs/cpu`` and ``ecs/memory``, run monitoring. It takes networking either
from the ECS task it runs in (``use_current_ecs_task_config``, a plain boolean)
or from ``run_task_kwargs``, whose values a ``dagster.yaml`` cannot read from
environment variables. So one ``deploy/dagster.yaml`` could not serve both the
daemon on ECS and the rehearsal beside moto. This subclass adds only that:

- ``DAGSTER_ECS_SUBNETS`` (comma-separated) set: runs use those subnets, with
  ``DAGSTER_ECS_SECURITY_GROUPS`` (comma-separated) and
  ``DAGSTER_ECS_ASSIGN_PUBLIC_IP`` (ENABLED | DISABLED, default DISABLED);
- unset: runs reuse the network configuration of the task the daemon runs in.
"""

from __future__ import annotations

import os

from dagster_aws.ecs import EcsRunLauncher as DagsterEcsRunLauncher

SUBNETS_ENV = "DAGSTER_ECS_SUBNETS"
SECURITY_GROUPS_ENV = "DAGSTER_ECS_SECURITY_GROUPS"
PUBLIC_IP_ENV = "DAGSTER_ECS_ASSIGN_PUBLIC_IP"


def _names(var: str) -> list[str]:
    return [part.strip() for part in os.environ.get(var, "").split(",") if part.strip()]


def network_configuration() -> dict | None:
    """The RunTask ``networkConfiguration`` the environment asks for, or None."""
    subnets = _names(SUBNETS_ENV)
    if not subnets:
        return None
    groups = _names(SECURITY_GROUPS_ENV)
    if not groups:
        raise ValueError(f"{SUBNETS_ENV} is set but {SECURITY_GROUPS_ENV} is not: Fargate tasks need a security group")
    public_ip = (os.environ.get(PUBLIC_IP_ENV) or "DISABLED").strip().upper()
    if public_ip not in ("ENABLED", "DISABLED"):
        raise ValueError(f"{PUBLIC_IP_ENV}={public_ip!r} must be ENABLED or DISABLED")
    return {"awsvpcConfiguration": {"subnets": subnets, "securityGroups": groups, "assignPublicIp": public_ip}}


class EcsRunLauncher(DagsterEcsRunLauncher):
    """``dagster_aws.ecs.EcsRunLauncher``; networking from ``DAGSTER_ECS_*`` when set."""

    def __init__(self, *args, **kwargs):
        network = network_configuration()
        if network is not None:
            kwargs["run_task_kwargs"] = {**(kwargs.get("run_task_kwargs") or {}), "networkConfiguration": network}
            kwargs["use_current_ecs_task_config"] = False
        super().__init__(*args, **kwargs)
