"""docs/trading.patch, applied to trading's own code at 433bc3af, run against a week this pipeline published.

Trading's code is third-party and is not committed here: these tests run when
``TRADING_CHECKOUT`` names a checkout of Josh-moreton/alchemiser-quant at 433bc3af
(docs/trading.md says how to make one), and are skipped otherwise. Each copies the
checkout, applies the patch with ``git apply``, and runs trading's coordinator
(``functions/strategy_orchestrator/lambda_handler.py``) in a Python 3.12 venv holding
``./reader`` and trading's pinned runtime dependencies (from its ``poetry.lock``),
against DynamoDB Local; only trading's Lambda client is stubbed
(``trading_driver.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from weighting_pipeline.core.baseline import packaged_config_path, stage_file
from weighting_pipeline.core.calendar import latest_complete_week
from weighting_pipeline_devtools.holding_ledger import holding_ledger
from weighting_pipeline_devtools.processes import materialize_command
from weighting_pipeline_tests.listening import silent_endpoint
from weighting_pipeline_tests.stored_weeks import stored_weeks
from weighting_pipeline_tests.venvs import REPO, fresh_venv, installed

TRADING_COMMIT = "433bc3af"
CHECKOUT = os.environ.get("TRADING_CHECKOUT")
PATCH = REPO / "docs" / "trading.patch"
CONFIG = Path("layers/shared/the_alchemiser/shared/config")
DRIVER = Path(__file__).with_name("trading_driver.py")
# Trading's runtime dependencies the coordinator imports, at the versions its poetry.lock pins.
PINNED = ("pydantic", "pydantic-settings", "structlog", "python-dateutil")

pytestmark = [
    pytest.mark.skipif(
        not CHECKOUT,
        reason="TRADING_CHECKOUT is not set: it names a checkout of Josh-moreton/alchemiser-quant "
        "at 433bc3af (docs/trading.md says how to make one)",
    ),
    pytest.mark.slow,
]


def patched_copy(folder: Path) -> Path:
    """Trading's tree (without .git) with docs/trading.patch applied by ``git apply``."""
    shutil.copytree(CHECKOUT, folder, ignore=shutil.ignore_patterns(".git"))
    done = subprocess.run(["git", "apply", "--verbose", str(PATCH)], cwd=folder, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return folder


def pins(lock: Path) -> list[str]:
    import tomllib

    packages = {p["name"]: p["version"] for p in tomllib.loads(lock.read_text())["package"]}
    return [f"{name}=={packages[name]}" for name in PINNED]


def write_config(path: Path, config: dict) -> None:
    path.write_text(json.dumps(config, indent=2) + "\n")  # as trading's rebalance script writes it


@pytest.fixture(scope="module")
def trading(tmp_path_factory):
    """A patched copy as trading has it, one whose strategy.prod.json was rewritten (as trading's
    monthly rebalance does) and the venv trading's Lambda would have."""
    root = Path(CHECKOUT)
    if (root / ".git").exists():
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout
        assert head.startswith(TRADING_COMMIT), f"TRADING_CHECKOUT is at {head.strip()}, not {TRADING_COMMIT}"
    base = tmp_path_factory.mktemp("trading")
    original, rewritten = patched_copy(base / "original"), patched_copy(base / "rewritten")
    prod = json.loads((rewritten / CONFIG / "strategy.prod.json").read_text())
    prod["allocations"]["ftlt/tqqq_ftlt_2.clj"] = round(prod["allocations"]["ftlt/tqqq_ftlt_2.clj"] - 0.02, 3)
    prod["allocations"]["gold.clj"] = round(prod["allocations"]["gold.clj"] + 0.02, 3)
    write_config(rewritten / CONFIG / "strategy.prod.json", prod)
    python = fresh_venv(base / "venv", str(REPO / "reader"), *pins(original / "poetry.lock"))
    return SimpleNamespace(original=original, rewritten=rewritten, rewritten_prod=prod, python=python)


def run_trading(trading, mode: str, root: Path, **env: str) -> dict:
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if k in os.environ}
    done = subprocess.run(
        [str(trading.python), str(DRIVER), mode, str(root)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={**keep, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", **env},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    [line] = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    return json.loads(line[len("RESULT ") :])


def dispatched(result: dict) -> dict[str, Decimal]:
    """What trading sent its strategy Lambdas: dsl_file -> allocation, in the order it sent them."""
    assert result["response"]["statusCode"] == 200, result["response"]
    assert result["function_names"] == ["strategy-worker"] and result["invocation_types"] == ["Event"]
    return {p["dsl_file"]: Decimal(p["allocation"]) for p in result["payloads"]}


def as_trading_reads(config: dict) -> dict[str, Decimal]:
    return {f: Decimal(str(config["allocations"][f])) for f in config["files"]}


def test_the_patch_applies_lints_as_before_and_asks_for_the_reader_this_repository_builds(trading, tmp_path):
    lint = {}
    for name, template in (("before", Path(CHECKOUT) / "template.yaml"), ("after", trading.original / "template.yaml")):
        done = subprocess.run(
            [str(Path(sys.executable).with_name("cfn-lint")), "--format", "parseable", str(template)],
            capture_output=True,
            text=True,
        )
        # parseable: file:line:column:end line:end column:rule:message; the lines move, the findings must not
        lint[name] = sorted({line.split(":", 5)[-1] for line in done.stdout.splitlines()})
    assert lint["after"] == lint["before"]
    from packaging.requirements import Requirement

    [line] = [
        ln
        for ln in (trading.original / "layers/notifications/requirements.txt").read_text().splitlines()
        if ln.startswith("weighting-pipeline-reader")
    ]
    assert Requirement(line).specifier.contains(installed(trading.python)["weighting-pipeline-reader"])


def test_each_stage_reads_the_baseline_file_trading_reads(trading, tmp_path):
    """Trading's own Settings, against the file this pipeline takes for the same APP__STAGE."""
    copy = tmp_path / "stages"
    shutil.copytree(trading.original, copy)
    files = json.loads((copy / CONFIG / "strategy.prod.json").read_text())["files"]
    for i, name in enumerate(("strategy.dev.json", "strategy.staging.json", "strategy.prod.json")):
        rest = (1 - 0.1 * (i + 1)) / (len(files) - 1)  # a different first allocation in each file
        write_config(
            copy / CONFIG / name,
            {"files": files, "allocations": {f: (0.1 * (i + 1) if j == 0 else rest) for j, f in enumerate(files)}},
        )
    for stage in ("dev", "staging", "prod"):
        ours = json.loads((copy / CONFIG / stage_file(stage)).read_text())
        assert run_trading(trading, "settings", copy, APP__STAGE=stage) == ours, stage


@pytest.fixture
def silent():
    with silent_endpoint() as endpoint:
        yield endpoint


def test_the_patched_coordinator_dispatches_the_published_week_and_trading_baseline_otherwise(
    trading, tables, dynamodb, tmp_path, silent
):
    prod = trading.rewritten_prod
    week = latest_complete_week()
    end = pd.Timestamp(week) + pd.Timedelta(days=7)
    drift = np.random.default_rng(11).normal(0.0015, 0.002, len(prod["files"]))  # the scores differ: a real tilt
    tables.read_only_ledger(
        holding_ledger(
            prod["files"], str((end - pd.Timedelta(days=200)).date()), str(end.date()), drift=drift, seed=11
        ).ledger
    )
    # Published by this pipeline's CLI from trading's own (rewritten) file.
    cmd = materialize_command(
        "closed_lots,daily_returns,sharpe_ratios,multipliers,dynamic_weights", "--partition", week
    )
    env = {
        **os.environ,
        "STRATEGY_CONFIG__PATH": str(trading.rewritten / CONFIG / "strategy.prod.json"),
        "INTERMEDIATES__BASE_PATH": str(tmp_path / "intermediates"),
    }
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    item = stored_weeks(tables, [week])[week]
    published = {f: item["weights"][f] for f in prod["files"]}
    assert item["baseline_allocations"] == {f: Decimal(repr(float(prod["allocations"][f]))) for f in prod["files"]}
    assert published != as_trading_reads(prod)  # tilted: the dispatch below cannot be the baseline by accident

    deployed = {
        "APP__STAGE": "prod",
        "STRATEGY_FUNCTION_NAME": "strategy-worker",
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb.endpoint,
    }
    live = run_trading(
        trading, "coordinator", trading.rewritten, **deployed, STRATEGY_WEIGHTS__TABLE_NAME=tables["weights"]
    )
    sent = dispatched(live)
    assert list(sent) == prod["files"]  # one payload per strategy, in trading's dsl_files order
    assert sent == published and live["reader_warnings"] == []

    # Trading's rewritten baseline, never this project's packaged copy, whenever the week cannot be used.
    packaged = json.loads(packaged_config_path("prod").read_text())
    assert as_trading_reads(packaged) != as_trading_reads(prod)
    unset = run_trading(trading, "coordinator", trading.rewritten, **deployed)
    assert dispatched(unset) == as_trading_reads(prod)
    assert unset["reader_warnings"] == ["Using baseline allocations: STRATEGY_WEIGHTS__TABLE_NAME is not set"]
    silent = run_trading(
        trading,
        "coordinator",
        trading.rewritten,
        **{**deployed, "AWS_ENDPOINT_URL_DYNAMODB": silent},
        STRATEGY_WEIGHTS__TABLE_NAME=tables["weights"],
    )
    assert dispatched(silent) == as_trading_reads(prod) and "unreachable" in silent["reader_warnings"][0]
    assert silent["seconds"] < 5, silent["seconds"]
    # Trading at its original baseline: the week was computed from another one, so it is not served.
    original = json.loads((trading.original / CONFIG / "strategy.prod.json").read_text())
    other = run_trading(
        trading, "coordinator", trading.original, **deployed, STRATEGY_WEIGHTS__TABLE_NAME=tables["weights"]
    )
    assert dispatched(other) == as_trading_reads(original)
    assert "computed from another baseline" in other["reader_warnings"][0]
    print(f"published {week}: dispatched {len(sent)} strategies; silent endpoint cost {silent['seconds']:.2f} s")
