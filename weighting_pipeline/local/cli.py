"""``python -m weighting_pipeline.local <command>``: run the pipeline on this machine.

Commands:
  demo          start the embedded DynamoDB, create tables, seed a demo ledger,
                materialise its last 18 weeks (one run) and tilt_report through Dagster,
                print the latest week's weights and the tilt's verdict
  ui            the same embedded set-up, then ``dagster dev`` on 127.0.0.1
  setup-tables  create both tables where the AWS env vars point (idempotent)
  weights       print a stored week's weights table
  audit         print, from the Dagster instance, each week's weights hash, checks,
                restatement and provenance (--csv FILE: the per-strategy table)
  stack         the production shape on this machine: PostgreSQL, moto (ECS, S3, SNS,
                SQS), DynamoDB Local, code server, daemon, webserver, a Fargate stand-in;
                prints STACK READY {json} and runs until SIGINT, SIGTERM or SIGHUP
  unpublish     delete a week's weights item (trading falls back to the baseline) and
                record who and why in the Dagster instance (--week K --reason TEXT)
  sweep         backtest a grid of settings on one ledger read, no Dagster runs
                (--range A...B --lookback 30,60,90 --max-multiplier 1.5,2.0 [--score ...]);
                prints each setting's information ratio and the best one's deflated ratio
State lives in ``.local/`` (DynamoDB data and DAGSTER_HOME), so ``ui`` shows what ``demo`` did.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(os.environ.get("WEIGHTING_LOCAL_ROOT", Path.cwd())).resolve()
STATE = ROOT / ".local"
LOCAL_TABLES = {"TRADE_LEDGER__TABLE_NAME": "trade-ledger-local", "STRATEGY_WEIGHTS__TABLE_NAME": "strategy-weights-local"}


def exit_on_termination_signals(signals=(signal.SIGTERM, signal.SIGHUP)) -> None:
    """End this process on SIGTERM and SIGHUP (a closed terminal) as on Ctrl-C: by
    raising, so the ``with`` blocks and ``finally`` clauses stop every server it started.
    Python's default for both is to die on the spot, leaving DynamoDB Local running.
    Once one arrives, later ones are ignored, so they cannot cut the clean-up short."""

    def leave(signum, _frame):
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        raise SystemExit(128 + signum)

    for sig in signals:
        signal.signal(sig, leave)


def run_until_stopped(cmd: list[str], **kwargs) -> int:
    """Run a long-lived child (``dagster dev``) until it ends or we are told to stop.

    The child gets its own process group, so a terminal's Ctrl-C or hang-up
    reaches only us and we stop it exactly once: one SIGTERM (which
    ``dagster dev`` handles like Ctrl-C, shutting its webserver and daemon
    down), then its whole group is killed if it is not gone within 60 s.
    """
    child = subprocess.Popen(cmd, start_new_session=True, **kwargs)
    try:
        return child.wait()
    except KeyboardInterrupt:
        return 130
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # shutting down: a second Ctrl-C must not cut it short
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()


def local_env(endpoint: str) -> None:
    """Point this process (and children) at the embedded DynamoDB with dummy credentials."""
    home = STATE / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    if (ROOT / "dagster.yaml").exists():
        shutil.copyfile(ROOT / "dagster.yaml", home / "dagster.yaml")
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(var, None)
    os.environ.update(
        {
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
            "AWS_REGION": os.environ.get("AWS_REGION", "us-east-1"),
            "AWS_ACCESS_KEY_ID": "local",  # the embedded server accepts any key; never real credentials here
            "AWS_SECRET_ACCESS_KEY": "local",
            "APP__STAGE": os.environ.get("APP__STAGE", "dev"),
            "DAGSTER_HOME": str(home),
        }
    )
    for var, default in LOCAL_TABLES.items():
        os.environ.setdefault(var, default)


def _client():
    from weighting_pipeline.resources.dynamodb import DynamoDBResource

    return DynamoDBResource().get_client()


def setup_tables() -> None:
    from weighting_pipeline.local.tables import create_tables

    made = create_tables(_client(), os.environ["TRADE_LEDGER__TABLE_NAME"], os.environ["STRATEGY_WEIGHTS__TABLE_NAME"])
    for table, created in made.items():
        print(f"table {table}: {'created' if created else 'already there'}")


def seed_demo_ledger(latest_week: str, reseed: bool = False, days: int = 210) -> int:
    """Seed ``days`` of lots (~7 months) up to ``latest_week`` for the baseline strategies, once,
    in the trading system's item format; returns the number of fully closed lots."""
    from weighting_pipeline.local.demo_ledger import seed_ledger, synthetic_ledger
    from weighting_pipeline.resources.table_schema import GSI5
    from weighting_pipeline.settings import WeightingSettings

    table_name = os.environ["TRADE_LEDGER__TABLE_NAME"]
    client = _client()
    baseline = WeightingSettings.from_env().baseline()
    first = next(iter(baseline.stems))
    seeded = client.query(
        TableName=table_name,
        IndexName=GSI5,
        KeyConditionExpression="GSI5PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"STRATEGY_LOTS#{first}"}},
        Limit=1,
    )["Items"]
    if seeded and not reseed:
        return 0
    end = pd.Timestamp(latest_week) + pd.Timedelta(days=8)
    ledger = synthetic_ledger(baseline.keys, str((end - pd.Timedelta(days=days)).date()), str(end.date()), 1.5, seed=11)
    seed_ledger(table_name, ledger)
    return len(ledger.lots)


