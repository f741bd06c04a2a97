"""``--local`` and the development commands: embedded servers, and product code in a child
process given their environment (this process's own environment is never changed)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

DEVTOOLS_HINT = (
    "needs the development tools, which production images leave out: "
    "pip install -e ./devtools in a clone of the repository (./run.sh does it)"
)


def require_devtools(command: str) -> None:
    """Fail with a clear message where the development tools are not installed."""
    if importlib.util.find_spec("weighting_pipeline_devtools") is None or importlib.util.find_spec("moto") is None:
        raise click.ClickException(f"{command} {DEVTOOLS_HINT}")


def forwarded_args(ctx: click.Context, drop: tuple[str, ...] = ("local",)) -> list[str]:
    """The command's options as given, without ``drop``: the same command for a child."""
    args: list[str] = []
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if param.name in drop or value is None or not isinstance(param, click.Option):
            continue
        flag = max(param.opts, key=len)
        if param.is_flag:
            if value:
                args.append(flag)
        else:
            args += [flag, str(value)]
    return args


def cli_child(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "weighting_pipeline.cli", *args]


@contextmanager
def local_dynamodb(backend: str = "auto", announce: bool = False) -> Iterator[dict[str, str]]:
    """The embedded DynamoDB on the demo's data (``.local/dynamodb``), running while the block
    does; yields the environment that points a child at it and at the demo's DAGSTER_HOME."""
    from weighting_pipeline_devtools.dynamodb_local import LocalDynamoDB
    from weighting_pipeline_devtools.local_env import local_env, state_dir

    with LocalDynamoDB(backend=backend, db_path=state_dir() / "dynamodb") as db:
        if announce:
            print(f"Local DynamoDB ({db.kind}) at {db.endpoint}, data in {state_dir() / 'dynamodb'}", flush=True)
        yield local_env(db.endpoint)


def run_in_local_env(
    commands: list[list[str]], dynamodb: bool = True, backend: str = "auto", announce: bool = False
) -> int:
    """Run each of ``commands`` (argv lists) in turn against the demo's state (``.local/``):
    its DAGSTER_HOME and, with ``dynamodb``, the embedded DynamoDB started for them.
    Stops at the first that fails; returns its exit status."""
    from weighting_pipeline_devtools.local_env import local_env
    from weighting_pipeline_devtools.processes import exit_on_termination_signals

    exit_on_termination_signals()
    if not dynamodb:
        return _each(commands, local_env(None))
    with local_dynamodb(backend, announce) as env:
        return _each(commands, env)


def _each(commands: list[list[str]], env: dict[str, str]) -> int:
    for cmd in commands:
        status = subprocess.call(cmd, env=env)
        if status:
            return status
    return 0
