"""Validate dagster_cloud.yaml with dagster-cloud-cli's own loader, offline, for CI.

dagster-cloud-cli lives in its own venv (``.venv-dagster-cloud``): it pins
Dagster's shared libraries to its own release. The loader is the one
``dagster-cloud`` deploys with (``dagster_cloud_cli.config.models``); the ECS
container context inside is checked by the main suite with dagster-aws's
(``weighting_pipeline_tests/test_dagster_cloud.py``).
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-dagster-cloud"
CLI = "dagster-cloud-cli>=1.13,<1.14"
CHECK = """
import sys
from dagster_cloud_cli.config.models import load_dagster_cloud_yaml
config = load_dagster_cloud_yaml(open(sys.argv[1]).read())
print("dagster_cloud.yaml: valid for dagster-cloud-cli;", ", ".join(f"{l.location_name} ({l.code_source.module_name})" for l in config.locations))
"""


def main() -> int:
    python = VENV / "bin" / "python"
    if not python.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", CLI], check=True)
    return subprocess.run([str(python), "-c", CHECK, str(ROOT / "dagster_cloud.yaml")]).returncode


if __name__ == "__main__":
    sys.exit(main())
