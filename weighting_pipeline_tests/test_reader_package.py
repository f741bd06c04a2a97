"""The reader as trading installs it: ``pip install ./reader`` in a fresh Python 3.12 venv brings
the reader and boto3's own dependencies, nothing else, and importing it loads nothing heavy."""

from __future__ import annotations

import json
import subprocess

import pytest

from weighting_pipeline_tests.venvs import REPO, fresh_venv, installed

# boto3's dependency closure, read from the venv's own metadata (extras and markers that do not apply left out).
CLOSURE = """
import json, re
from importlib.metadata import distribution, PackageNotFoundError
from packaging.requirements import Requirement
seen, todo = set(), ["boto3"]
while todo:
    name = todo.pop()
    key = re.sub(r"[-_.]+", "-", name).lower()
    if key in seen:
        continue
    seen.add(key)
    for text in distribution(name).requires or []:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            todo.append(req.name)
print(json.dumps(sorted(seen)))
"""


@pytest.mark.slow
def test_a_fresh_venv_installs_only_the_reader_and_boto3s_closure_and_imports_nothing_heavy(tmp_path):
    python = fresh_venv(tmp_path / "venv", str(REPO / "reader"))
    have = installed(python)
    version = subprocess.run(
        [str(python), "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True, check=True
    )
    print(f"reader installed on Python {version.stdout.strip()}: {sorted(have)}")
    # pip's vendored packaging reads the requirements, so the check needs nothing installed beside them.
    closure = subprocess.run(
        [str(python), "-c", CLOSURE.replace("from packaging", "from pip._vendor.packaging")],
        capture_output=True,
        text=True,
        check=True,
    )
    tools = {"pip", "setuptools", "wheel"}
    assert set(have) - tools == {"weighting-pipeline-reader"} | set(json.loads(closure.stdout))
    assert "boto3" in have
    code = (
        "import json, sys, weighting_pipeline_reader as r\n"
        "assert r.get_strategy_profile({'allocations': {'a.clj': 1.0}}, False).allocations == {'a.clj': 1}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pandas', 'numpy', 'scipy', 'pyarrow', 'dagster', 'weighting_pipeline'))))"
    )
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == []
