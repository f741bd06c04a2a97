"""The project's image, built from its own Dockerfile with podman, for the rehearsal.

The Dockerfile starts ``FROM python:3.11-slim``. Where that image is neither on this
machine nor pullable (our machines reach no container registry), the build passes
``BASE_IMAGE``: a Debian bookworm root with Debian's Python 3.11, made once from
Debian's packages with mmdebstrap and kept as ``BASE``. Podman's layer cache keeps the
dependency layer, so a rebuild after a code change reinstalls only the package.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from weighting_pipeline_devtools.containers import FLAGS, INSTALL_HINT, Podman

REPO = Path(__file__).resolve().parents[2]
UPSTREAM_BASE = "docker.io/library/python:3.11-slim"
BASE = "localhost/weighting-pipeline-base:bookworm"
BASE_PACKAGES = "python3,python3-venv,python3-pip,python-is-python3,ca-certificates,passwd"
PULL_TIMEOUT = 30


def image_name(version: str) -> str:
    """``weighting-pipeline:<version>``; a tag cannot hold ``+``, so a local version's ``+`` becomes ``-``."""
    return "weighting-pipeline:" + re.sub(r"[^A-Za-z0-9_.-]", "-", version)


def checkout_version() -> str:
    """The version git gives this checkout (what ``./run.sh version`` prints), which can be newer than
    the installed package's (``publication.provenance.package_version``) after a commit."""
    return subprocess.run(
        [sys.executable, "-m", "setuptools_scm"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()


def _exists(podman: Podman, image: str) -> bool:
    return subprocess.run(["podman", "image", "exists", image], env=podman.env()).returncode == 0


def debian_mirror(sources: Path = Path("/etc/apt/sources.list.d/debian.sources")) -> str:
    """The machine's Debian mirror (deb822 ``URIs:``), or deb.debian.org."""
    if sources.exists():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    return "http://deb.debian.org/debian"


def base_image(podman: Podman, log) -> str | None:
    """The base to build on: None for the Dockerfile's own (present or pulled), else ``BASE``,
    made from Debian's packages if it is not here yet."""
    if _exists(podman, UPSTREAM_BASE):
        return None
    if _exists(podman, BASE):
        return BASE
    try:
        pulled = subprocess.run(
            ["podman", "pull", UPSTREAM_BASE],
            env=podman.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=PULL_TIMEOUT,
        )
        if pulled.returncode == 0:
            return None
    except subprocess.TimeoutExpired:
        pass
    print(
        f"{UPSTREAM_BASE} cannot be pulled; making {BASE} from Debian's packages (about 30 s, once)",
        file=sys.stderr,
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="weighting-base-") as tmp:
        root = Path(tmp) / "root.tar"
        made = subprocess.run(
            [
                "mmdebstrap",
                "--variant=apt",
                f"--include={BASE_PACKAGES}",
                '--aptopt=Acquire::Check-Valid-Until "false"',
                "bookworm",
                str(root),
                debian_mirror(),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if made.returncode != 0:
            raise RuntimeError(
                f"mmdebstrap could not make the base image (exit {made.returncode}; log {log.name}); {INSTALL_HINT}"
            )
        subprocess.run(
            ["podman", "import", "--change", "ENV PIP_BREAK_SYSTEM_PACKAGES=1", str(root), BASE],
            env=podman.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
        )
    return BASE


def build(podman: Podman, log_path: Path, version: str | None = None) -> str:
    """Build the Dockerfile as ``image_name(version)``; the image's name. Output goes to ``log_path``."""
    version = version or checkout_version()
    name = image_name(version)
    started = time.monotonic()
    with open(log_path, "ab") as log:
        base = base_image(podman, log)
        argv = [
            "podman",
            "build",
            "--pull=never",
            *FLAGS,
            "-v",
            "/etc/ssl/certs:/etc/ssl/certs:ro",
            "--build-arg",
            f"VERSION={version}",
            "-t",
            name,
            "-f",
            str(REPO / "Dockerfile"),
        ]
        if base:
            argv += ["--build-arg", f"BASE_IMAGE={base}"]
        done = subprocess.run([*argv, str(REPO)], env=podman.env(), stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        tail = log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"building the image failed (exit {done.returncode}); the end of {log_path}:\n{tail}")
    print(f"built {name} in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return name
