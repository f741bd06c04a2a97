"""The demo's steps, run in a process the ``demo``, ``ui`` and ``stack`` commands start
with the environment of the embedded servers (``devtools.local_env``).

``python -m weighting_pipeline_devtools.demo run``: create the tables, seed the demo
ledger, write its symbols' daily bars to an embedded S3 (moto's server) as trading's
``MarketDataStore`` writes them, materialise its last ``DEMO_WEEKS`` weeks on the
``market`` return basis (unless ``RETURN_BASIS`` says otherwise), then ``tilt_report``,
through Dagster, and print the latest week's weights and the tilt's verdict.
``... seed [--days N]``: the tables and the ledger only.
"""

from __future__ import annotations

import os
import sys

import click
import pandas as pd

DEMO_WEEKS = 18  # the demo ledger's weeks whose 90-day windows it covers, plus the one before
DEMO_BUCKET = "market-data-local"


def demo_ledger(latest_week: str, days: int = 210):
    """The demo's ledger and bars (``devtools.holding_ledger``): each baseline strategy
    trades a symbol of its own, one lot a session held 5 to 20 sessions, with a
    persistent drift of its own (skill, by construction), up to ``latest_week``'s end."""
    import numpy as np

    from weighting_pipeline.settings import WeightingSettings
    from weighting_pipeline_devtools.holding_ledger import holding_ledger

    baseline = WeightingSettings.from_env().baseline()
    end = pd.Timestamp(latest_week) + pd.Timedelta(days=8)
    drift = np.random.default_rng(11).normal(0.0003, 0.0015, len(baseline.keys))
    return holding_ledger(
        baseline.keys, str((end - pd.Timedelta(days=days)).date()), str(end.date()), drift=drift, seed=11
    )


def seed_demo_ledger(latest_week: str, reseed: bool = False, days: int = 210) -> int:
    """Seed ``days`` of lots (~7 months) up to ``latest_week`` for the baseline strategies, once,
    in the trading system's item format; returns the number of fully closed lots written
    (0 when the ledger already holds the first strategy's lots and ``reseed`` is false)."""
    from weighting_pipeline.resources.dynamodb import DynamoDBResource
    from weighting_pipeline.resources.table_schema import GSI5
    from weighting_pipeline.settings import WeightingSettings
    from weighting_pipeline_devtools.demo_ledger import seed_ledger

    table_name = os.environ["TRADE_LEDGER__TABLE_NAME"]
    baseline = WeightingSettings.from_env().baseline()
    first = next(iter(baseline.stems))
    seeded = (
        DynamoDBResource()
        .get_client()
        .query(
            TableName=table_name,
            IndexName=GSI5,
            KeyConditionExpression="GSI5PK = :pk",
            ExpressionAttributeValues={":pk": {"S": f"STRATEGY_LOTS#{first}"}},
            Limit=1,
        )["Items"]
    )
    if seeded and not reseed:
        return 0
    ledger = demo_ledger(latest_week, days).ledger
    seed_ledger(table_name, ledger)
    return len(ledger.lots)


def demo_range(latest_week: str, weeks: int = DEMO_WEEKS) -> tuple[str, str]:
    """The first and last week the demo materialises (``weeks`` of them, ending at ``latest_week``)."""
    return str((pd.Timestamp(latest_week) - pd.Timedelta(weeks=weeks - 1)).date()), latest_week


