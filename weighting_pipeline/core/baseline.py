"""The baseline allocation: packaged JSON config, validated once at load time.

Format::

    {"files": ["defence.clj", "ftlt/holy_grail.clj", ...],
     "allocations": {"defence.clj": 0.073, "ftlt/holy_grail.clj": 0.067, ...}}

Allocations are fractions of capital (0.073 = 7.3%). Weights are always keyed
by these baseline keys; the trade ledger names strategies by the key's stem
(``holy_grail`` for ``ftlt/holy_grail.clj``), as the trading system does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath

import pandas as pd

from weighting_pipeline.core.invariants import SUM_TOLERANCE

STAGES = ("dev", "staging", "prod")


class BaselineConfigError(ValueError):
    """The baseline config file is missing, malformed or breaks an invariant."""


def strategy_stem(key: str) -> str:
    """A baseline key's ledger name: its file's stem, ``ftlt/holy_grail.clj`` -> ``holy_grail``."""
    return PurePosixPath(key).stem if "." in key else key


@dataclass(frozen=True)
class Baseline:
    """Validated baseline allocations.

    ``allocations`` is a float Series indexed by baseline key, in file order,
    finite, >= 0 and summing to 1 within 1e-9. ``source`` names the file;
    ``sha256`` is the hex SHA-256 of its bytes exactly as read (for a config
    given as an object, of its canonical JSON: sorted keys, no spaces), so
    two computations can tell whether they used the same baseline.
    ``version`` is the stored object's version where the store has one
    (``VersionId <id>`` or ``ETag <etag>`` for S3), else "".
    """

    allocations: pd.Series
    source: str
    sha256: str = ""
    version: str = ""

    @property
    def file_name(self) -> str:
        """The config file's name without its folder (the folder differs per machine)."""
        return Path(self.source).name

    @property
    def location(self) -> str:
        """Where it was read, for provenance: a URI (``s3://bucket/key``) as given,
        a local path as its file name only (the folder differs per machine)."""
        return self.source if "://" in self.source else self.file_name

    @property
    def keys(self) -> list[str]:
        return list(self.allocations.index)

    @property
    def stems(self) -> dict[str, str]:
        """Ledger strategy name -> baseline key."""
        return {strategy_stem(k): k for k in self.allocations.index}


def stage_file(stage: str) -> str:
    """The baseline file a deployment stage reads, as trading's ``Settings`` picks it:
    ``strategy.prod.json`` for prod, ``strategy.dev.json`` for every other stage."""
    if stage not in STAGES:
        raise BaselineConfigError(f"APP__STAGE={stage!r} is not a known stage; expected one of {', '.join(STAGES)}")
    return "strategy.prod.json" if stage == "prod" else "strategy.dev.json"


def packaged_config_path(stage: str) -> Path:
    """The copy of trading's baseline packaged here for a stage (``stage_file``): for
    the demo and the tests; production reads trading's own file (STRATEGY_CONFIG__PATH)."""
    return Path(str(resources.files("weighting_pipeline.config") / stage_file(stage)))


def load_baseline(path: str | Path) -> Baseline:
    """Read and validate a baseline config file. Errors name the file and the problem."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BaselineConfigError(f"{path}: baseline config file not found") from None
    except OSError as exc:
        raise BaselineConfigError(f"{path}: cannot read baseline config: {exc}") from None
    return baseline_from_bytes(data, str(path))


def baseline_from_bytes(data: bytes, source: str, version: str = "") -> Baseline:
    """Validate a baseline config's bytes, wherever they were read from;
    ``source`` (a path or URI) names it in errors."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BaselineConfigError(f"{source}: not UTF-8 text ({exc})") from None
    if not text.strip():
        raise BaselineConfigError(f"{source}: baseline config file is empty")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineConfigError(f"{source}: not valid JSON ({exc})") from None
    baseline = parse_baseline(raw, source=source, sha256=hashlib.sha256(data).hexdigest())
    return dataclasses.replace(baseline, version=version) if version else baseline


def parse_baseline(raw: object, source: str, sha256: str | None = None) -> Baseline:
    """Validate an already-decoded config object; ``source`` names it in errors.

    ``sha256`` is the hash of the bytes it was decoded from; without it, the
    hash of the object's canonical JSON is used."""
    if not isinstance(raw, dict):
        raise BaselineConfigError(f"{source}: expected a JSON object with 'files' and 'allocations'")
    allocations = raw.get("allocations")
    if not isinstance(allocations, dict):
        raise BaselineConfigError(f"{source}: 'allocations' is missing or not an object")
    if not allocations:
        raise BaselineConfigError(f"{source}: 'allocations' is empty")
    files = raw.get("files", list(allocations))
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise BaselineConfigError(f"{source}: 'files' must be a list of strategy file names")
    if len(set(files)) != len(files):
        raise BaselineConfigError(f"{source}: 'files' lists a strategy twice")
    if set(files) != set(allocations):
        missing = sorted(set(files) - set(allocations))
        extra = sorted(set(allocations) - set(files))
        raise BaselineConfigError(
            f"{source}: 'files' and 'allocations' name different strategies "
            f"(no allocation for {missing}; allocation but not in files: {extra})"
        )
    values: dict[str, float] = {}
    for key in files:
        value = allocations[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BaselineConfigError(f"{source}: allocation for {key!r} must be a number, got {value!r}")
        if not math.isfinite(value) or value < 0:
            raise BaselineConfigError(f"{source}: allocation for {key!r} must be finite and >= 0, got {value!r}")
        values[key] = float(value)
    stems: dict[str, str] = {}
    for key in files:
        stem = strategy_stem(key)
        if stem in stems:
            raise BaselineConfigError(
                f"{source}: {stems[stem]!r} and {key!r} share the ledger name {stem!r}; lots could not be told apart"
            )
        stems[stem] = key
    total = math.fsum(values.values())
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise BaselineConfigError(f"{source}: allocations sum to {total!r}, not 1 (tolerance {SUM_TOLERANCE})")
    if sha256 is None:
        sha256 = hashlib.sha256(json.dumps(raw, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return Baseline(pd.Series(values, dtype="float64", name="baseline"), source, sha256)
