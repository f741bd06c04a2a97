"""The weekly job and its schedule.

The schedule ticks at every partition end (Sunday 18:00 New York) and
materialises the week that just ended; those weights apply to the week ahead.
Its default status is the deployment's (see ``definitions.DEPLOYMENTS``).
"""

import dagster as dg

WEIGHTING_JOB = "weekly_weighting_job"
REPORT_JOB = "tilt_report_job"
SCHEDULE = "weekly_weighting_schedule"
SCHEDULED_PRIORITY = "10"

weekly_weighting_job = dg.define_asset_job(
    WEIGHTING_JOB,
    selection=dg.AssetSelection.groups("weighting"),
    description="closed_lots -> daily_returns -> sharpe_ratios -> multipliers -> dynamic_weights for a week or a range.",
    tags={"team": "quant-platform"},
)

tilt_report_job = dg.define_asset_job(
    REPORT_JOB,
    selection=dg.AssetSelection.groups("analysis"),
    description="tilt_report: the tilt's verdict over every week that has a backtest (after a backfill or a week).",
    tags={"team": "quant-platform"},
)


def weekly_weighting_schedule(default_status: dg.DefaultScheduleStatus) -> dg.ScheduleDefinition:
    """The weekly schedule, RUNNING or STOPPED when a Dagster instance first sees it."""
    return dg.build_schedule_from_partitioned_job(
        weekly_weighting_job,
        name=SCHEDULE,
        default_status=default_status,
        description="Sunday 18:00 America/New_York: weights for the week ahead.",
        # The queued run coordinator dequeues higher priorities first: the weekly run
        # never waits behind queued audit backfills (deploy/dagster.yaml).
        tags={"dagster/priority": SCHEDULED_PRIORITY},
    )
