"""The demo's state on this machine and the environment that points product code at it.

State lives in ``<root>/.local/`` (DynamoDB Local's data and DAGSTER_HOME), where
``<root>`` is ``WEIGHTING_LOCAL_ROOT`` or the working folder, read when a command
runs. Nothing here changes this process's environment: ``local_env`` returns the
variables, and the commands hand them to the processes they start.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

LOCAL_TABLES = {
    "TRADE_LEDGER__TABLE_NAME": "trade-ledger-local",
    "STRATEGY_WEIGHTS__TABLE_NAME": "strategy-weights-local",
}
# DynamoDB Local and moto accept any key; these are never real credentials.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
# Variables that would point a child at a real account instead of the embedded servers.
REAL_ACCOUNT_VARS = ("AWS_PROFILE", "AWS_SESSION_TOKEN")


def local_root(environ: Mapping[str, str] | None = None) -> Path:
    """The folder whose ``.local/`` holds the demo's state."""
    environ = os.environ if environ is None else environ
    return Path(environ.get("WEIGHTING_LOCAL_ROOT") or Path.cwd()).resolve()


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    return local_root(environ) / ".local"


def dagster_home(environ: Mapping[str, str] | None = None) -> Path:
    """The demo's DAGSTER_HOME, created with the repository's ``dagster.yaml`` in it."""
    root = local_root(environ)
    home = root / ".local" / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    if (root / "dagster.yaml").exists():
        shutil.copyfile(root / "dagster.yaml", home / "dagster.yaml")
    return home


def local_env(dynamodb_endpoint: str | None, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: this process's) pointed at the embedded DynamoDB at
    ``dynamodb_endpoint`` (None: leave DynamoDB alone) and the demo's DAGSTER_HOME,
    with local credentials and the local table names unless already set."""
    env = dict(os.environ if environ is None else environ)
    for var in REAL_ACCOUNT_VARS:
        env.pop(var, None)
    env.setdefault("AWS_REGION", "us-east-1")
    env.setdefault("APP__STAGE", "dev")
    env["DAGSTER_HOME"] = str(dagster_home(env))
    if dynamodb_endpoint is not None:
        env.update({"AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint, **LOCAL_CREDENTIALS})
        for var, default in LOCAL_TABLES.items():
            env.setdefault(var, default)
    return env
