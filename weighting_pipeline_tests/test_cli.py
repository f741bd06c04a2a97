"""The ``weighting-pipeline`` command line: its commands, and the development tools' absence."""

from __future__ import annotations

import importlib.util
import subprocess

import click
import pytest
from click.testing import CliRunner

from weighting_pipeline.cli import main
from weighting_pipeline.cli.local import forwarded_args
from weighting_pipeline_tests.conftest import CLI

COMMANDS = [
    "audit",
    "backfill",
    "demo",
    "image",
    "open-ui",
    "scheduled-run",
    "setup-tables",
    "stack",
    "sweep",
    "ui",
    "unpublish",
    "weights",
]


def test_the_console_script_lists_every_command():
    done = subprocess.run([*CLI, "--help"], capture_output=True, text=True, check=True)
    listed = [
        line.split()[0]
        for line in done.stdout.split("Commands:")[1].splitlines()
        if line.startswith("  ") and not line.startswith("   ")
    ]
    assert listed == COMMANDS


@pytest.mark.parametrize(
    "args",
    [
        ["demo"],
        ["ui"],
        ["stack"],
        ["image"],
        ["weights", "--local"],
        ["audit", "--range", "2026-11-15...2026-11-15", "--local"],
    ],
)
def test_development_commands_say_what_to_install_where_the_tools_are_missing(monkeypatch, args):
    real = importlib.util.find_spec
    missing = ("moto", "weighting_pipeline_devtools")  # as in the image, and in a wheel installed alone
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in missing else real(name, *a))
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 1
    assert "needs the development tools" in out.output and "pip install -e ./devtools" in out.output


@pytest.mark.parametrize("command", ["stack", "image"])
def test_the_rehearsal_names_the_container_tools_it_lacks(monkeypatch, command):
    import shutil

    from weighting_pipeline_devtools import postgres

    # As if podman and runc were installed (a fresh machine may have neither) and mmdebstrap not.
    monkeypatch.setattr(shutil, "which", lambda tool, *a, **k: None if tool == "mmdebstrap" else f"/usr/bin/{tool}")
    monkeypatch.setattr(postgres, "find_bin_dir", lambda: "/usr/lib/postgresql/15/bin")  # as if installed
    out = CliRunner().invoke(main, [command])
    assert out.exit_code == 1
    assert "missing mmdebstrap" in out.output and "apt-get install -y podman runc mmdebstrap" in out.output


def test_a_local_child_gets_the_same_options_without_local():
    @click.command()
    @click.option("--week")
    @click.option("--reason")
    @click.option("--no-progress", is_flag=True)
    @click.option("--local", is_flag=True)
    @click.pass_context
    def command(ctx, **_):
        click.echo(repr(forwarded_args(ctx)))

    out = CliRunner().invoke(command, ["--local", "--week", "2026-11-15", "--no-progress", "--reason", "a b"])
    assert out.output.strip() == repr(["--week", "2026-11-15", "--reason", "a b", "--no-progress"])


def test_operator_commands_name_the_variable_they_lack(monkeypatch):
    for var in ("DAGSTER_HOME", "STRATEGY_WEIGHTS__TABLE_NAME", "TRADE_LEDGER__TABLE_NAME", "DAGSTER_WEBSERVER_URL"):
        monkeypatch.delenv(var, raising=False)
    cases = {
        ("audit", "--range", "2026-11-15...2026-11-15"): "set DAGSTER_HOME",
        ("weights",): "set STRATEGY_WEIGHTS__TABLE_NAME",
        ("sweep", "--range", "2026-11-15...2026-11-15"): "set TRADE_LEDGER__TABLE_NAME",
        ("setup-tables",): "setup-tables needs TRADE_LEDGER__TABLE_NAME and STRATEGY_WEIGHTS__TABLE_NAME",
        ("backfill", "--range", "2026-11-15...2026-11-15"): "set DAGSTER_WEBSERVER_URL",
        ("audit", "--range", "2026-11-15...2026-11-15", "--against-table"): "set DAGSTER_HOME",
    }
    for args, says in cases.items():
        out = CliRunner().invoke(main, list(args))
        assert out.exit_code == 2 and says in out.output, (args, out.output)


def test_a_backfill_asks_for_the_weekly_chain_over_its_weeks_sized_by_the_ecs_tags():
    from weighting_pipeline.assets import CHAIN_ASSETS
    from weighting_pipeline.ops.backfill import backfill_params

    params = backfill_params(["2026-11-01", "2026-11-08"], cpu=1024, memory=4096)
    assert params["partitionNames"] == ["2026-11-01", "2026-11-08"] and params["fromFailure"] is False
    assert params["assetSelection"] == [{"path": a.key.path} for a in CHAIN_ASSETS]
    assert params["tags"] == [{"key": "ecs/cpu", "value": "1024"}, {"key": "ecs/memory", "value": "4096"}]
    assert backfill_params(["2026-11-01"])["tags"] == []
