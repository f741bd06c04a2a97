"""The weekly job and its schedule.

The schedule ticks at every partition end (Sunday 18:00 New York) and
materialises the week that just ended; those weights apply to the week ahead.
"""

import dagster as dg

WEIGHTING_JOB = "weekly_weighting_job"

weekly_weighting_job = dg.define_asset_job(
    WEIGHTING_JOB,
    selection=dg.AssetSelection.groups("weighting"),
    description="closed_lots -> daily_returns -> sharpe_ratios -> multipliers -> dynamic_weights for a week or a range.",
    tags={"team": "quant-platform"},
    executor_def=dg.in_process_executor,  # linear chain: see definitions.py
)

weekly_weighting_schedule = dg.build_schedule_from_partitioned_job(
    weekly_weighting_job,
    name="weekly_weighting_schedule",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Sunday 18:00 America/New_York: weights for the week ahead.",
)
