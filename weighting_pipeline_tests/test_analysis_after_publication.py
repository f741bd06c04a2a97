"""The diagnostics run after a publication, in a run of their own (``schedules.analysis_after_publication``)."""

from __future__ import annotations

import dagster as dg

from weighting_pipeline.alerts import messages
from weighting_pipeline.assets import ANALYSIS_ASSETS, CHAIN_ASSETS
from weighting_pipeline.deployments import build_resources
from weighting_pipeline.schedules import AFTER_RUN_TAG, analysis_after_publication
from weighting_pipeline.settings import WeightingSettings
from weighting_pipeline_devtools.demo_ledger import synthetic_ledger
from weighting_pipeline_tests.conftest import run_chain_in_dagster

WEEKS = ["2026-02-15", "2026-02-22", "2026-03-01", "2026-03-08"]
NOW = "2026-03-17T12:00:00-04:00"  # trading reads 03-08: a range run holds it back


def evaluate(instance, run_id: str):
    """The sensor's answer to the SUCCESS of ``run_id``, as the daemon would ask it."""
    run = instance.get_run_by_id(run_id)
    [event] = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_SUCCESS)
    context = dg.build_run_status_sensor_context(
        sensor_name="analysis_after_publication",
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=event.dagster_event,
    )
    return analysis_after_publication(context)


def test_a_range_run_is_followed_by_one_analysis_run_of_the_weeks_it_published(tables, baseline, instance):
    tables.read_only_ledger(synthetic_ledger(baseline.keys, "2025-10-01", "2026-03-31", 1.0, seed=4))
    published = run_chain_in_dagster(
        instance,
        partition_range=(WEEKS[0], WEEKS[-1]),
        now=NOW,
        selection=["closed_lots", "daily_returns", "sharpe_ratios", "multipliers", "dynamic_weights"],
    )
    assert published.success
    request = evaluate(instance, published.run_id)
    assert isinstance(request, dg.RunRequest)
    assert request.run_key == f"analysis:{published.run_id}" and request.tags[AFTER_RUN_TAG] == published.run_id
    assert request.tags["dagster/asset_partition_range_start"] == WEEKS[0]
    assert request.tags["dagster/asset_partition_range_end"] == WEEKS[2]  # the live week was not published

    # The requested run: the backtest of those weeks, then the report, in one run.
    analysis = dg.materialize(
        [*CHAIN_ASSETS, *ANALYSIS_ASSETS],
        selection=ANALYSIS_ASSETS,
        instance=instance,
        tags=request.tags,
        raise_on_error=False,
        resources=build_resources(WeightingSettings.from_env()),
    )
    assert analysis.success
    backtested = instance.fetch_materializations(dg.AssetKey("tilt_backtest"), limit=10).records
    assert sorted(r.partition_key for r in backtested if r.run_id == analysis.run_id) == WEEKS[:3]
    [report] = instance.fetch_materializations(dg.AssetKey("tilt_report"), limit=1).records
    assert report.run_id == analysis.run_id

    # The analysis run publishes nothing, so it is not followed by another.
    assert isinstance(evaluate(instance, analysis.run_id), dg.SkipReason)


def test_a_run_that_published_nothing_starts_no_analysis(tables, baseline, instance):
    tables.read_only_ledger(synthetic_ledger(baseline.keys, "2025-10-01", "2026-03-31", 1.0, seed=4))
    what_if = run_chain_in_dagster(
        instance,
        partition_key=WEEKS[0],
        now=NOW,
        selection=["closed_lots", "daily_returns", "sharpe_ratios", "multipliers", "dynamic_weights"],
        run_config={"resources": {"settings": {"config": {"lookback_days": 60}}}},
    )
    assert what_if.success
    skipped = evaluate(instance, what_if.run_id)
    assert isinstance(skipped, dg.SkipReason) and "published no week" in skipped.skip_message


def test_a_failed_analysis_run_does_not_claim_trading_kept_last_weeks_weights():
    common = dict(stage="prod", weeks="2026-03-01", run_id="r", step="tilt_backtest", error="boom", webserver_url=None)
    publishing = messages.run_failure(job="weekly_weighting_job", **common)
    diagnostics = messages.run_failure(job="analysis_job", publishes=False, **common)
    assert "Trading keeps the last published week" in publishing.body
    assert "Trading keeps" not in diagnostics.body and "published weights are unaffected" in diagnostics.body
