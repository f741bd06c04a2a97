"""Operator commands: they run against what the standard AWS variables, the table-name
variables and ``DAGSTER_HOME`` point at (production, or with ``--local`` the demo's
state in ``.local/``, served by the development tools)."""

from __future__ import annotations

import getpass
import os
import sys
import time

import click

from weighting_pipeline.cli.local import cli_child, forwarded_args, require_devtools, run_in_local_env

LOCAL = click.option(
    "--local",
    is_flag=True,
    help="Run against the demo's state in .local/ (starts the embedded DynamoDB; development tools).",
)
RANGE_HELP = "First and last week start (Sundays), e.g. 2026-09-06...2026-11-22."


def _locally(ctx: click.Context, *, dynamodb: bool = True, before: list[list[str]] = ()) -> None:
    """Run this same command, without --local, in a child pointed at the demo's state."""
    require_devtools(f"{ctx.info_name} --local")
    sys.exit(run_in_local_env([*before, cli_child([ctx.info_name, *forwarded_args(ctx)])], dynamodb=dynamodb))


def _need(variable: str, why: str) -> None:
    if not os.environ.get(variable):
        raise click.UsageError(f"{why}: set {variable} (or pass --local for the demo's)")


@click.command()
@click.option("--range", "week_range", required=True, metavar="A...B", help=RANGE_HELP)
@click.option("--csv", "csv_path", metavar="FILE", help="Also write the per-week, per-strategy table as CSV.")
@click.option(
    "--against-table",
    is_flag=True,
    help="Also read the weights table (STRATEGY_WEIGHTS__TABLE_NAME) and report each week whose item has no "
    "materialization of its run, or another weights_sha256; exit 1 if any.",
)
@LOCAL
@click.pass_context
def audit(ctx: click.Context, week_range: str, csv_path: str | None, against_table: bool, local: bool) -> None:
    """Each week's weights hash, checks, restatement and provenance, from the Dagster
    instance at DAGSTER_HOME; with --against-table, also what the weights table holds."""
    if local:
        _locally(ctx, dynamodb=against_table)
    _need("DAGSTER_HOME", "audit reads the Dagster instance")
    if against_table:
        _need("STRATEGY_WEIGHTS__TABLE_NAME", "audit --against-table reads the weights table")
    import dagster as dg

    from weighting_pipeline.ops.audit import AuditRangeError, weeks_in, write_csv
    from weighting_pipeline.ops.audit import against_table as table_views
    from weighting_pipeline.ops.audit import audit as audit_weeks

    try:
        weeks = weeks_in(week_range)
    except AuditRangeError as exc:
        raise click.UsageError(str(exc)) from exc
    views = {}
    with dg.DagsterInstance.get() as instance:
        audits = audit_weeks(instance, weeks)
        if against_table:
            from weighting_pipeline.resources.weights_table import WeightsTable

            views = table_views(instance, WeightsTable.from_env(), weeks)
    for a in audits:
        click.echo(a.line() + (f"  {views[a.week].text()}" if a.week in views else ""))
    if csv_path:
        with open(csv_path, "w", newline="", encoding="utf-8") as out:
            rows = write_csv(audits, out)
        click.echo(f"wrote {rows} rows ({sum(a.publication is not None for a in audits)} weeks) to {csv_path}")
    disagreeing = sorted(w for w, v in views.items() if v.disagrees)
    if disagreeing:
        click.echo(
            f"{len(disagreeing)} week(s) where the weights table and the event log disagree: {', '.join(disagreeing)}",
            err=True,
        )
        sys.exit(1)


@click.command()
@click.option("--week", required=True, help="The week's partition key (its Sunday start date).")
@click.option("--reason", required=True, help="Why; stored with the record an auditor reads.")
@click.option("--by", default=None, help="Who.  [default: the login name of this process]")
@LOCAL
@click.pass_context
def unpublish(ctx: click.Context, week: str, reason: str, by: str | None, local: bool) -> None:
    """Roll a week back: replace its weights item with a tombstone, which trading reads as
    missing (last week's weights within the grace, then the baseline) and which no run started
    before it can overwrite, and record who and why in the Dagster instance (an observation of
    dynamic_weights for that week)."""
    if by is None:  # resolved here, so a --local child records the caller's name
        ctx.params["by"] = by = getpass.getuser()
    if local:
        _locally(ctx)
    _need("DAGSTER_HOME", "unpublish records the action in the Dagster instance")
    _need("STRATEGY_WEIGHTS__TABLE_NAME", "unpublish needs the weights table")
    import dagster as dg

    from weighting_pipeline.ops.unpublish import UnpublishError
    from weighting_pipeline.ops.unpublish import unpublish as unpublish_week
    from weighting_pipeline.resources.publication_log import publication_log_from_env
    from weighting_pipeline.resources.weights_table import WeightsTable
    from weighting_pipeline.settings import WeightingSettings
    from weighting_pipeline_reader import get_strategy_profile

    table = WeightsTable.from_env()
    try:
        with dg.DagsterInstance.get() as instance:
            done = unpublish_week(instance, table, publication_log_from_env(), week, reason, by)
    except UnpublishError as exc:
        raise click.UsageError(str(exc)) from exc
    was = f"removed the item of run {done.deleted_run_id}" if done.deleted_run_id else "no item was stored"
    click.echo(f"Week {week} unpublished by {done.by} at {done.at} ({was}); trading uses the baseline for it.")
    click.echo(
        f"Recorded in the publication log and as an observation of dynamic_weights, partition {week}: {done.reason}"
    )
    # A missing current week falls back to last week's weights within their grace, then the baseline.
    baseline = WeightingSettings.from_env().baseline()  # the one trading deploys, by STRATEGY_CONFIG__PATH
    now_reads = get_strategy_profile({"files": baseline.keys, "allocations": baseline.allocations.to_dict()})
    click.echo(f"Trading now reads: {now_reads.source}")


