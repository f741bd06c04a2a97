"""requirements.lock: what the image installs (with --require-hashes), and what the tests run on."""

from __future__ import annotations

import hashlib
import re
from importlib import metadata
from pathlib import Path

import tomllib
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from weighting_pipeline.publication.provenance import lock_sha256

REPO = Path(__file__).resolve().parent.parent
LOCK = REPO / "requirements.lock"


def locked() -> list[tuple[str, str, str | None, int]]:
    """(name, version, marker, number of hashes) per entry of the lock."""
    entries = []
    for block in re.split(r"\n(?=[A-Za-z0-9])", LOCK.read_text()):
        first = block.splitlines()[0]
        if first.startswith("#"):
            continue
        match = re.match(r"([A-Za-z0-9_.\-]+)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$", first)
        assert match, first
        entries.append(
            (canonicalize_name(match.group(1)), match.group(2), match.group(3), block.count("--hash=sha256:"))
        )
    return entries


def here() -> dict[str, str]:
    """Locked name -> version for this interpreter and platform (markers evaluated)."""
    return {n: v for n, v, marker, _ in locked() if marker is None or Marker(marker).evaluate()}


def test_every_entry_is_pinned_with_hashes():
    entries = locked()
    assert len(entries) > 50
    assert all(hashes >= 1 for *_, hashes in entries), [e for e in entries if e[3] == 0]


def test_the_lock_satisfies_pyproject_and_holds_what_the_image_builds_with():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    pins = here()
    # Ours, built from folders of this repository: the lock leaves them out, and holds the reader's dependencies.
    ours = {
        canonicalize_name(n): REPO / source["path"]
        for n, source in project["tool"]["uv"]["sources"].items()
        if "path" in source
    }
    assert set(ours) == {"weighting-pipeline-reader", "weighting-pipeline-devtools"}
    runtime = {canonicalize_name(Requirement(t).name) for t in project["project"]["dependencies"]}
    for name, folder in ours.items():
        assert name not in pins
        if name not in runtime:  # the development tools: a dev extra, never locked
            continue
        for text in tomllib.loads((folder / "pyproject.toml").read_text())["project"]["dependencies"]:
            assert Requirement(text).specifier.contains(
                pins[canonicalize_name(Requirement(text).name)], prereleases=True
            ), text
    for text in project["project"]["dependencies"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if name in ours:
            continue
        assert name in pins, f"{name} is in pyproject.toml but not in requirements.lock: ./run.sh lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (text, pins[name])
    for text in project["build-system"]["requires"]:  # the Dockerfile builds with --no-build-isolation
        assert Requirement(text).specifier.contains(
            pins[canonicalize_name(Requirement(text).name)], prereleases=True
        ), text


def test_the_tests_run_on_the_locked_versions_and_provenance_says_which_lock():
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    differ = {n: (v, installed.get(n)) for n, v in here().items() if installed.get(n) != v}
    assert differ == {}, "the environment differs from requirements.lock (a dev dependency moved one?)"
    assert lock_sha256() == hashlib.sha256(LOCK.read_bytes()).hexdigest()
