"""The jobs, the weekly schedule, and the sensor that starts the analysis after a publication.

The schedule ticks at every partition end (Sunday 18:00 New York) and
materialises the week that just ended; those weights apply to the week ahead.
Its default status is the deployment's (see ``deployments.DEPLOYMENTS``).

The diagnostics (``tilt_backtest``, ``tilt_report``) are off the publishing path:
``analysis_after_publication`` starts ``analysis_job`` for the weeks a successful
run published, so their failure never fails or mislabels the publishing run, and
the report refreshes every week by itself.
"""

import dagster as dg

from weighting_pipeline.assets.common import ANALYSIS_GROUP, GROUP
from weighting_pipeline.history import materializations_of_runs

WEIGHTING_JOB = "weekly_weighting_job"
ANALYSIS_JOB = "analysis_job"
SCHEDULE = "weekly_weighting_schedule"
ANALYSIS_SENSOR = "analysis_after_publication"
AFTER_RUN_TAG = "weighting/after_run"  # on an analysis run: the publishing run it follows
SCHEDULED_PRIORITY = "10"

weekly_weighting_job = dg.define_asset_job(
    WEIGHTING_JOB,
    selection=dg.AssetSelection.groups(GROUP),
    description="closed_lots -> daily_returns -> sharpe_ratios -> multipliers -> dynamic_weights for a week or a range.",
    tags={"team": "quant-platform"},
)

analysis_job = dg.define_asset_job(
    ANALYSIS_JOB,
    selection=dg.AssetSelection.groups(ANALYSIS_GROUP),
    description="tilt_backtest for the weeks a run published, then tilt_report over every week with a backtest.",
    tags={"team": "quant-platform"},
)


def published_weeks(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The weeks whose ``dynamic_weights`` materialization in run ``run_id`` says ``published``, in order."""
    recorded = materializations_of_runs(instance, "dynamic_weights", [run_id])
    return sorted(week for (_, week), m in recorded.items() if m.metadata.get("published") is True)


@dg.run_status_sensor(
    name=ANALYSIS_SENSOR,
    run_status=dg.DagsterRunStatus.SUCCESS,
    request_job=analysis_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="After each successful run that published weeks, runs tilt_backtest for those weeks and tilt_report.",
)
def analysis_after_publication(context: dg.RunStatusSensorContext):
    run = context.dagster_run
    request = analysis_request(context.instance, run.run_id)
    return request or dg.SkipReason(f"run {run.run_id} published no week")


def analysis_request(instance: dg.DagsterInstance, run_id: str) -> dg.RunRequest | None:
    """The analysis run for the weeks run ``run_id`` published (None if it published none): one
    week, or one run over the span, as a single-run backfill is (the assets' backfill policy)."""
    weeks = published_weeks(instance, run_id)
    if not weeks:
        return None
    tags = {AFTER_RUN_TAG: run_id}
    if len(weeks) == 1:
        return dg.RunRequest(run_key=f"analysis:{run_id}", partition_key=weeks[0], tags=tags)
    tags.update({"dagster/asset_partition_range_start": weeks[0], "dagster/asset_partition_range_end": weeks[-1]})
    return dg.RunRequest(run_key=f"analysis:{run_id}", tags=tags)


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
