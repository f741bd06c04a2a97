"""Every week records how it was computed, and a recomputation that differs from what was published is flagged."""

import hashlib
import json
import re
import subprocess
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest

import weighting_pipeline.settings as settings_module
from weighting_pipeline.assets.code_versions import CHAIN_CODE_VERSION, CODE_VERSIONS
from weighting_pipeline.core.baseline import packaged_config_path
from weighting_pipeline.dagster_internals import (
    PartitionKeyFilter,  # no public way to filter the event log by partition
)
from weighting_pipeline.publication.weights_hash import weights_sha256
from weighting_pipeline_devtools.demo_ledger import synthetic_ledger
from weighting_pipeline_tests.conftest import run_chain_in_dagster, seed_ledger
from weighting_pipeline_tests.stored_weeks import stored_weeks

REPO = Path(__file__).resolve().parents[2]

WEEK = "2026-03-01"
WEEKS = ["2026-02-22", "2026-03-01", "2026-03-08"]
RESTATEMENT = dg.AssetCheckKey(dg.AssetKey("dynamic_weights"), "matches_earlier_publication")


@pytest.fixture
def lots(tables, baseline):
    ledger = synthetic_ledger(baseline.keys, "2025-10-01", "2026-03-31", 1.0, seed=4)
    seed_ledger(tables["ledger"], ledger)
    return ledger.lots


def latest(instance, week=WEEK):
    record = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("dynamic_weights"), asset_partitions=[week]), limit=1
    ).records[0]
    return record, {k: v.value for k, v in record.asset_materialization.metadata.items()}


def restatement(instance, week=WEEK):
    """(passed, metadata, description) of the week's latest matches_earlier_publication evaluation."""
    record = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [RESTATEMENT], partition_filter=PartitionKeyFilter(key=week)
    )[RESTATEMENT]
    evaluation = record.event.dagster_event.event_specific_data
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    return evaluation.passed, {k: v.value for k, v in evaluation.metadata.items()}, evaluation.description


def test_each_week_and_its_item_record_the_provenance(lots, tables, instance, baseline):
    result = run_chain_in_dagster(instance, partition_key=WEEK)
    assert result.success
    record, meta = latest(instance)
    item = stored_weeks(tables, [WEEK])[WEEK]
    weights = {s: float(w) for s, w in item["weights"].items()}
    packaged = packaged_config_path("prod")

    assert meta["weights_sha256"] == item["weights_sha256"] == weights_sha256(weights)
    assert (
        meta["weights_sha256"]
        == hashlib.sha256(json.dumps(weights, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    )
    assert (
        meta["baseline_file"]
        == item["baseline_file"]
        == meta["baseline_uri"]
        == item["baseline_uri"]
        == "strategy.prod.json"
    )
    assert meta["baseline_version"] == item["baseline_version"] == "none: local file"
    assert meta["baseline_sha256"] == item["baseline_sha256"] == hashlib.sha256(packaged.read_bytes()).hexdigest()
    assert meta["code_version"] == item["code_version"] == CHAIN_CODE_VERSION
    assert meta["ledger_index"] == item["ledger_index"] == "GSI5-StrategyLotsIndex"  # the trading system's index
    # The version setuptools-scm took from git at install, naming a commit of this repository.
    assert meta["package_version"] == item["package_version"]
    commit = re.fullmatch(r"\d+\.\d+(?:\.\d+)?(?:\.dev\d+\+g([0-9a-f]{7,40})(?:\.d\d{8})?)?", item["package_version"])
    assert commit, item["package_version"]
    if commit.group(1):
        assert subprocess.run(["git", "cat-file", "-e", f"{commit.group(1)}^{{commit}}"], cwd=REPO).returncode == 0
    # The lock the environment was installed from (./run.sh setup does, as the image build does).
    assert (
        meta["lock_sha256"]
        == item["lock_sha256"]
        == hashlib.sha256((REPO / "requirements.lock").read_bytes()).hexdigest()
    )
    assert meta["run_id"] == item["run_id"] == result.run_id == record.run_id
    assert meta["parameters"] == {
        "lookback_days": 90,
        "risk_free_rate": 0.045,
        "min_lots": 5,
        "min_days": 5,
        "min_multiplier": 0.5,
        "max_multiplier": 2.0,
        "turnover_warn": 0.2,
        "noise_alpha": 0.05,
        "cost_bps": 0.0,
        "missing_days": "skip",
        "score": "sharpe",
        "pnl_date": "close",
        "return_basis": "lot",
        "mapping": "minmax",
        "mapping_alpha": 0.5,
        "sleeves": "none",
        "score_shrinkage": "none",
        "smoothing": 1.0,
        "smoothing_start": "2020-01-05",
        "policy": "none",
    }
    assert meta["market_data"] == {} and "market_data" not in item  # the lot basis marks nothing to market
    assert item["target_weights"] == item["weights"]  # no smoothing: the targets are the weights
    assert item["parameters"]["lookback_days"] == Decimal(90) and item["parameters"]["score"] == "sharpe"
    # Dagster records each asset's declared code version with its materialization.
    for asset, version in CODE_VERSIONS.items():
        mat = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[WEEK]), limit=1
        ).records[0]
        assert mat.asset_materialization.tags["dagster/code_version"] == version
    # The per-strategy table an auditor exports: one entry per strategy with the numbers behind its weight.
    assert set(meta["allocation"]) == set(baseline.keys)
    assert {s: a["weight"] for s, a in meta["allocation"].items()} == weights