def latest_complete_week(now: pd.Timestamp | None = None) -> str:
    from weighting_pipeline.core.calendar import FIRST_WEEK, current_partition_key

    return current_partition_key(now or pd.Timestamp.now(tz="UTC"), FIRST_WEEK)


DEMO_WEEKS = 18  # the demo ledger's weeks whose 90-day windows it covers, plus the one before


def demo_range(latest_week: str, weeks: int = DEMO_WEEKS) -> tuple[str, str]:
    """The first and last week the demo materialises (``weeks`` of them, ending at ``latest_week``)."""
    return str((pd.Timestamp(latest_week) - pd.Timedelta(weeks=weeks - 1)).date()), latest_week


def materialize(first: str, last: str, log_level: str = "INFO") -> dict | None:
    """Run the weekly job for the weeks ``first..last`` as one run in this process, then
    ``tilt_report`` over every stored week; the step log is shown at ``log_level``.
    Returns the report's metadata, or None (having said which run failed)."""
    import dagster as dg

    from weighting_pipeline.definitions import defs
    from weighting_pipeline.schedules import REPORT_JOB, WEIGHTING_JOB

    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    with dg.DagsterInstance.get() as instance:
        tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
        chain = defs.resolve_job_def(WEIGHTING_JOB).execute_in_process(instance=instance, tags=tags, raise_on_error=False, run_config=run_config)
        if not chain.success:
            print("The weekly run failed; see the Dagster logs above. A range is all or nothing: none of its weeks was published.")
            return None
        report = defs.resolve_job_def(REPORT_JOB).execute_in_process(instance=instance, raise_on_error=False, run_config=run_config)
        if not report.success:
            print("tilt_report failed; see the Dagster logs above. The weeks themselves were published.")
            return None
        event = instance.get_latest_materialization_event(dg.AssetKey("tilt_report"))
        return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def print_verdict(report: dict) -> None:
    """The tilt's verdict from ``tilt_report``'s metadata."""
    print(f"\n{report['verdict']}.")
    naive = report.get("naive/cumulative_growth")
    print((f"The naive b*m renormalisation grew 1 to {naive:.4f}. " if naive is not None else "")
          + "Numbers, table and chart: asset tilt_report in ./run.sh ui.")


def print_audit(week_range: str, csv_path: str | None) -> int:
    """The audit lines of ``week_range`` (``A...B``), read from the instance at DAGSTER_HOME."""
    import dagster as dg

    from weighting_pipeline.audit import AuditRangeError, audit, weeks_in, write_csv

    if not os.environ.get("DAGSTER_HOME"):
        print("audit reads the Dagster instance: set DAGSTER_HOME (or pass --local for the demo's)", file=sys.stderr)
        return 2
    try:
        weeks = weeks_in(week_range)
    except AuditRangeError as exc:
        print(exc, file=sys.stderr)
        return 2
    with dg.DagsterInstance.get() as instance:
        audits = audit(instance, weeks)
    for a in audits:
        print(a.line())
    if csv_path:
        with open(csv_path, "w", newline="", encoding="utf-8") as out:
            rows = write_csv(audits, out)
        print(f"wrote {rows} rows ({sum(a.publication is not None for a in audits)} weeks) to {csv_path}")
    return 0


