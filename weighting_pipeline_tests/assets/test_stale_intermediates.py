"""An asset never reads an upstream computed under other settings, another baseline or other code.

Intermediates used to be stored per asset and week only, so materialising
``dynamic_weights`` alone after a settings change read multipliers computed with
the old settings and stamped the new parameters on the result.
"""

import json
from unittest import mock

import dagster as dg
import pytest

from weighting_pipeline.assets.code_versions import CODE_VERSIONS
from weighting_pipeline.core.baseline import packaged_config_path
from weighting_pipeline_devtools.processes import materialize_command
from weighting_pipeline_tests.conftest import run_chain_in_dagster
from weighting_pipeline_tests.stored_weeks import stored_weeks

pytestmark = [pytest.mark.dynamodb, pytest.mark.dagster]

KEY = "2026-03-01"
UPSTREAM = ["closed_lots", "daily_returns", "sharpe_ratios", "multipliers"]
WHAT_IF = {"resources": {"settings": {"config": {"min_multiplier": 0.8}}}}


@pytest.fixture
def store(monkeypatch, tmp_path):
    path = tmp_path / "store"
    monkeypatch.setenv("INTERMEDIATES__BASE_PATH", str(path))
    return path


def failure_message(result) -> str:
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    error = failure.event_specific_data.error
    return (error.cause or error).message


def test_weights_alone_under_other_settings_fail_and_say_to_start_from_closed_lots(ledger, tables, instance, store):
    assert run_chain_in_dagster(instance, partition_key=KEY, selection=UPSTREAM).success

    stale = run_chain_in_dagster(instance, partition_key=KEY, selection=["dynamic_weights"], run_config=WHAT_IF)
    assert not stale.success
    message = failure_message(stale)
    assert f"multipliers for weeks ['{KEY}'] was computed under other settings" in message
    assert "'min_multiplier': 0.8" in message and "materialize these weeks from closed_lots" in message
    assert not stale.asset_materializations_for_node("dynamic_weights")

    # Doing what it says works, and leaves the first computation in place beside it.
    assert run_chain_in_dagster(
        instance, partition_key=KEY, selection=[*UPSTREAM, "dynamic_weights"], run_config=WHAT_IF
    ).success
    assert len(list(store.glob(f"multipliers/*/{KEY}.parquet"))) == 2
    # And the environment's settings still find their own.
    assert run_chain_in_dagster(instance, partition_key=KEY, selection=["dynamic_weights"]).success
    assert stored_weeks(tables, [KEY])[KEY]["parameters"]["min_multiplier"] == 0.5


def test_another_baseline_file_does_not_read_the_old_baselines_intermediates(ledger, tables, instance, store, tmp_path):
    assert run_chain_in_dagster(instance, partition_key=KEY, selection=UPSTREAM).success
    # The same strategies, one allocation moved: what trading's next config deploy looks like.
    config = json.loads(packaged_config_path("prod").read_text())
    allocations = config["allocations"] if "allocations" in config else config
    first, second = list(allocations)[:2]
    step = min(allocations[first], allocations[second]) / 2
    allocations[first] -= step
    allocations[second] += step
    edited = tmp_path / "strategy.prod.json"
    edited.write_text(json.dumps(config))

    result = run_chain_in_dagster(
        instance, partition_key=KEY, selection=["dynamic_weights"], environ={"STRATEGY_CONFIG__PATH": str(edited)}
    )
    assert not result.success
    assert "baseline sha256" in failure_message(
        result
    ) and "materialize these weeks from closed_lots" in failure_message(result)


def test_a_change_to_an_assets_code_version_does_not_read_what_the_old_code_stored(ledger, tables, instance, store):
    assert run_chain_in_dagster(instance, partition_key=KEY, selection=UPSTREAM).success
    with mock.patch.dict(CODE_VERSIONS, {"multipliers": "edited-multipliers"}):
        result = run_chain_in_dagster(instance, partition_key=KEY, selection=["dynamic_weights"])
    assert not result.success
    assert "code version edited-multipliers" in failure_message(result)


def test_a_week_never_computed_still_says_to_materialize_it(ledger, tables, instance, store):
    result = run_chain_in_dagster(instance, partition_key=KEY, selection=["dynamic_weights"])
    assert not result.success
    assert f"multipliers has no stored data for weeks ['{KEY}']" in failure_message(result)


@pytest.mark.slow
def test_rewording_what_an_asset_shows_leaves_its_stored_weeks_usable_and_editing_its_code_does_not(
    ledger, tables, instance, store, tmp_path
):
    """Computation keys once hashed whole asset modules: rewording the Sharpe table in
    assets/sharpe_ratios.py made every stored Sharpe week invisible, and multipliers alone failed."""
    import os
    import shutil
    import subprocess
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    assert run_chain_in_dagster(instance, partition_key=KEY, selection=UPSTREAM[:3]).success  # up to sharpe_ratios

    def multipliers_alone_with(folder: str, edits: dict[str, tuple[str, str]]) -> subprocess.CompletedProcess:
        copy = tmp_path / folder
        shutil.copytree(
            repo / "weighting_pipeline", copy / "weighting_pipeline", ignore=shutil.ignore_patterns("__pycache__")
        )
        shutil.copy2(repo / "pyproject.toml", copy / "pyproject.toml")  # the project the defs-folder loader finds
        for name, (old, new) in edits.items():
            path = copy / "weighting_pipeline" / name
            assert old in path.read_text(), (name, old)
            path.write_text(path.read_text().replace(old, new))
        cmd = materialize_command("multipliers", "--partition", KEY)
        env = {**os.environ, "PYTHONPATH": str(copy), "DAGSTER_HOME": str(instance.root_directory)}
        return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)

    prose = {
        "assets/sharpe_ratios.py": (
            "too few lots or close dates",
            "too few lots or too few close dates",
        ),  # the description
        "assets/week_metadata.py": ('"Skipped because"', '"Skipped, because"'),  # the Markdown table
    }
    done = multipliers_alone_with("reworded", prose)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    code = {"assets/sharpe_ratios.py": ("frame = compute_sharpe(daily, params.sharpe)",
                                        "frame = compute_sharpe(daily, params.sharpe).copy()")}  # fmt: skip
    done = multipliers_alone_with("recoded", code)
    assert (
        done.returncode != 0
        and "computed under other settings, another baseline or other code" in done.stdout + done.stderr
    )
