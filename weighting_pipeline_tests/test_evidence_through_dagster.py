"""The evidence as a user gets it: a 70-week range run through Dagster on a ledger in the
trading system's format (DynamoDB Local) and its bars (S3 on moto's server), judged by
tilt_report. No skill must read as noise, on the default basis and on market; persistent
skill must be found (core-level, below, to keep the suite's time)."""

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from weighting_pipeline.core import analytics
from weighting_pipeline.core.attribution import entry_attribution
from weighting_pipeline.core.backtest import score, weekly_realised_returns
from weighting_pipeline.core.calendar import local_day_number
from weighting_pipeline.core.chain import WeightingParams, run_chain
from weighting_pipeline.core.market import Bars
from weighting_pipeline.core.sweep import weight_keys
from weighting_pipeline.dagster_internals import PartitionKeyFilter
from weighting_pipeline_devtools.holding_ledger import holding_ledger, write_bars
from weighting_pipeline_tests.assets.test_tilt_report_and_settings import materialize_report, metadata
from weighting_pipeline_tests.conftest import run_chain_in_dagster, temp_instance

KEYS = [str(d.date()) for d in pd.date_range("2024-01-07", periods=70, freq="7D")]


@pytest.fixture
def no_skill(tables, baseline, aws, monkeypatch):
    simulated = holding_ledger(baseline.keys, "2023-09-01", "2025-05-31", drift=0.0, seed=1234)
    tables.read_only_ledger(simulated.ledger)
    write_bars(simulated, "evidence-bars")
    return "evidence-bars"


@pytest.mark.slow
@pytest.mark.parametrize("basis", ["lot", "market"])
def test_a_no_skill_ledger_reads_as_noise_through_dagster(no_skill, tables, tmp_path, basis, monkeypatch):
    environ = {"RETURN_BASIS": basis}
    if basis == "market":
        monkeypatch.setenv("MARKET_DATA_BUCKET", no_skill)
    else:
        monkeypatch.delenv("MARKET_DATA_BUCKET", raising=False)  # judged on the basis itself
    with temp_instance(tmp_path / basis) as instance:
        assert run_chain_in_dagster(instance, partition_range=(KEYS[0], KEYS[-1]), environ=environ).success
        with pytest.MonkeyPatch.context() as env:
            env.setenv("RETURN_BASIS", basis)
            assert materialize_report(instance).success
        report = metadata(instance, "tilt_report")
        key = dg.AssetCheckKey(dg.AssetKey("multipliers"), "tilt_exceeds_noise")
        claims = [
            instance.event_log_storage.get_latest_asset_check_execution_by_key(
                [key], partition_filter=PartitionKeyFilter(key=week)
            )[key].event.dagster_event.event_specific_data.passed
            for week in KEYS
        ]
    assert report["weeks"] == 70 and report["return_basis"].startswith(f"{basis}: ")
    t = report["active/t_statistic_hac"]
    assert abs(t) < 2.5
    assert abs(report["active/information_ratio"]) < 2.5 * report["active/ir_standard_error_hac"]
    assert ("noise: no evidence the tilt differs from the baseline" in report["verdict"]) == (abs(t) < 2)
    assert sum(claims) <= 0.2 * len(KEYS)  # weeks the noise check claims the Sharpe ratios differ


@pytest.mark.parametrize("basis,seed", [("lot", 77), ("market", 78)])
def test_persistent_skill_is_found_on_either_basis(baseline, basis, seed):
    names = list(baseline.keys)
    b = pd.Series(1 / len(names), index=names)
    drift = np.where(np.arange(len(names)) % 2 == 0, 0.003, -0.003)
    simulated = holding_ledger(names, "2023-09-01", "2025-05-31", drift=drift, seed=seed)
    rows = simulated.ledger.lots if basis == "lot" else simulated.ledger.positions
    bars = Bars.from_frames(
        {s: simulated.bars(s) for s in simulated.symbols},
        local_day_number("2023-09-01"),
        local_day_number("2025-05-31"),
    )
    params = WeightingParams(return_basis=basis)
    out = run_chain(rows, weight_keys(KEYS), b, params, bars=bars if basis == "market" else None)
    realised, closed = weekly_realised_returns(rows, KEYS, names, basis, bars if basis == "market" else None)
    attribution = entry_attribution(rows, KEYS, names) if basis == "lot" else None
    verdict = analytics.verdict(
        score(out["dynamic_weights"], KEYS, b, realised, closed, attribution=attribution)[0]["active"]
    )
    assert verdict.t_statistic_hac > 2.5
