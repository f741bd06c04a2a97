"""The private Dagster names the product needs (``weighting_pipeline/dagster_internals.py``)
still exist where it imports them, and nothing else in the product imports private Dagster."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
INTERNALS = REPO / "weighting_pipeline" / "dagster_internals.py"


def private_imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) of each ``from dagster._... import name`` in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0].startswith("dagster") and "._" in "." + node.module:
            found += [(node.module, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            found += [(a.name, "") for a in node.names if a.name.startswith("dagster") and "._" in a.name]
    return found


@pytest.mark.parametrize("module, name", private_imports(INTERNALS))
def test_each_private_dagster_name_is_still_where_we_import_it(module, name):
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        pytest.fail(f"Dagster moved {module}.{name} ({exc}); update weighting_pipeline/dagster_internals.py, the one place that imports it")
    assert isinstance(found, type)


def test_the_internals_module_is_the_only_product_code_that_imports_private_dagster():
    product = [p for p in (REPO / "weighting_pipeline").rglob("*.py") if p != INTERNALS]
    offenders = {str(p.relative_to(REPO)): private_imports(p) for p in product if private_imports(p)}
    assert private_imports(INTERNALS) and not offenders, offenders
    for config in (REPO / "deploy").rglob("*.yaml"):
        assert "dagster._" not in config.read_text(), f"{config.relative_to(REPO)} names a private Dagster module"
