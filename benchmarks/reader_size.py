"""What trading's Lambda carries to read the weights: the reader installed, against the whole pipeline.

The reader is installed with ``pip install --no-deps --target`` (boto3 is in Lambda's
runtime, so a layer ships the reader alone); the baseline is what ``pip install
weighting_pipeline`` brings: the installed files of every distribution in
``requirements.lock`` (Dagster, pandas, numpy, scipy, pyarrow and the rest), in the same run.
Cold import times are the median of fresh interpreters.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def tree_bytes(folder: Path) -> tuple[int, int]:
    """(bytes, files) under ``folder``, without byte-code caches."""
    total = files = 0
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in names:
            total += (Path(root) / name).stat().st_size
            files += 1
    return total, files


def locked_bytes() -> tuple[int, int, int]:
    """(bytes, files, distributions) installed here for the runtime lock's distributions."""
    names = re.findall(r"^([A-Za-z0-9_.\-]+)==", (REPO / "requirements.lock").read_text(), flags=re.M)
    total = files = found = 0
    for name in names:
        try:
            dist = distribution(name)
        except PackageNotFoundError:  # a platform-specific pin this machine does not use
            continue
        found += 1
        for file in dist.files or []:
            path = Path(dist.locate_file(file))
            if "__pycache__" not in path.parts and path.is_file():
                total += path.stat().st_size
                files += 1
    return total, files, found


def cold_import_s(statement: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def run(repeats: int = 5) -> dict:
    with tempfile.TemporaryDirectory() as target:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--no-build-isolation",
                "--no-compile",
                "--target",
                target,
                str(REPO / "reader"),
            ],
            check=True,
            capture_output=True,
        )
        reader_bytes, reader_files = tree_bytes(Path(target))
    site_bytes, site_files, dists = locked_bytes()
    return {
        "reader_bytes": reader_bytes,
        "reader_files": reader_files,
        "pipeline_env_bytes": site_bytes,
        "pipeline_env_files": site_files,
        "pipeline_env_distributions": dists,
        "ratio": site_bytes / reader_bytes,
        "reader_import_s": cold_import_s("import weighting_pipeline_reader", repeats),
        "boto3_import_s": cold_import_s("import boto3", repeats),
        "definitions_import_s": cold_import_s("import weighting_pipeline.definitions", repeats),
    }
