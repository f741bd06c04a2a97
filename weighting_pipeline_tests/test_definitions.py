import dagster as dg
import pytest

from weighting_pipeline.settings import SettingsError, WeightingSettings
from weighting_pipeline_tests.conftest import build_definitions

CHAIN = ["closed_lots", "daily_returns", "sharpe_ratios", "multipliers", "dynamic_weights"]
ASSETS = [*CHAIN, "tilt_backtest"]


@pytest.fixture(scope="module")
def defs():
    return build_definitions({"APP__STAGE": "prod"})


def test_definitions_load_with_the_chain(defs):
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == {*ASSETS, "tilt_report"}
    for upstream, downstream in zip(CHAIN, CHAIN[1:]):
        parents = {p.to_user_string() for p in graph.get(dg.AssetKey(downstream)).parent_keys}
        assert parents == {upstream}
    # The backtest scores week J on J's lots with what was published of J-1 and J-2.
    backtest = dg.AssetKey("tilt_backtest")
    assert {p.to_user_string() for p in graph.get(backtest).parent_keys} == {"closed_lots", "dynamic_weights"}
    earlier = graph.get_partition_mapping(backtest, dg.AssetKey("dynamic_weights"))
    weeks = graph.get(backtest).partitions_def
    upstream = earlier.get_upstream_mapped_partitions_result_for_partitions(
        weeks.subset_with_partition_keys(["2026-03-15"]), weeks, weeks
    ).partitions_subset
    assert sorted(upstream.get_partition_keys()) == ["2026-03-01", "2026-03-08"]
    specs = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    for name in ASSETS:
        spec = specs[name]
        assert spec.description and spec.kinds and spec.owners == ["team:quant-platform"]
        assert spec.partitions_def.get_partition_keys()[0] == "2020-01-05"
    job = defs.resolve_job_def("weekly_weighting_job")
    assert job.partitions_def is not None
    # The report judges every stored week at once: unpartitioned, in its own group and job.
    report = specs["tilt_report"]
    assert report.partitions_def is None and report.group_name == "analysis" and report.description
    assert {p.to_user_string() for p in graph.get(dg.AssetKey("tilt_report")).parent_keys} == {"tilt_backtest"}
    # The diagnostics are off the publishing path: their own job, started by a sensor after a publication.
    assert {k.to_user_string() for k in job.asset_layer.selected_asset_keys} == set(CHAIN)
    assert {k.to_user_string() for k in defs.resolve_job_def("analysis_job").asset_layer.selected_asset_keys} == {
        "tilt_backtest",
        "tilt_report",
    }
    assert specs["tilt_backtest"].group_name == "analysis"
    assert defs.resolve_sensor_def("analysis_after_publication").job_name == "analysis_job"


def test_every_asset_backfills_in_a_single_run(defs):
    graph = defs.resolve_asset_graph()
    for name in ASSETS:
        assert graph.get(dg.AssetKey(name)).backfill_policy == dg.BackfillPolicy.single_run()


@pytest.mark.parametrize(
    "tick, expected_key",
    [
        ("2026-03-08 18:00", "2026-03-01"),  # spring forward: the 167 h week just ended
        ("2026-03-15 18:00", "2026-03-08"),
        ("2026-11-01 18:00", "2026-10-25"),  # fall back: the 169 h week just ended
        ("2026-11-08 18:00", "2026-11-01"),
    ],
)
def test_schedule_ticks_at_1800_new_york_for_the_week_that_ended(defs, tick, expected_key):
    schedule = defs.resolve_schedule_def("weekly_weighting_schedule")
    assert schedule.cron_schedule == "0 18 * * 0" and schedule.execution_timezone == "America/New_York"
    import pandas as pd

    when = pd.Timestamp(tick, tz="America/New_York").to_pydatetime()
    result = schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=when))
    assert [r.partition_key for r in result.run_requests] == [expected_key]
    # The run queue dequeues higher priorities first: scheduled runs go before queued backfills.
    assert [r.tags.get("dagster/priority") for r in result.run_requests] == ["10"]


def test_alert_sensors_run_by_default_and_the_weights_have_a_freshness_deadline(defs):
    sensors = {s.name: s for s in defs.sensors}
    assert set(sensors) == {
        "alert_on_run_failure",
        "alert_on_missed_week",
        "alert_on_live_week_warnings",
        "alert_on_warn_checks",
        "analysis_after_publication",
    }
    assert all(s.default_status == dg.DefaultSensorStatus.RUNNING for s in sensors.values())
    assert all("alerts" in s.required_resource_keys for name, s in sensors.items() if name.startswith("alert_on_"))
    policy = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}["dynamic_weights"].freshness_policy
    assert (policy.deadline_cron, policy.timezone, policy.lower_bound_delta.total_seconds()) == (
        "0 20 * * 0",
        "America/New_York",
        7200,
    )