@click.command()
@click.option("--week", default=None, help="The week's partition key.  [default: the latest complete week]")
@LOCAL
@click.pass_context
def weights(ctx: click.Context, week: str | None, local: bool) -> None:
    """Print a stored week's weights, read back from the weights table."""
    if local:
        _locally(ctx, before=[cli_child(["setup-tables"])])
    _need("STRATEGY_WEIGHTS__TABLE_NAME", "weights reads the weights table")
    from weighting_pipeline.core.calendar import latest_complete_week
    from weighting_pipeline.ops.weights import print_weights

    sys.exit(0 if print_weights(week or latest_complete_week()) else 1)


@click.command(name="setup-tables")
def setup_tables() -> None:
    """Create the ledger and weights tables where the AWS variables point, named by
    TRADE_LEDGER__TABLE_NAME and STRATEGY_WEIGHTS__TABLE_NAME (idempotent)."""
    from weighting_pipeline.ops.tables import setup_tables as create

    try:
        create()
    except KeyError as exc:
        raise click.UsageError(exc.args[0]) from exc


@click.command()
@click.option(
    "--range", "week_range", required=True, metavar="A...B", help="First and last week to backtest (Sunday starts)."
)
@click.option("--lookback", metavar="DAYS,...", help="Lookback windows in calendar days, e.g. 30,60,90,120.")
@click.option("--max-multiplier", metavar="X,...", help="Highest multipliers, e.g. 1.5,2.0,3.0.")
@click.option("--min-multiplier", metavar="X,...", help="Lowest multipliers, e.g. 0.25,0.5.")
@click.option("--score", metavar="NAME,...", help="Scores: sharpe, sortino, calmar.")
@click.option("--missing-days", metavar="RULE,...", help="Missing-day rules: skip, zero.")
@click.option("--pnl-date", metavar="RULE,...", help="When realised P&L is booked (PNL_DATE): close, exit.")
@click.option(
    "--return-basis",
    metavar="BASIS,...",
    help="What a return is per (RETURN_BASIS): lot, deployed (needs pnl-date exit); market is not swept (it needs the daily bars).",
)
@click.option("--mapping", metavar="NAME,...", help="How scores become multipliers (MAPPING): minmax, median_power.")
@click.option("--mapping-alpha", metavar="X,...", help="The power of median_power (MAPPING_ALPHA), e.g. 0.5,1.")
@click.option("--sleeves", metavar="RULE,...", help="Renormalisation groups (SLEEVES): none, folder.")
@click.option(
    "--policies",
    metavar="NAME,...",
    help="The trading author's designs as presets (POLICY): seed, pr2977, script; other options override them.",
)
@click.option("--csv", "csv_path", metavar="FILE", help="Also write the per-setting table as CSV.")
@click.option("--no-progress", is_flag=True, help="No progress bar on stderr.")
@LOCAL
@click.pass_context
def sweep(
    ctx: click.Context, week_range: str, csv_path: str | None, no_progress: bool, local: bool, **grid: str | None
) -> None:
    """Backtest every combination of settings on one ledger read, no Dagster runs; prints
    each setting's information ratio and the best one's deflated Sharpe ratio. Options not
    given keep their configured value."""
    if local:
        _locally(ctx)
    _need("TRADE_LEDGER__TABLE_NAME", "sweep reads the trade ledger")
    from weighting_pipeline.ops.sweep import run

    sys.exit(run(week_range, grid, not no_progress, csv_path))


