"""dagster_cloud.yaml (Dagster+ Hybrid on ECS) says what the open-source deployment says.

CI also loads the file with dagster-cloud-cli's own loader (``.ci/dagster_cloud.py``,
in a venv of its own); here the ECS container context goes through dagster-aws's
parser, the code source is imported, and every variable it passes to runs is one the
template's run task definition sets.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import dagster as dg
import yaml
from dagster_aws.ecs.container_context import EcsContainerContext

from weighting_pipeline_tests.test_infrastructure import TEMPLATE, environment

REPO = Path(__file__).resolve().parents[1]


def location() -> dict:
    [only] = yaml.safe_load((REPO / "dagster_cloud.yaml").read_text())["locations"]
    return only


def test_the_code_source_is_the_definitions_the_open_source_code_server_serves():
    from cfnlint.decode import decode

    source = location()["code_source"]["module_name"]
    defs = importlib.import_module(source).defs  # loaded as Dagster loads a module's definitions
    assert isinstance(defs() if callable(defs) else defs, dg.Definitions)
    [workspace] = yaml.safe_load((REPO / "deploy" / "workspace.yaml").read_text())["load_from"]
    assert workspace["grpc_server"]["location_name"] == location()["location_name"]
    template, _ = decode(str(TEMPLATE))
    [server] = template["Resources"]["CodeServerTaskDefinition"]["Properties"]["ContainerDefinitions"]
    assert source in server["Command"]


def test_the_ecs_context_parses_and_passes_only_variables_the_template_gives_runs_and_the_code_server():
    from cfnlint.decode import decode

    context = EcsContainerContext.create_from_config(location()["container_context"])
    template, problems = decode(str(TEMPLATE))
    assert not problems, problems
    # Under Dagster+ the sensors (alerts) run in the code server, the assets in the runs.
    given = set()
    for task in ("RunTaskDefinition", "CodeServerTaskDefinition"):
        env, secrets = environment(template, task)
        given |= set(env) | secrets
    names = {v.split("=", 1)[0] for v in context.env_vars}
    # Dagster+ keeps the storage and launches the runs: no Postgres and no ECS-launcher variables.
    assert names <= given, names - given
    assert {
        "APP__STAGE",
        "TRADE_LEDGER__TABLE_NAME",
        "STRATEGY_WEIGHTS__TABLE_NAME",
        "INTERMEDIATES__BASE_PATH",
    } <= names
    assert not any(n.startswith(("DAGSTER_PG_", "DAGSTER_ECS_")) for n in names)
    defaults = template["Parameters"]
    assert context.run_resources == {
        "cpu": defaults["RunTaskCpu"]["Default"],
        "memory": defaults["RunTaskMemory"]["Default"],
    }