def test_the_projects_schedule_fires_at_1800_new_york_across_dst_for_the_week_that_ended(defs):
    """A year of the project's own schedule's ticks, each evaluated: Sunday 18:00 New York in both
    offsets, each asking for the week that ended at that tick."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    # Test-only internal: the iterator the scheduler itself uses for cron ticks (no public equivalent).
    from dagster._utils.schedules import cron_string_iterator

    schedule = defs.resolve_schedule_def("weekly_weighting_schedule")
    ny = ZoneInfo(schedule.execution_timezone)
    start = datetime(2026, 1, 1, tzinfo=ny).timestamp()
    ticks = cron_string_iterator(start, schedule.cron_schedule, schedule.execution_timezone)
    got = [next(ticks) for _ in range(53)]
    assert all(t.astimezone(ny).hour == 18 and t.astimezone(ny).weekday() == 6 for t in got)
    assert {t.astimezone(ZoneInfo("UTC")).hour for t in got} == {22, 23}  # EDT and EST
    for tick in got:
        result = schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=tick))
        week_start = (tick.astimezone(ny) - timedelta(days=7)).date().isoformat()
        assert [r.partition_key for r in result.run_requests] == [week_start], tick


@pytest.mark.parametrize(
    "environ, problem",
    [
        ({"LOOKBACK_DAYS": "ninety"}, "LOOKBACK_DAYS='ninety'"),
        ({"LOOKBACK_DAYS": "-5"}, "lookback_days"),
        ({"LOOKBACK_DAYS": "0"}, "lookback_days"),
        ({"LOOKBACK_DAYS": "90.5"}, "LOOKBACK_DAYS='90.5'"),
        ({"MIN_MULTIPLIER": "0"}, "min_multiplier"),
        ({"MIN_MULTIPLIER": "-0.5"}, "min_multiplier"),
        ({"RISK_FREE_RATE": "nan"}, "risk_free_rate"),
        ({"RISK_FREE_RATE": "4.5%"}, "RISK_FREE_RATE='4.5%'"),
        ({"MIN_MULTIPLIER": "1.5"}, "min_multiplier"),
        ({"MAX_MULTIPLIER": "0.5"}, "max_multiplier"),
        ({"RISK_FREE_RATE": "inf"}, "risk_free_rate"),
        ({"APP__STAGE": "qa"}, "APP__STAGE='qa'"),
        ({"SCORE": "omega"}, r"score must be one of sharpe, sortino, calmar, got 'omega' \(from SCORE\)"),
        ({"MISSING_DAYS": "fill"}, r"missing_days must be one of skip, zero, got 'fill' \(from MISSING_DAYS\)"),
        ({"PNL_DATE": "fill"}, r"pnl_date must be one of close, exit, got 'fill' \(from PNL_DATE\)"),
        (
            {"NOISE_ALPHA": "1"},
            r"noise_alpha must be a probability strictly between 0 and 1, got 1.0 \(from NOISE_ALPHA\)",
        ),
        ({"NOISE_ALPHA": "5%"}, "NOISE_ALPHA='5%'"),
        ({"COST_BPS": "-1"}, r"cost_bps must be a finite number of basis points >= 0, got -1.0 \(from COST_BPS\)"),
        (
            {"RETURN_BASIS": "capital"},
            r"return_basis must be one of lot, deployed, market, got 'capital' \(from RETURN_BASIS\)",
        ),
        # PNL_DATE left at its default is named too: it is half of the bad combination.
        (
            {"RETURN_BASIS": "deployed"},
            r"return_basis=deployed requires pnl_date=exit, got pnl_date=close \(from PNL_DATE, RETURN_BASIS\)",
        ),
        (
            {"RETURN_BASIS": "deployed", "PNL_DATE": "close"},
            r"requires pnl_date=exit, got pnl_date=close \(from PNL_DATE, RETURN_BASIS\)",
        ),
    ],
)
def test_bad_settings_fail_at_load_naming_the_variable(environ, problem):
    with pytest.raises((SettingsError, ValueError), match=problem):
        build_definitions(environ)


@pytest.mark.parametrize(
    "others",
    [
        {},
        {"STRATEGY_CONFIG__PATH": "/nowhere/strategy.json"},
        {"STRATEGY_CONFIG__PATH": "s3://bucket/strategy.json", "SCHEDULE__DEFAULT_STATUS": "RUNNING"},
    ],
)
def test_a_bad_stage_is_named_whatever_else_is_set(others):
    """With STRATEGY_CONFIG__PATH set, the stage once went unchecked until DEPLOYMENTS[stage]: a bare KeyError."""
    with pytest.raises(
        SettingsError, match="APP__STAGE='bogus' is not a known stage; expected one of dev, staging, prod"
    ):
        build_definitions({"APP__STAGE": "bogus", **others})


def test_each_place_a_stage_is_looked_up_names_a_bad_one():
    from weighting_pipeline.core.baseline import BaselineConfigError, packaged_config_path, stage_file
    from weighting_pipeline.deployments import build_resources, deployment_of, schedule_status

    for lookup in (stage_file, packaged_config_path):
        with pytest.raises(BaselineConfigError, match="APP__STAGE='bogus'"):
            lookup("bogus")
    for lookup in (deployment_of, lambda stage: schedule_status(stage, {})):
        with pytest.raises(SettingsError, match="APP__STAGE='bogus'"):
            lookup("bogus")
    with pytest.raises(SettingsError, match="APP__STAGE='bogus'"):  # settings made by hand, not from the environment
        build_resources(WeightingSettings(stage="bogus", strategy_config_path="/x.json"), environ={})


def test_settings_from_env_parse_values():
    s = WeightingSettings.from_env(
        {
            "LOOKBACK_DAYS": "60",
            "RISK_FREE_RATE": "0.03",
            "APP__STAGE": "staging",
            "SCORE": "calmar",
            "MISSING_DAYS": "zero",
            "PNL_DATE": "exit",
        }
    )
    assert s.params().lookback_days == 60 and s.params().risk_free_rate == 0.03 and s.stage == "staging"
    assert (s.params().score, s.params().missing_days, s.params().pnl_date) == ("calmar", "zero", "exit")
    assert WeightingSettings.from_env({}).params().pnl_date == "close"  # today's rule by default


@pytest.mark.parametrize(
    "environ, status",
    [
        ({"APP__STAGE": "prod"}, "RUNNING"),
        ({"APP__STAGE": "staging"}, "RUNNING"),
        ({"APP__STAGE": "dev"}, "STOPPED"),
        ({"APP__STAGE": "dev", "SCHEDULE__DEFAULT_STATUS": "running"}, "RUNNING"),  # what the local UI sets
        ({"APP__STAGE": "prod", "SCHEDULE__DEFAULT_STATUS": "STOPPED"}, "STOPPED"),
    ],
)
def test_the_schedule_runs_by_default_in_prod_and_staging_only(environ, status):
    schedule = build_definitions(environ).resolve_schedule_def("weekly_weighting_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus[status]


def test_a_bad_schedule_status_fails_naming_the_variable():
    with pytest.raises(SettingsError, match="SCHEDULE__DEFAULT_STATUS='PAUSED' must be RUNNING or STOPPED"):
        build_definitions({"SCHEDULE__DEFAULT_STATUS": "paused"})


def test_every_asset_declares_the_code_version_of_its_math(defs):
    from weighting_pipeline.assets.code_versions import CODE_VERSIONS

    graph = defs.resolve_asset_graph()
    assert {name: graph.get(dg.AssetKey(name)).code_version for name in ASSETS} == CODE_VERSIONS


def test_asset_descriptions_keep_formulas_in_code_spans(defs):
    # The UI renders descriptions as Markdown: a bare `k*b_i*m_i` loses its asterisks to italics.
    import re

    for spec in defs.resolve_all_asset_specs():
        prose = re.sub(r"`[^`]*`", "", spec.description)
        assert "*" not in prose and "_i" not in prose, (spec.key, prose)


def test_loading_the_definitions_prints_no_preview_or_beta_warning_but_others_still_show():
    import subprocess
    import sys

    code = (
        "import warnings, dagster as dg\n"
        "import weighting_pipeline.definitions\n"
        "warnings.warn('another beta feature', dg.BetaWarning)\n"
    )
    done = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "PreviewWarning" not in done.stderr and "backfill_policy" not in done.stderr
    assert "BetaWarning: another beta feature" in done.stderr


def test_each_setting_is_declared_once_with_the_cores_default_and_its_variable():
    """ENV_VARS, WeightingSettings and WeightingParams once declared every setting three times;
    now core.params.ParamFields declares each parameter and the others take it from there."""
    from weighting_pipeline.core.chain import WeightingParams
    from weighting_pipeline.settings import ENV_VARS, PARAMS

    # What the launchpad offers as the settings resource's run config: every parameter,
    # with the core's default and description, and nothing the core does not take.
    config = WeightingSettings().get_resource_definition().config_schema.config_type.fields
    defaults = WeightingParams().as_dict()
    for name in PARAMS:
        assert config[name].default_value == defaults[name], name
        assert config[name].description, name
    assert set(config) - set(PARAMS) == {"stage", "strategy_config_path", "compare_policies"}

    assert WeightingSettings().params() == WeightingParams()  # the defaults are the core's
    assert set(PARAMS) <= set(ENV_VARS) and len({var for var, _ in ENV_VARS.values()}) == len(ENV_VARS)
    changed = WeightingSettings.from_env(
        {"LOOKBACK_DAYS": "60", "MAPPING": "median_power", "SMOOTHING": "0.5"}
    ).params()
    assert (changed.lookback_days, changed.mapping, changed.smoothing) == (60, "median_power", 0.5)
