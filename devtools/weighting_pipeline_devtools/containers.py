"""Podman, as the rehearsal runs it: every service and every run in a container of the project's image.

No Docker daemon runs on our machines; Debian's ``podman`` does, with these settings
(checked on Debian bookworm as root; docs/production.md, "The rehearsal"):

- the ``runc`` runtime, since the default ``crun`` refuses this kernel's hybrid cgroups;
- ``cgroupfs`` and a file event log, since there is no systemd;
- open-file and process limits of 4096, since the host's own cannot be raised to;
- the host's network: containers reach moto, DynamoDB Local and PostgreSQL on 127.0.0.1,
  and what they serve is on 127.0.0.1 only.

The settings live in ``<state>/containers.conf`` (``CONTAINERS_CONF``), not in ``/etc``.
Each container is labelled with its stack, so ``remove_all`` can take away everything a
stack started, even after a crash.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

RUNTIME = "/usr/sbin/runc"
INSTALL_HINT = "install Debian's podman, runc and mmdebstrap: apt-get install -y podman runc mmdebstrap"
STACK_LABEL = "weighting-pipeline.stack"
RUN_ID_LABEL = "weighting-pipeline.run-id"
SERVICE_LABEL = "weighting-pipeline.service"
CONTAINERS_CONF = """\
# Written by devtools/weighting_pipeline_devtools/containers.py for this rehearsal only.
[containers]
default_ulimits = ["nproc=4096:4096", "nofile=4096:4096"]
netns = "host"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
"""
# Given on the command line too, so neither a build nor a run depends on which containers.conf
# settings this podman version honours.
FLAGS = ["--runtime", RUNTIME, "--network=host", "--ulimit", "nproc=4096:4096", "--ulimit", "nofile=4096:4096"]


def require_podman() -> None:
    """Fail, naming the packages, unless podman, runc and mmdebstrap are installed."""
    missing = [tool for tool in ("podman", RUNTIME, "mmdebstrap") if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(
            f"the rehearsal builds and runs the image with podman; missing {', '.join(missing)}: {INSTALL_HINT}"
        )


@dataclass
class ContainerSpec:
    """What ECS gives one container: image, command, plain environment and resolved secrets."""

    image: str
    command: list[str]
    environment: dict[str, str]
    secrets: dict[str, str] = field(default_factory=dict, repr=False)

    def env(self) -> dict[str, str]:
        return {**self.environment, **self.secrets}


class Podman:
    """Podman with the rehearsal's configuration in ``state``."""

    def __init__(self, state: Path):
        require_podman()
        state.mkdir(parents=True, exist_ok=True)
        self.conf = state / "containers.conf"
        self.conf.write_text(CONTAINERS_CONF)

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment of a ``podman`` command: its configuration, plus ``extra``
        (the values of the variables a container is given with ``-e NAME``)."""
        base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "WEIGHTING_LOCAL_ROOT") if k in os.environ}
        return {**base, **(extra or {}), "CONTAINERS_CONF": str(self.conf)}

    def run_command(self, spec: ContainerSpec, labels: dict[str, str], name: str | None = None) -> list[str]:
        """``podman run`` of ``spec`` in the foreground: its exit code is the container's.

        Variables go by name only (``-e NAME``; values from ``env(spec.env())``), so no
        secret appears in a process list."""
        argv = ["podman", "run", *FLAGS, "--init"]
        if name:
            argv += ["--name", name]
        for key, value in labels.items():
            argv += ["--label", f"{key}={value}"]
        for key in sorted(spec.env()):
            argv += ["-e", key]
        return [*argv, spec.image, *spec.command]

    def containers(self, label: str, value: str) -> list[dict]:
        """Every container (running or not) labelled ``label=value``, as ``podman ps`` reports them."""
        done = subprocess.run(
            ["podman", "ps", "-a", "--filter", f"label={label}={value}", "--format", "json"],
            env=self.env(),
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(done.stdout or "[]")

    def remove_all(self, label: str, value: str, grace: int = 10) -> None:
        """Stop (SIGTERM, then SIGKILL after ``grace`` s) and remove every container labelled ``label=value``."""
        ids = [c["Id"] for c in self.containers(label, value)]
        if ids:
            subprocess.run(
                ["podman", "rm", "--force", "--time", str(grace), *ids], env=self.env(), capture_output=True, text=True
            )