def run_unpublish(week: str, reason: str, by: str) -> int:
    """Unpublish ``week`` from the table in STRATEGY_WEIGHTS__TABLE_NAME, recording it at DAGSTER_HOME."""
    import dagster as dg

    from weighting_pipeline.resources.dynamodb import DynamoDBResource
    from weighting_pipeline.resources.weights_table import WeightsTable
    from weighting_pipeline.unpublish import UnpublishError, unpublish

    if not os.environ.get("DAGSTER_HOME"):
        print("unpublish records the action in the Dagster instance: set DAGSTER_HOME (or pass --local)", file=sys.stderr)
        return 2
    if not os.environ.get("STRATEGY_WEIGHTS__TABLE_NAME"):
        print("unpublish needs STRATEGY_WEIGHTS__TABLE_NAME (the weights table)", file=sys.stderr)
        return 2
    table = WeightsTable(dynamodb=DynamoDBResource(), table_name=os.environ["STRATEGY_WEIGHTS__TABLE_NAME"])
    try:
        with dg.DagsterInstance.get() as instance:
            done = unpublish(instance, table, week, reason, by)
    except UnpublishError as exc:
        print(exc, file=sys.stderr)
        return 2
    was = f"removed the item of run {done.deleted_run_id}" if done.deleted_run_id else "no item was stored"
    print(f"Week {week} unpublished by {done.by} at {done.at} ({was}); trading uses the baseline for it.")
    print(f"Recorded as an observation of dynamic_weights, partition {week}: {done.reason}")
    from weighting_pipeline.profiles import get_strategy_profile

    # A missing current week falls back to last week's weights within their grace, then the baseline.
    print(f"Trading now reads: {get_strategy_profile().source}")
    return 0


