"""What differs between deployments, and the resources each gets.

``APP__STAGE`` (dev | staging | prod) picks the row of ``DEPLOYMENTS`` and the
baseline file. All stages talk to DynamoDB through the standard AWS chain:
locally, ``AWS_ENDPOINT_URL_DYNAMODB`` points at the embedded server. The
definitions themselves are in ``weighting_pipeline/defs/``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

from weighting_pipeline.assets.code_versions import CODE_VERSIONS
from weighting_pipeline.core.baseline import BaselineConfigError, stage_file
from weighting_pipeline.resources.alerts import AlertsTopic
from weighting_pipeline.resources.dynamodb import DynamoDBResource
from weighting_pipeline.resources.ledger_reader import LedgerReader
from weighting_pipeline.resources.market_data import market_data_from_env
from weighting_pipeline.resources.parquet_io_manager import PartitionedParquetIOManager
from weighting_pipeline.resources.publication_log import publication_log_from_env
from weighting_pipeline.resources.publication_rules import DEFAULT_GRACE_HOURS, GRACE_ENV, PublicationRules
from weighting_pipeline.resources.weights_io_manager import DynamoDBWeightsIOManager
from weighting_pipeline.resources.weights_table import WeightsTable
from weighting_pipeline.settings import ENV_VARS, SettingsError, WeightingSettings

RUNNING, STOPPED = dg.DefaultScheduleStatus.RUNNING, dg.DefaultScheduleStatus.STOPPED
# What differs between deployments, as data. A dev machine does not publish on a
# timer unless asked to (the local UI asks: SCHEDULE__DEFAULT_STATUS=RUNNING).
DEPLOYMENTS: dict[str, dict] = {
    "dev": {"max_attempts": 3, "ledger_workers": 4, "ttl_days": 7, "schedule": STOPPED},
    "staging": {"max_attempts": 5, "ledger_workers": 8, "ttl_days": 7, "schedule": RUNNING},
    "prod": {"max_attempts": 5, "ledger_workers": 8, "ttl_days": 7, "schedule": RUNNING},
}
SCHEDULE_STATUS_ENV = "SCHEDULE__DEFAULT_STATUS"
MISSED_WEEK_ENV = "ALERTS__MISSED_WEEK_HOURS"


def deployment_of(stage: str) -> dict:
    """The row of ``DEPLOYMENTS`` for ``stage``; an unknown stage is named (``core.baseline.stage_file``)."""
    try:
        stage_file(stage)
    except BaselineConfigError as exc:
        raise SettingsError(str(exc)) from None
    return DEPLOYMENTS[stage]


def alerts_topic(stage: str, environ: Mapping[str, str]) -> AlertsTopic:
    """Alerts from ``ALERTS__SNS_TOPIC_ARN``, ``DAGSTER_WEBSERVER_URL`` and ``ALERTS__MISSED_WEEK_HOURS``."""
    raw = (environ.get(MISSED_WEEK_ENV) or "2").strip()
    try:
        hours = float(raw)
    except ValueError:
        hours = float("nan")
    if not hours > 0 or hours == float("inf"):
        raise SettingsError(f"{MISSED_WEEK_ENV}={raw!r} must be a positive number of hours")
    return AlertsTopic(
        topic_arn=(environ.get("ALERTS__SNS_TOPIC_ARN") or "").strip() or None,
        webserver_url=(environ.get("DAGSTER_WEBSERVER_URL") or "").strip() or None,
        missed_week_hours=hours,
        stage=stage,
    )


def build_resources(
    settings: WeightingSettings, dynamodb: DynamoDBResource | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, object]:
    """The deployment's resources; ``dynamodb`` overrides its client settings (tests, tools)."""
    environ = os.environ if environ is None else environ
    deployment = deployment_of(settings.stage)
    dynamodb = dynamodb or DynamoDBResource(max_attempts=deployment["max_attempts"])
    weights_table = WeightsTable(dynamodb=dynamodb, table_name=dg.EnvVar("STRATEGY_WEIGHTS__TABLE_NAME"))
    # Partial, so that the intermediates' IO manager gets the run's resolved settings (run
    # config included) from the top-level key, as the assets do; a fully configured nested
    # resource would keep the environment's.
    run_settings = WeightingSettings.configure_at_launch(**{f: getattr(settings, f) for f in ENV_VARS})
    log = publication_log_from_env(environ)
    return {
        "settings": run_settings,
        "ledger": LedgerReader(
            dynamodb=dynamodb,
            table_name=dg.EnvVar("TRADE_LEDGER__TABLE_NAME"),
            max_workers=deployment["ledger_workers"],
            index=environ.get("TRADE_LEDGER__INDEX") or "auto",
        ),
        "intermediate_io_manager": PartitionedParquetIOManager(
            base_path=environ.get("INTERMEDIATES__BASE_PATH") or None,
            settings=run_settings,
            code_versions=CODE_VERSIONS,
        ),
        "weights_io_manager": DynamoDBWeightsIOManager(table=weights_table, log=log, ttl_days=deployment["ttl_days"]),
        "weights_table": weights_table,
        "publication_log": log,
        "publication": PublicationRules(grace_hours=float(environ.get(GRACE_ENV) or DEFAULT_GRACE_HOURS)),
        "alerts": alerts_topic(settings.stage, environ),
        "market_data": market_data_from_env(environ),
    }


def schedule_status(stage: str, environ: Mapping[str, str]) -> dg.DefaultScheduleStatus:
    """The weekly schedule's default status: the stage's, unless ``SCHEDULE__DEFAULT_STATUS`` says otherwise."""
    raw = (environ.get(SCHEDULE_STATUS_ENV) or "").strip().upper()
    if not raw:
        return deployment_of(stage)["schedule"]
    if raw not in ("RUNNING", "STOPPED"):
        raise SettingsError(f"{SCHEDULE_STATUS_ENV}={raw!r} must be RUNNING or STOPPED")
    return dg.DefaultScheduleStatus[raw]


def check_environment(environ: Mapping[str, str]) -> WeightingSettings:
    """Every deployment variable validated at once, before any definition is built, so a bad
    value fails by its own error, naming the variable; the validated settings."""
    settings = WeightingSettings.from_env(environ)
    schedule_status(settings.stage, environ)
    alerts_topic(settings.stage, environ)
    return settings
