"""The package's rooms and what each may import (docs/development.md, "Layout").

Read from the source with ``ast``, every import counted, those inside functions too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "weighting_pipeline"
THIRD_PARTY_AWS_OR_DAGSTER = ("dagster", "dagster_aws", "dagster_postgres", "dagster_webserver", "boto3", "botocore")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str) -> set[str]:
    """Every module ``name`` imports (absolute names; ``from p import m`` counts p.m when m is a module)."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name if MODULES[name].name == "__init__.py" else name.rsplit(".", 1)[0]
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES)
    return found


def room(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def ours(names: set[str]) -> set[str]:
    return {n for n in names if n in MODULES}


def foreign(names: set[str], roots: tuple[str, ...]) -> set[str]:
    return {n for n in names if n.split(".")[0] in roots}


@pytest.mark.parametrize("name", [n for n in MODULES if room(n) == "core"])
def test_the_core_imports_only_the_core_and_no_dagster_or_aws(name):
    found = imports(name)
    assert not foreign(found, THIRD_PARTY_AWS_OR_DAGSTER), (
        f"{name} imports {foreign(found, THIRD_PARTY_AWS_OR_DAGSTER)}"
    )
    assert {room(n) for n in ours(found)} <= {"core", ""}, f"{name} imports {ours(found)}"
    # Of the reader package, only the item's format (standard library only): not its client or boto3.
    assert foreign(found, ("weighting_pipeline_reader",)) <= {"weighting_pipeline_reader.item"}, name


@pytest.mark.parametrize("name", [n for n in MODULES if room(n) == "publication"])
def test_the_publication_format_imports_no_dagster(name):
    found = imports(name)
    assert not foreign(found, ("dagster", "dagster_aws", "dagster_postgres", "dagster_webserver")), name
    assert {room(n) for n in ours(found)} <= {"core", "publication", ""}, f"{name} imports {ours(found)}"


def test_only_the_development_commands_import_the_development_tools():
    """The product runs without them (the wheel and the image leave them out)."""
    allowed = {"weighting_pipeline.cli.development", "weighting_pipeline.cli.local"}
    offenders = {
        n: sorted(foreign(imports(n), ("weighting_pipeline_devtools", "moto"))) for n in MODULES if n not in allowed
    }
    assert not {n: m for n, m in offenders.items() if m}, offenders


def test_the_dagster_layer_imports_neither_the_operator_commands_nor_the_cli():
    layer = [n for n in MODULES if room(n) not in ("ops", "cli")]
    offenders = {n: sorted(m for m in ours(imports(n)) if room(m) in ("ops", "cli")) for n in layer}
    assert not {n: m for n, m in offenders.items() if m}, offenders


def test_no_import_circles():
    graph = {n: ours(imports(n)) - {n} for n in MODULES}
    # A module's package __init__ runs first anyway; an edge to it is not a circle of ours.
    graph = {n: {m for m in deps if not n.startswith(m + ".")} for n, deps in graph.items()}
    state: dict[str, int] = {}

    def visit(n: str, path: list[str]) -> None:
        state[n] = 1
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                pytest.fail(
                    "import circle: " + " -> ".join(path[path.index(m) :] + [n, m]) if m in path else f"{n} -> {m}"
                )
            if m not in state:
                visit(m, [*path, n])
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n, [])


def test_the_command_line_loads_neither_dagster_nor_the_development_tools_to_show_its_help():
    code = (
        "import sys, weighting_pipeline.cli\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'dagster' or m.startswith('weighting_pipeline_devtools')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
