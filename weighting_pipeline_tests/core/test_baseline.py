import json

import pandas as pd
import pytest

from weighting_pipeline.core.baseline import BaselineConfigError, load_baseline, packaged_config_path, parse_baseline

# The trading system's baseline (alchemiser-quant 433bc3af, layers/shared/the_alchemiser/shared/config/strategy.*.json).
PROD = {
    "defence.clj": 0.073,
    "ftl_starburst.clj": 0.066,
    "ftlt/holy_grail.clj": 0.067,
    "ftlt/tqqq_ftlt.clj": 0.067,
    "ftlt/tqqq_ftlt_2.clj": 0.117,
    "gold.clj": 0.065,
    "gold_and_miners.clj": 0.077,
    "gold_currency.clj": 0.033,
    "growth_blend.clj": 0.068,
    "kmlm_switcher.clj": 0.032,
    "pals_spell.clj": 0.054,
    "rains_concise_em.clj": 0.065,
    "rains_em_dancer.clj": 0.049,
    "simons_full_kmlm.clj": 0.032,
    "sisyphus_lowvol.clj": 0.051,
    "soxl_growth.clj": 0.084,
}


@pytest.mark.parametrize("stage", ["dev", "staging", "prod"])
def test_packaged_allocations_are_the_trading_systems(stage):
    b = load_baseline(packaged_config_path(stage))
    assert b.allocations.to_dict() == PROD and b.keys == list(PROD)  # in the file's order
    assert b.stems["holy_grail"] == "ftlt/holy_grail.clj"  # the ledger names a strategy by its file's stem
    assert b.stems["tqqq_ftlt_2"] == "ftlt/tqqq_ftlt_2.clj" and len(b.stems) == 16


@pytest.mark.parametrize("stage", ["dev", "staging", "prod"])
def test_every_stage_file_is_valid(stage):
    assert abs(load_baseline(packaged_config_path(stage)).allocations.sum() - 1) < 1e-9


@pytest.mark.parametrize(
    ("stage", "file"), [("dev", "strategy.dev.json"), ("staging", "strategy.dev.json"), ("prod", "strategy.prod.json")]
)
def test_each_stage_reads_the_file_trading_reads(stage, file):
    """Trading's Settings (config/config.py) loads strategy.prod.json for prod and strategy.dev.json
    for every other stage; staging once read a strategy.staging.json trading never loads."""
    assert packaged_config_path(stage).name == file


def test_unknown_stage_names_the_setting():
    with pytest.raises(BaselineConfigError, match="APP__STAGE='qa'"):
        packaged_config_path("qa")


@pytest.mark.parametrize(
    "content, problem",
    [
        (None, "not found"),
        ("", "empty"),
        ("{not json", "not valid JSON"),
        ({"files": ["a.clj"]}, "'allocations' is missing"),
        ({"files": ["a.clj", "b.clj"], "allocations": {"a.clj": 1.5, "b.clj": -0.5}}, "finite and >= 0"),
        ({"files": ["a.clj"], "allocations": {"a.clj": "1"}}, "must be a number"),
        ({"files": ["a.clj", "b.clj"], "allocations": {"a.clj": 0.5, "b.clj": 0.4}}, "sum to"),
        (
            {"files": ["gold.clj", "gold.py"], "allocations": {"gold.clj": 0.5, "gold.py": 0.5}},
            "share the ledger name 'gold'",
        ),
        (
            {"files": ["gold.clj", "metals/gold.clj"], "allocations": {"gold.clj": 0.5, "metals/gold.clj": 0.5}},
            "share the ledger name 'gold'",
        ),
        ({"files": ["a.clj"], "allocations": {"a.clj": 0.5, "b.clj": 0.5}}, "name different strategies"),
    ],
)
def test_bad_config_errors_name_the_file_and_problem(tmp_path, content, problem):
    path = tmp_path / "strategy.json"
    if content is not None:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(BaselineConfigError) as err:
        load_baseline(path)
    assert str(path) in str(err.value) and problem in str(err.value)


def test_nan_allocation_is_rejected(tmp_path):
    path = tmp_path / "s.json"
    path.write_text('{"files": ["a.clj", "b.clj"], "allocations": {"a.clj": NaN, "b.clj": 1.0}}')
    with pytest.raises(BaselineConfigError, match="finite"):
        load_baseline(path)


def _chain_weights(names: list[str], allocations: dict[str, float], keys: list[str]) -> pd.DataFrame:
    from weighting_pipeline.core.chain import run_chain
    from weighting_pipeline_devtools.demo_ledger import synthetic_lots

    baseline = parse_baseline({"files": names, "allocations": allocations}, "test")
    lots = synthetic_lots(names, "2025-09-01", "2026-01-20", 0.6, seed=8)
    return baseline, run_chain(lots, keys, baseline.allocations)["dynamic_weights"]


def test_a_single_strategy_gets_all_the_capital_every_week():
    baseline, weights = _chain_weights(["solo.py"], {"solo.py": 1.0}, ["2026-01-04", "2026-01-11"])
    assert list(weights["weight"]) == [1.0, 1.0]


def test_a_thousand_strategies_load_and_weigh_within_bounds():
    names = [f"s{i:04d}.clj" for i in range(1000)]
    baseline, weights = _chain_weights(names, {n: 0.001 for n in names}, ["2026-01-04", "2026-01-11"])
    assert len(baseline.keys) == 1000
    for _, week in weights.groupby("partition_key", observed=True):
        assert len(week) == 1000 and abs(week["weight"].sum() - 1.0) <= 1e-12
        assert week["weight"].between(0.5 * week["baseline"], 2.0 * week["baseline"]).all()
        assert (week["skip_reason"] == "").sum() > 500  # most strategies qualify, so the tilt is real


def test_a_file_that_is_not_utf8_fails_naming_it(tmp_path):
    # read_text used to raise a bare UnicodeDecodeError that named neither the file nor the problem.
    path = tmp_path / "s.json"
    path.write_bytes('{"files": ["é.clj"], "allocations": {"é.clj": 1.0}}'.encode("latin-1"))
    with pytest.raises(BaselineConfigError, match=f"{path}: not UTF-8 text"):
        load_baseline(path)


def test_the_baseline_hash_is_of_the_files_bytes(tmp_path):
    import hashlib

    text = '{"files": ["a.clj", "b.clj"], "allocations": {"a.clj": 0.5, "b.clj": 0.5}}'
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    one.write_text(text)
    two.write_text(text.replace(": ", ":"))  # same allocations, other bytes
    a, b = load_baseline(one), load_baseline(two)
    assert a.sha256 == hashlib.sha256(text.encode()).hexdigest() and a.file_name == "one.json"
    assert a.allocations.equals(b.allocations) and a.sha256 != b.sha256