def materialize(first: str, last: str, log_level: str = "INFO") -> dict | None:
    """Run the weekly job for the weeks ``first..last`` in this process (the weeks before
    ``last`` as one range run, then ``last`` alone), then the analysis job over them, as
    the daemon's ``analysis_after_publication`` sensor would; the step log is shown at
    ``log_level``. Returns ``tilt_report``'s metadata, or None (having said which run failed)."""
    import dagster as dg

    from weighting_pipeline.core.calendar import previous_key
    from weighting_pipeline.definitions import defs as load_definitions
    from weighting_pipeline.schedules import ANALYSIS_JOB, WEIGHTING_JOB

    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    span = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    defs = load_definitions()  # as the code location loads them, from this process's environment
    with dg.DagsterInstance.get() as instance:
        # The history as one range run, then the live week alone, as the schedule runs it:
        # a range run never publishes a week trading reads now (core.publication_rules).
        runs = (
            [{**span, "dagster/asset_partition_range_end": previous_key(last)}, {"dagster/partition": last}]
            if first < last
            else [{"dagster/partition": last}]
        )
        for tags in runs:
            chain = defs.resolve_job_def(WEIGHTING_JOB).execute_in_process(
                instance=instance, tags=tags, raise_on_error=False, run_config=run_config
            )
            if not chain.success:
                print(
                    "The weekly run failed; see the Dagster logs above. "
                    f"`weighting-pipeline audit --local --range {first}...{last} --against-table` shows what reached the table."
                )
                return None
        analysis_tags = span if first < last else {"dagster/partition": last}
        analysis = defs.resolve_job_def(ANALYSIS_JOB).execute_in_process(
            instance=instance, tags=analysis_tags, raise_on_error=False, run_config=run_config
        )
        if not analysis.success:
            print("The analysis run failed; see the Dagster logs above. The weeks themselves were published.")
            return None
        event = instance.get_latest_materialization_event(dg.AssetKey("tilt_report"))
        return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def print_verdict(report: dict) -> None:
    """The tilt's verdict from ``tilt_report``'s metadata."""
    print(f"\n{report['verdict']}.")
    naive = report.get("naive/cumulative_growth")
    print(
        (f"The naive b*m renormalisation grew 1 to {naive:.4f}. " if naive is not None else "")
        + "Numbers, table and chart: asset tilt_report in ./run.sh ui."
    )


def _tables_and_ledger(week: str, reseed: bool, days: int) -> None:
    from weighting_pipeline.ops.tables import setup_tables

    setup_tables()
    seeded = seed_demo_ledger(week, reseed=reseed, days=days)
    print(
        f"demo ledger: {'seeded ' + str(seeded) + ' closed lots' if seeded else 'already seeded'} up to week {week}",
        flush=True,
    )


@click.group()
def main() -> None:
    """The demo's steps, in the environment the calling command set up."""


@main.command()
@click.option("--reseed", is_flag=True, help="Write the demo ledger again.")
@click.option("--days", default=210, show_default=True, help="Days of lots up to the latest week.")
def seed(reseed: bool, days: int) -> None:
    """Create the tables and seed the demo ledger."""
    from weighting_pipeline.core.calendar import latest_complete_week

    _tables_and_ledger(latest_complete_week(), reseed, days)


@main.command()
@click.option("--reseed", is_flag=True, help="Write the demo ledger again.")
@click.option("--debug", is_flag=True, help="Show Dagster's DEBUG events too.")
def run(reseed: bool, debug: bool) -> None:
    """Seed, materialise the demo's weeks and tilt_report, print the latest week and the verdict."""
    from weighting_pipeline.core.calendar import latest_complete_week
    from weighting_pipeline.ops.weights import print_weights
    from weighting_pipeline_devtools.holding_ledger import write_bars
    from weighting_pipeline_devtools.moto_server import LocalAWS

    week = latest_complete_week()
    _tables_and_ledger(week, reseed, 210)
    first, last = demo_range(week)
    with LocalAWS() as aws:  # trading's bars bucket, embedded
        os.environ.update({"AWS_ENDPOINT_URL_S3": aws.endpoint, "MARKET_DATA_BUCKET": DEMO_BUCKET})
        os.environ.setdefault("RETURN_BASIS", "market")
        written = len(write_bars(demo_ledger(week), DEMO_BUCKET))
        print(
            f"daily bars: {written} symbols written to s3://{DEMO_BUCKET} (moto at {aws.endpoint}) as trading's MarketDataStore writes them; "
            f"RETURN_BASIS={os.environ['RETURN_BASIS']}",
            flush=True,
        )
        print(
            f"Materialising weeks {first}..{last} (a range run, then the latest week alone), then tilt_report, through Dagster (DAGSTER_HOME={os.environ['DAGSTER_HOME']}) ..."
        )
        report = materialize(first, last, "DEBUG" if debug else "INFO")
    if report is None or not print_weights(week):
        sys.exit(1)
    print_verdict(report)


if __name__ == "__main__":
    main()
