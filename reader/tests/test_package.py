"""The reader is small enough for a trading Lambda: the standard library and boto3, nothing else."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "weighting_pipeline_reader"
HEAVY = ("pandas", "numpy", "scipy", "pyarrow", "dagster", "weighting_pipeline", "boto3", "botocore")


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            roots.add((node.module or "").split(".")[0])
    return roots


def test_the_reader_imports_only_the_standard_library_boto3_and_itself():
    allowed = set(sys.stdlib_module_names) | {"boto3", "botocore", "weighting_pipeline_reader", "__future__"}
    found = {p.name: imported_roots(p) - allowed for p in sorted(PACKAGE.glob("*.py"))}
    assert not any(found.values()), found
    # The item's format and checks, which the pipeline's core imports too: the standard library only.
    assert imported_roots(PACKAGE / "item.py") <= set(sys.stdlib_module_names) | {"__future__"}


def test_importing_it_loads_no_heavy_module_and_not_even_boto3_until_the_first_read():
    code = (
        "import json, sys, weighting_pipeline_reader\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []
