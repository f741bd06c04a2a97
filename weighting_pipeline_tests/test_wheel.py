"""The wheel is the product: the package and its baseline copies, not the development tools or the tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wheel_holds_the_product_only(tmp_path):
    # The tracked files as they are in the working tree, built outside it (an in-tree build leaves build/ behind).
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    source = tmp_path / "source"
    for name in filter(None, tracked.split("\0")):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        capture_output=True,
        text=True,
        env={"SETUPTOOLS_SCM_PRETEND_VERSION": "0.0.0", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    [wheel] = (tmp_path / "dist").glob("weighting_pipeline-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    print(f"{wheel.name}: {len(names)} files")
    tops = {n.split("/")[0] for n in names}
    assert tops == {"weighting_pipeline", "weighting_pipeline-0.0.0.dist-info"}, tops
    assert not [n for n in names if "/devtools/" in n or "/local/" in n or n.endswith(".java")]
    assert {"weighting_pipeline/definitions.py", "weighting_pipeline/config/strategy.prod.json"} <= set(names)