def test_a_recomputation_is_compared_with_the_earlier_publication(lots, tables, instance, baseline, tmp_path):
    assert run_chain_in_dagster(instance, partition_key=WEEK).success
    passed, meta, description = restatement(instance)
    assert passed and meta["status"] == "first publication" and description.endswith("first publication")

    first = run_chain_in_dagster(instance, partition_key=WEEK)
    assert first.success
    passed, meta, _ = restatement(instance)
    assert passed and meta["status"] == "identical" and meta["differing_fields"] == "none"

    # A new baseline: the week is restated, and the check says what moved and why.
    config = json.loads(packaged_config_path("prod").read_text())
    config["allocations"] = {**config["allocations"], "gold.clj": 0.035, "ftlt/tqqq_ftlt_2.clj": 0.147}
    path = tmp_path / "strategy.new.json"
    path.write_text(json.dumps(config))
    run = run_chain_in_dagster(
        instance, partition_key=WEEK, environ={"APP__STAGE": "prod", "STRATEGY_CONFIG__PATH": str(path)}
    )
    assert run.success  # a WARN: the week is still published
    passed, meta, description = restatement(instance)
    assert not passed and meta["status"] == "restated"
    assert "baseline_sha256" in meta["differing_fields"] and "parameters" not in meta["differing_fields"]
    assert meta["earlier_run_id"] == first.run_id
    assert 0 < meta["largest_change"] < 1 and "gold.clj" in meta["moved"] and "ftlt/tqqq_ftlt_2.clj" in meta["moved"]
    assert description.startswith("the weights match the week's earlier publication: restated: largest change")
    assert stored_weeks(tables, [WEEK])[WEEK]["baseline_file"] == "strategy.new.json"

    # Back on the packaged baseline, then a restated ledger: no provenance field explains the change.
    assert run_chain_in_dagster(instance, partition_key=WEEK).success
    late = synthetic_ledger(baseline.keys, "2026-02-01", "2026-03-01", 1.0, seed=99)
    seed_ledger(tables["ledger"], late)
    assert run_chain_in_dagster(instance, partition_key=WEEK).success
    passed, meta, description = restatement(instance)
    assert not passed and meta["status"] == "restated" and meta["differing_fields"] == "none"
    assert "the ledger's lots changed" in description

    # Different parameters.
    assert run_chain_in_dagster(
        instance, partition_key=WEEK, environ={"APP__STAGE": "prod", "LOOKBACK_DAYS": "60"}
    ).success
    passed, meta, _ = restatement(instance)
    assert not passed and meta["differing_fields"] == "parameters"


def test_backfilling_an_unchanged_ledger_again_is_identical_for_every_week(lots, tables, instance):
    assert run_chain_in_dagster(instance, partition_range=(WEEKS[0], WEEKS[-1])).success
    assert [restatement(instance, w)[1]["status"] for w in WEEKS] == ["first publication"] * 3
    again = run_chain_in_dagster(instance, partition_range=(WEEKS[0], WEEKS[-1]))
    assert again.success
    for week in WEEKS:
        passed, meta, _ = restatement(instance, week)
        assert passed and meta["status"] == "identical", week
        assert latest(instance, week)[1]["restatement"].startswith("identical to run ")


def test_the_baseline_is_read_once_per_run(lots, tables, instance, monkeypatch):
    reads = []
    original = settings_module.read_baseline
    monkeypatch.setattr(settings_module, "read_baseline", lambda path: reads.append(path) or original(path))
    assert run_chain_in_dagster(instance, partition_range=(WEEKS[0], WEEKS[-1])).success
    assert len(reads) == 1
