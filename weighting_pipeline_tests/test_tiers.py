"""The fast tier leaves out exactly the tiers conftest marks, and each is registered."""

import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from weighting_pipeline_tests.conftest import NO_DYNAMODB, SERVER_MARKERS, TIER_MARKERS

REPO = Path(__file__).resolve().parent.parent


def collected(cmd: list[str]) -> set[str]:
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return {line for line in done.stdout.splitlines() if "::" in line}


@pytest.mark.slow
def test_run_sh_fast_runs_exactly_the_tests_no_tier_marks_and_pytest_knows_every_tier():
    """What `./run.sh test fast` collects, against pytest's own selection by the tier markers."""
    options = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert {line.split(":")[0] for line in options["markers"]} == set(TIER_MARKERS)
    server_markers = {m for v in SERVER_MARKERS.values() for m in ((v,) if isinstance(v, str) else v)}
    assert server_markers <= set(TIER_MARKERS) and "--strict-markers" in options["addopts"]
    only = ["--collect-only", "-q", "-n", "0"]
    fast = collected(["./run.sh", "test", "fast", *only])
    tiered = collected([sys.executable, "-m", "pytest", *only, "-m", " or ".join(TIER_MARKERS)])
    everything = collected([sys.executable, "-m", "pytest", *only])
    assert fast and tiered and fast.isdisjoint(tiered) and fast | tiered == everything
    assert (
        "weighting_pipeline_tests/test_tiers.py::test_a_test_without_the_dynamodb_fixture_reaches_no_dynamodb" in fast
    )


def test_a_test_without_the_dynamodb_fixture_reaches_no_dynamodb(request):
    import os

    assert "dynamodb" not in [m.name for m in request.node.iter_markers()]
    assert os.environ["AWS_ENDPOINT_URL_DYNAMODB"] == NO_DYNAMODB


def test_a_test_with_a_table_is_marked_dynamodb_and_reaches_the_server(request, tables, dynamodb):
    import os

    assert "dynamodb" in [m.name for m in request.node.iter_markers()]
    assert os.environ["AWS_ENDPOINT_URL_DYNAMODB"] == dynamodb.endpoint != NO_DYNAMODB
