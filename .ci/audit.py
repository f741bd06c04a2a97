"""Dependency audit for CI: pip-audit over the project's environment.

Run with the project's Python (``.venv/bin/python .ci/audit.py``). pip-audit
itself lives in its own venv (``.venv-audit``) so its dependencies are not
audited as ours. Findings are split into runtime dependencies (the closure
of ``weighting_pipeline``'s requirements, extras excluded) and the rest.

Exit 1 only for a vulnerability in a runtime dependency whose id is not
triaged in ``.ci/audit-triage.txt`` (``ID  reason``, one per line).
Everything else is reported; an unreachable vulnerability service is
reported as "not audited", not as a pass.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import sysconfig
import venv
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AUDIT_VENV = ROOT / ".venv-audit"
TRIAGE = ROOT / ".ci" / "audit-triage.txt"
PIP_AUDIT = "pip-audit>=2.7"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_closure(root: str = "weighting_pipeline") -> set[str]:
    """Distributions ``pip install <root>`` pulls in, by canonical name."""
    seen, todo = set(), [root]
    while todo:
        name = canonical(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for req in requires:
            if "extra ==" in req.split(";", 1)[-1] and ";" in req:
                continue  # optional extras are not installed by default
            todo.append(re.split(r"[\s<>=!~;\[(]", req, maxsplit=1)[0])
    return seen - {canonical(root)}


def triaged() -> dict[str, str]:
    if not TRIAGE.exists():
        return {}
    rows = [
        line.split(None, 1) for line in TRIAGE.read_text().splitlines() if line.strip() and not line.startswith("#")
    ]
    return {row[0]: row[1] if len(row) > 1 else "" for row in rows}


def main() -> int:
    if not (AUDIT_VENV / "bin" / "pip-audit").exists():
        venv.create(AUDIT_VENV, with_pip=True)
        done = subprocess.run(
            [AUDIT_VENV / "bin" / "python", "-m", "pip", "install", "--quiet", PIP_AUDIT],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            print(f"audit: NOT AUDITED, could not install {PIP_AUDIT}:\n{done.stderr[-2000:]}")
            return 0
    site = sysconfig.get_paths()["purelib"]
    done = subprocess.run(
        [
            AUDIT_VENV / "bin" / "pip-audit",
            "--path",
            site,
            "--format",
            "json",
            "--progress-spinner",
            "off",
            "--skip-editable",
        ],
        capture_output=True,
        text=True,
    )
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"audit: NOT AUDITED, pip-audit could not run or reach its vulnerability service: {last}")
        return 0
    return verdict(report, runtime_closure(), triaged())


def verdict(report: dict, runtime: set[str], accepted: dict[str, str]) -> int:
    """Print pip-audit's JSON ``report`` split runtime / dev; 1 if CI must fail."""
    deps = report.get("dependencies", [])
    skipped = [d for d in deps if d.get("skip_reason")]
    fatal = []
    print(
        f"audit: {len(deps) - len(skipped)} distributions audited, {len(skipped)} not audited; {len(runtime)} are runtime dependencies"
    )
    for dep in deps:
        for vuln in dep.get("vulns", []):
            kind = "runtime" if canonical(dep["name"]) in runtime else "dev/tool"
            note = f"triaged: {accepted[vuln['id']]}" if vuln["id"] in accepted else ""
            print(
                f"  {kind:8} {dep['name']} {dep['version']}: {vuln['id']} fixed in {vuln.get('fix_versions') or '-'} {note}"
            )
            if kind == "runtime" and vuln["id"] not in accepted:
                fatal.append(f"{dep['name']} {dep['version']} {vuln['id']}")
    if fatal:
        print("audit: FAILED, untriaged vulnerabilities in runtime dependencies: " + "; ".join(fatal))
        return 1
    if skipped and len(skipped) == len(deps):
        print(
            f"audit: NOT AUDITED, the vulnerability service knew none of them (first reason: {skipped[0]['skip_reason']})"
        )
        return 0
    print("audit: no untriaged vulnerability in runtime dependencies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
