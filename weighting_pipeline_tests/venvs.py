"""Fresh virtual environments on trading's Python (3.12), for the tests of what trading installs."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRADING_PYTHON = "3.12"  # trading's Lambda runtime (template.yaml: python3.12)


def trading_python() -> str:
    """A Python 3.12 interpreter: on PATH, or pyenv's; else this one (named in the tests' output)."""
    candidates = [
        shutil.which(f"python{TRADING_PYTHON}"),
        *sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{TRADING_PYTHON}.*/bin/python{TRADING_PYTHON}"))),
    ]
    for candidate in filter(None, candidates):
        done = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True
        )
        if done.returncode == 0 and done.stdout.strip() == str(tuple(int(p) for p in TRADING_PYTHON.split("."))):
            return candidate
    return sys.executable


def fresh_venv(folder: Path, *requirements: str) -> Path:
    """A new venv in ``folder`` with ``requirements`` pip-installed (from the package index, through
    pip's cache); returns its python."""
    subprocess.run([trading_python(), "-m", "venv", str(folder)], check=True, capture_output=True, text=True)
    python = folder / "bin" / "python"
    if requirements:
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return python


def installed(python: Path) -> dict[str, str]:
    """Distribution name (normalised) -> version, of what ``python``'s environment holds."""
    done = subprocess.run(
        [str(python), "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {d["name"].lower().replace("_", "-"): d["version"] for d in json.loads(done.stdout)}
