"""The fast tier leaves out exactly the tiers conftest marks, and each is registered."""

import re
from pathlib import Path

import tomllib

from weighting_pipeline_tests.conftest import NO_DYNAMODB, SERVER_MARKERS, TIER_MARKERS

REPO = Path(__file__).resolve().parent.parent


def test_run_sh_fast_deselects_every_tier_marker_and_pytest_knows_them():
    expression = re.search(r'pytest -m "not \(([^)]*)\)"', (REPO / "run.sh").read_text()).group(1)
    assert set(expression.split(" or ")) == set(TIER_MARKERS)
    options = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert {line.split(":")[0] for line in options["markers"]} == set(TIER_MARKERS)
    assert set(SERVER_MARKERS.values()) <= set(TIER_MARKERS) and "--strict-markers" in options["addopts"]


def test_a_test_without_the_dynamodb_fixture_reaches_no_dynamodb(request):
    import os

    assert "dynamodb" not in [m.name for m in request.node.iter_markers()]
    assert os.environ["AWS_ENDPOINT_URL_DYNAMODB"] == NO_DYNAMODB


def test_a_test_with_a_table_is_marked_dynamodb_and_reaches_the_server(request, tables, dynamodb):
    import os

    assert "dynamodb" in [m.name for m in request.node.iter_markers()]
    assert os.environ["AWS_ENDPOINT_URL_DYNAMODB"] == dynamodb.endpoint != NO_DYNAMODB
