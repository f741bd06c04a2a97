"""Development commands: ``demo``, ``ui``, ``stack`` (on 127.0.0.1 only) and ``image``.

Each imports ``weighting_pipeline_devtools`` when it runs, never at import, and
fails with a clear message where the development tools are not installed.
"""

from __future__ import annotations

import subprocess
import sys

import click

from weighting_pipeline.cli.local import local_dynamodb, require_devtools, run_in_local_env

BACKEND = click.option(
    "--backend",
    type=click.Choice(["auto", "dynamodb-local", "moto"]),
    default="auto",
    help="The embedded DynamoDB: DynamoDB Local (needs Java), moto's server, or the first that works.",
)
DEMO = [sys.executable, "-m", "weighting_pipeline_devtools.demo"]


@click.command()
@click.option("--reseed", is_flag=True, help="Write the demo ledger again.")
@BACKEND
@click.option("--debug", is_flag=True, help="Show Dagster's DEBUG events too, not only the step log.")
def demo(reseed: bool, backend: str, debug: bool) -> None:
    """Embedded DynamoDB, a demo ledger in the trading system's format, its last 18 weeks
    in one Dagster run, then tilt_report; prints the latest week's weights and the verdict.

    State is kept in .local/ (DynamoDB data and DAGSTER_HOME), so ui shows what demo did."""
    require_devtools("demo")
    flags = ["--reseed"] * reseed + ["--debug"] * debug
    sys.exit(run_in_local_env([[*DEMO, "run", *flags]], backend=backend, announce=True))


@click.command()
@click.option("--port", default=3000, help="The webserver's port on 127.0.0.1.")
@BACKEND
def ui(port: int, backend: str) -> None:
    """The demo's set-up, then the Dagster UI (dagster dev) on http://127.0.0.1:PORT."""
    require_devtools("ui")
    from weighting_pipeline_devtools.local_env import local_root
    from weighting_pipeline_devtools.processes import exit_on_termination_signals, run_until_stopped

    exit_on_termination_signals()
    with local_dynamodb(backend, announce=True) as env:
        if subprocess.call([*DEMO, "seed"], env=env):
            sys.exit(1)
        # The dev stage's schedule starts STOPPED; the local UI is a demo of the running product.
        env.setdefault("SCHEDULE__DEFAULT_STATUS", "RUNNING")
        print(f"Dagster UI on http://127.0.0.1:{port} (Ctrl-C to stop)", flush=True)
        cmd = [
            sys.executable,
            "-m",
            "dagster",
            "dev",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            str(local_root() / "workspace.yaml"),
        ]
        # Run from DAGSTER_HOME, where dagster.yaml was copied, so Dagster finds one instance config.
        sys.exit(run_until_stopped(cmd, cwd=env["DAGSTER_HOME"], env=env))


@click.command()
@BACKEND
@click.option(
    "--runtime",
    type=click.Choice(["services", "scheduled"]),
    default="services",
    help="The template's Runtime: services (code server, daemon and webserver always on) or scheduled "
    "(the weekly schedule fired as EventBridge Scheduler would, then the UI on demand).",
)
def stack(backend: str, runtime: str) -> None:
    """The production shape on this machine, on 127.0.0.1: the image built with podman; PostgreSQL,
    moto and DynamoDB Local; the CloudFormation template deployed into moto; the code server,
    daemon and webserver as containers of the image (or, with --runtime scheduled, the weekly
    task fired from the deployed schedule and then the UI on demand), and a Fargate stand-in that
    runs each task in one too.

    Prints STACK READY {json} and runs until SIGINT, SIGTERM or SIGHUP; needs Debian's
    postgresql, podman, runc and mmdebstrap."""
    require_devtools("stack")
    from weighting_pipeline_devtools.containers import require_podman
    from weighting_pipeline_devtools.local_env import local_root
    from weighting_pipeline_devtools.postgres import find_bin_dir
    from weighting_pipeline_devtools.processes import exit_on_termination_signals
    from weighting_pipeline_devtools.stack import run as run_stack

    try:
        find_bin_dir()
        require_podman()
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
    exit_on_termination_signals()
    sys.exit(run_stack(local_root(), backend, runtime))


@click.command()
def image() -> None:
    """Build the project's image from its Dockerfile with podman, as stack does (on a Debian
    base made with mmdebstrap when python:3.11-slim cannot be pulled); prints its name.

    A later build reuses podman's cache; the log is .local/image/image.log."""
    require_devtools("image")
    from weighting_pipeline_devtools.containers import Podman
    from weighting_pipeline_devtools.image import build
    from weighting_pipeline_devtools.local_env import state_dir

    state = state_dir() / "image"
    try:
        podman = Podman(state)
        click.echo(build(podman, state / "image.log"))
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc


COMMANDS = (demo, ui, stack, image)
