"""checkov's CloudFormation checks over deploy/cloudformation, offline, for CI.

checkov lives in its own venv (``.venv-checkov``): it pins libraries the project
also uses, and none of it is ours to audit. A check a template does not meet is
either fixed or skipped on its resource with a stated reason
(``Metadata: checkov: skip: [{id, comment}]``; a test requires the comment).
checkov does not evaluate a template's ``Conditions``: it checks every resource, so one
scan covers both runtimes (``Runtime=scheduled`` and ``Runtime=services``) at once;
cfn-lint checks each condition's branches.
Exit status: checkov's (1 when a check fails).
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-checkov"
CHECKOV = "checkov>=3.2,<4"


def main() -> int:
    binary = VENV / "bin" / "checkov"
    if not binary.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", CHECKOV], check=True)
    # --skip-download: no Bridgecrew platform calls (CI has no network but the package registries).
    return subprocess.run(
        [
            str(binary),
            "--directory",
            str(ROOT / "deploy" / "cloudformation"),
            "--framework",
            "cloudformation",
            "--compact",
            "--quiet",
            "--skip-download",
        ]
    ).returncode


if __name__ == "__main__":
    sys.exit(main())