def print_weights(partition_key: str) -> bool:
    from weighting_pipeline import report
    from weighting_pipeline.resources.weights_item import items_to_frame
    from weighting_pipeline.resources.weights_table import WeightsTable
    from weighting_pipeline.resources.dynamodb import DynamoDBResource

    table = WeightsTable(dynamodb=DynamoDBResource(), table_name=os.environ["STRATEGY_WEIGHTS__TABLE_NAME"])
    item = table.get_week(partition_key)
    if item is None:
        print(f"No weights stored for week {partition_key} in {table.table_name}.")
        return False
    print(f"\nDynamic weights for the week starting {partition_key} (valid {item['valid_from']} .. {item['valid_until']}),")
    print(f"read back from DynamoDB table {table.table_name}:\n")
    from weighting_pipeline.settings import WeightingSettings

    order = {k: i for i, k in enumerate(WeightingSettings.from_env().baseline().keys)}
    frame = items_to_frame([item])
    frame = frame.sort_values("strategy", key=lambda s: s.map(order).fillna(len(order)), kind="stable")
    print(report.text(frame))
    if item.get("skipped_strategies"):
        print("\nSkipped (multiplier 1.0): " + "; ".join(f"{k}: {v}" for k, v in item["skipped_strategies"].items()))
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m weighting_pipeline.local", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo")
    demo.add_argument("--reseed", action="store_true", help="write the demo ledger again")
    demo.add_argument("--backend", default="auto", choices=["auto", "dynamodb-local", "moto"])
    demo.add_argument("--debug", action="store_true", help="show Dagster's DEBUG events too, not only the step log")
    ui = sub.add_parser("ui")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument("--backend", default="auto", choices=["auto", "dynamodb-local", "moto"])
    sub.add_parser("setup-tables")
    stack = sub.add_parser("stack", help="the production rehearsal on 127.0.0.1 (see docs and README)")
    stack.add_argument("--backend", default="auto", choices=["auto", "dynamodb-local", "moto"])
    weights = sub.add_parser("weights")
    weights.add_argument("--week", help="partition key; default: the latest complete week")
    weights.add_argument("--local", action="store_true", help="start the embedded DynamoDB with the demo's data first")
    audit = sub.add_parser("audit", help="per-week audit lines from the Dagster instance; never touches DynamoDB")
    audit.add_argument("--range", required=True, dest="week_range", metavar="A...B", help="first and last week start, e.g. 2026-09-06...2026-11-22")
    audit.add_argument("--csv", metavar="FILE", help="also write the per-week, per-strategy table as CSV")
    audit.add_argument("--local", action="store_true", help="read the demo's instance (.local/dagster_home)")
    unpub = sub.add_parser("unpublish", help="roll a week back to the baseline: delete its item, record who and why")
    unpub.add_argument("--week", required=True, help="partition key (the week's Sunday start date)")
    unpub.add_argument("--reason", required=True, help="why; stored with the record an auditor reads")
    unpub.add_argument("--by", default=None, help="who (default: the login name of this process)")
    unpub.add_argument("--local", action="store_true", help="the demo's DynamoDB data and instance (.local/)")
    sweep = sub.add_parser("sweep", help="backtest every combination of settings on one ledger read")
    sweep.add_argument("--range", required=True, dest="week_range", metavar="A...B", help="first and last week to backtest (Sunday starts)")
    sweep.add_argument("--lookback", metavar="DAYS,...", help="lookback windows in calendar days, e.g. 30,60,90,120")
    sweep.add_argument("--max-multiplier", metavar="X,...", help="highest multipliers, e.g. 1.5,2.0,3.0")
    sweep.add_argument("--min-multiplier", metavar="X,...", help="lowest multipliers, e.g. 0.25,0.5")
    sweep.add_argument("--score", metavar="NAME,...", help="sharpe, sortino, calmar")
    sweep.add_argument("--missing-days", metavar="RULE,...", help="skip, zero")
    sweep.add_argument("--pnl-date", metavar="RULE,...", help="close, exit: when realised P&L is booked (PNL_DATE)")
    sweep.add_argument("--csv", metavar="FILE", help="also write the per-setting table as CSV")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    sweep.add_argument("--local", action="store_true", help="the demo's ledger in the embedded DynamoDB (.local/)")
    args = parser.parse_args(argv)

    if args.command == "setup-tables":
        setup_tables()
        return 0
    if args.command == "audit":
        if args.local:
            os.environ["DAGSTER_HOME"] = str(STATE / "dagster_home")
        return print_audit(args.week_range, args.csv)

    from weighting_pipeline.local.dynamodb_local import LocalDynamoDB

    if args.command == "stack":
        from weighting_pipeline.local.postgres import find_bin_dir
        from weighting_pipeline.local.stack import run as run_stack

        try:
            find_bin_dir()
        except RuntimeError as exc:
            print(exc, file=sys.stderr)
            return 2
        exit_on_termination_signals((signal.SIGINT, signal.SIGTERM, signal.SIGHUP))
        return run_stack(ROOT, args.backend)

    exit_on_termination_signals()
    if args.command == "sweep":
        from weighting_pipeline.local.sweep import GRID_OPTIONS
        from weighting_pipeline.local.sweep import run as run_sweep

        options = {o: getattr(args, o) for o in GRID_OPTIONS}
        if not args.local:
            return run_sweep(args.week_range, options, not args.no_progress, args.csv)
        with LocalDynamoDB(db_path=STATE / "dynamodb") as db:
            local_env(db.endpoint)
            return run_sweep(args.week_range, options, not args.no_progress, args.csv)
    if args.command == "weights" and not args.local:
        return 0 if print_weights(args.week or latest_complete_week()) else 1
    if args.command == "unpublish":
        import getpass

        by = args.by if args.by is not None else getpass.getuser()
        if not args.local:
            return run_unpublish(args.week, args.reason, by)
        os.environ["DAGSTER_HOME"] = str(STATE / "dagster_home")
        with LocalDynamoDB(db_path=STATE / "dynamodb") as db:
            local_env(db.endpoint)
            return run_unpublish(args.week, args.reason, by)

    backend = getattr(args, "backend", "auto")
    with LocalDynamoDB(backend=backend, db_path=STATE / "dynamodb") as db:
        local_env(db.endpoint)
        print(f"Local DynamoDB ({db.kind}) at {db.endpoint}, data in {STATE / 'dynamodb'}")
        setup_tables()
        week = latest_complete_week()
        if args.command == "weights":
            return 0 if print_weights(args.week or week) else 1
        seeded = seed_demo_ledger(week, reseed=getattr(args, "reseed", False))
        print(f"demo ledger: {'seeded ' + str(seeded) + ' closed lots' if seeded else 'already seeded'}")
        if args.command == "ui":
            print(f"Dagster UI on http://127.0.0.1:{args.port} (Ctrl-C to stop)")
            cmd = [sys.executable, "-m", "dagster", "dev", "-h", "127.0.0.1", "-p", str(args.port), "-w", str(ROOT / "workspace.yaml")]
            # The dev stage's schedule starts STOPPED; the local UI is a demo of the running product.
            env = {**os.environ, "SCHEDULE__DEFAULT_STATUS": os.environ.get("SCHEDULE__DEFAULT_STATUS", "RUNNING")}
            # Run from DAGSTER_HOME, where dagster.yaml was copied, so Dagster finds one instance config.
            return run_until_stopped(cmd, cwd=os.environ["DAGSTER_HOME"], env=env)
        first, last = demo_range(week)
        print(f"Materialising weeks {first}..{last} in one run, then tilt_report, through Dagster (DAGSTER_HOME={os.environ['DAGSTER_HOME']}) ...")
        report = materialize(first, last, "DEBUG" if getattr(args, "debug", False) else "INFO")
        if report is None:
            return 1
        if not print_weights(week):
            return 1
        print_verdict(report)
        return 0