@click.command()
@click.option("--range", "week_range", required=True, metavar="A...B", help=RANGE_HELP)
@click.option(
    "--cpu",
    type=click.IntRange(min=256),
    default=None,
    help="ECS CPU units for the run's task (tag ecs/cpu).  [default: the task definition's]",
)
@click.option(
    "--memory",
    type=click.IntRange(min=512),
    default=None,
    help="MiB for the run's task (tag ecs/memory).  [default: the task definition's]",
)
def backfill(week_range: str, cpu: int | None, memory: int | None) -> None:
    """Submit the weekly chain over a range of weeks as one backfill through the webserver at
    DAGSTER_WEBSERVER_URL (the UI's backfill dialog), so it runs through the queue, the run
    launcher, run monitoring and retries. Prints the backfill's id and page."""
    if not os.environ.get("DAGSTER_WEBSERVER_URL"):
        raise click.UsageError(
            "backfill submits through the webserver: set DAGSTER_WEBSERVER_URL "
            "(the stack's WebserverUrl output; http://127.0.0.1:3000 for ./run.sh ui)"
        )
    from weighting_pipeline.ops.audit import AuditRangeError, weeks_in
    from weighting_pipeline.ops.backfill import BackfillError, launch_backfill

    try:
        weeks = weeks_in(week_range)
    except AuditRangeError as exc:
        raise click.UsageError(str(exc)) from exc
    url = os.environ["DAGSTER_WEBSERVER_URL"]
    try:
        backfill_id, link = launch_backfill(url, weeks, cpu, memory)
    except (BackfillError, OSError, RuntimeError) as exc:
        raise click.ClickException(f"backfill {week_range} was not submitted: {exc}") from exc
    click.echo(f"Backfill {backfill_id}: {len(weeks)} weeks {weeks[0]}...{weeks[-1]}, one run")
    click.echo(link)


@click.command(name="scheduled-run")
@click.option(
    "--now",
    default=None,
    metavar="ISO-8601",
    help="The time to act at, with its offset (rehearsals): the week and the publication rules' clock.  "
    "[default: the clock]",
)
def scheduled_run(now: str | None) -> None:
    """The scheduled runtime's weekly task (EventBridge Scheduler starts it on Sunday 18:00 New York):
    the schedule's run of the week that just ended, in this process, then its analysis; alerts for a
    failed run and the live week's WARN checks; the dead-man datapoint once the week is published.
    Exits 0 when the runs finished, 3 when one failed and its alert was sent."""
    import pandas as pd

    from weighting_pipeline.definitions import defs
    from weighting_pipeline.deployments import alerts_topic
    from weighting_pipeline.ops.scheduled import open_instance, run_week
    from weighting_pipeline.settings import SettingsError, WeightingSettings

    try:
        at = pd.Timestamp(now) if now else pd.Timestamp.now(tz="UTC")
    except ValueError as exc:
        raise click.UsageError(f"--now {now!r} is not an ISO-8601 time: {exc}") from None
    if at.tzinfo is None:
        raise click.UsageError(f"--now {now!r} has no time zone offset")
    try:
        definitions = defs()  # validates the environment first, naming a bad variable
        alerts = alerts_topic(WeightingSettings.from_env().stage, os.environ)
        instance, waited = open_instance()
    except (SettingsError, RuntimeError) as exc:  # exit 1: the stack's rule reports the task
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Dagster's storage answered after {waited:.1f} s")
    with instance:
        outcome = run_week(definitions, instance, alerts, at.tz_convert("UTC"), publication_now=now)
    click.echo(
        f"Week {outcome.week}: runs {outcome.runs}; published {outcome.published or 'nothing'}; "
        f"alerts sent: {outcome.alerts or 'none'}"
    )
    sys.exit(outcome.exit_code)


@click.command(name="open-ui")
@click.option("--stack", "stack_name", required=True, help="The CloudFormation stack (Runtime=scheduled).")
@click.option("--local-port", default=3000, help="The port on this machine the UI is forwarded to.")
@click.option("--detach", is_flag=True, help="Start the UI and return; it stops after the stack's UiMaxHours.")
@click.option("--stop", "stop_only", is_flag=True, help="Stop the stack's running UI tasks, and start none.")
def open_ui(stack_name: str, local_port: int, detach: bool, stop_only: bool) -> None:
    """The Dagster UI of a Runtime=scheduled stack, on demand: starts its UI task (a code server, the
    daemon and the webserver, against the stack's storage), prints the port-forwarding command, and
    stops the task on Ctrl-C. Backfills and what-if runs launched from it run as in Runtime=services."""
    import shlex
    import signal

    import boto3

    from weighting_pipeline.ops.ui_task import UiStack, UiTaskError, port_forwarding, running, start, stop

    ecs = boto3.client("ecs")
    try:
        stack = UiStack.read(boto3.client("cloudformation"), stack_name)
        if stop_only:
            arns = running(ecs, stack)
            stop(ecs, stack, arns, f"stopped by {getpass.getuser()}")
            click.echo(f"Stopped {len(arns)} UI task(s) of {stack_name}")
            return
        click.echo(f"Starting the UI task of {stack_name} ({stack.family}) ...")
        task = start(ecs, stack)
    except UiTaskError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"UI task {task['taskArn']} is running. Forward its webserver with:")
    click.echo("  " + shlex.join(port_forwarding(stack, task, local_port)))
    click.echo(f"then open http://127.0.0.1:{local_port}")
    if detach:
        click.echo(f"Detached: stop it with `weighting-pipeline open-ui --stack {stack_name} --stop`.")
        return
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops the task as Ctrl-C does
    click.echo("Ctrl-C stops it.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        stop(ecs, stack, [task["taskArn"]], f"closed by {getpass.getuser()}")
        click.echo(f"Stopped {task['taskArn']}")


COMMANDS = (audit, unpublish, weights, setup_tables, sweep, backfill, scheduled_run, open_ui)
