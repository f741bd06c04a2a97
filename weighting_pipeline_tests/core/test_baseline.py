import json

import pytest

from weighting_pipeline.core.baseline import BaselineConfigError, load_baseline, packaged_config_path

PROD = {
    "beam_chain.clj": 0.20, "sisyphus_lowvol.clj": 0.15, "bento_collection.clj": 0.15, "gold.clj": 0.10,
    "tqqq_ftlt.clj": 0.15, "rains_em_dancer.clj": 0.10, "nuclear_feaver.clj": 0.05, "beefier_3x.clj": 0.05,
    "simons_kmlm.clj": 0.05,
}


def test_packaged_prod_allocations_are_the_contract():
    b = load_baseline(packaged_config_path("prod"))
    assert b.allocations.to_dict() == PROD
    assert b.stems["beam_chain"] == "beam_chain.clj"


@pytest.mark.parametrize("stage", ["dev", "staging", "prod"])
def test_every_stage_file_is_valid(stage):
    assert abs(load_baseline(packaged_config_path(stage)).allocations.sum() - 1) < 1e-9


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
        ({"files": ["gold.clj", "gold.py"], "allocations": {"gold.clj": 0.5, "gold.py": 0.5}}, "share the ledger name 'gold'"),
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
