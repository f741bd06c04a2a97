"""How a week's weights were computed: the provenance record and the weekly weights.

Pure Python: no Dagster, no boto3. The assets attach a ``Provenance`` to each
week's materialization, the IO manager stores it in each week's DynamoDB item,
and the restatement check (``publication.restatement``) and the audit command
compare them.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from weighting_pipeline.publication.weights_hash import weights_sha256_or_none

if TYPE_CHECKING:
    import pandas as pd

    from weighting_pipeline.core.baseline import Baseline
    from weighting_pipeline.core.chain import WeightingParams
    from weighting_pipeline.core.publication_rules import Decision


def package_version() -> str:
    """The installed version of the weighting_pipeline distribution: setuptools-scm's,
    from git, fixed when the package was installed (the image's ``VERSION`` build argument)."""
    try:
        return metadata.version("weighting_pipeline")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


# Written beside the environment (sys.prefix) by whoever installed it from requirements.lock:
# the Dockerfile and ./run.sh setup.
LOCK_HASH_FILE = "weighting-pipeline.lock.sha256"
NOT_LOCKED = "none: not installed from requirements.lock"


def lock_sha256() -> str:
    """The hex SHA-256 of the ``requirements.lock`` this environment's dependencies were
    installed from (``sys.prefix/LOCK_HASH_FILE``), or ``NOT_LOCKED``."""
    path = Path(sys.prefix) / LOCK_HASH_FILE
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return NOT_LOCKED
    return text if re.fullmatch(r"[0-9a-f]{64}", text) else f"none: {path} holds no SHA-256"


@dataclass(frozen=True)
class Provenance:
    """How one week's weights were computed.

    ``parameters`` are the algorithm's (``WeightingParams.as_dict``);
    ``baseline_file`` is the config file's name and ``baseline_sha256`` the
    hash of its bytes; ``baseline_uri`` is where it was read (``s3://bucket/key``,
    or the file's name for a local file) and ``baseline_version`` the S3
    object's ``VersionId <id>`` or ``ETag <etag>`` ("none: local file" otherwise);
    ``package_version`` the installed package's (from git) and ``lock_sha256`` the
    SHA-256 of the dependency lock it was installed with; ``code_version`` is the chain's ``source_version``;
    ``ledger_index`` the trade-ledger index the lots were read through;
    ``run_id`` the Dagster run; ``weights_sha256`` the week's ``weights_sha256``;
    ``market_data`` (``RETURN_BASIS=market`` only, else empty) the daily bars the week
    was marked with: ``{"bucket": ..., "bars": {key: ETag}}``.
    """

    parameters: Mapping[str, Any]
    baseline_file: str
    baseline_sha256: str
    baseline_uri: str
    baseline_version: str
    package_version: str
    lock_sha256: str
    code_version: str
    ledger_index: str
    run_id: str
    weights_sha256: str
    market_data: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["parameters"] = dict(self.parameters)
        out["market_data"] = dict(self.market_data)
        return out


def week_weights(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Week -> {strategy: weight} of a weights frame (``core.weights.WEIGHT_COLUMNS``)."""
    return {
        str(k): {str(s): float(w) for s, w in zip(rows["strategy"], rows["weight"])}
        for k, rows in frame.groupby("partition_key", observed=True, sort=False)
    }


@dataclass(frozen=True)
class WeeklyWeights:
    """What ``dynamic_weights`` hands its IO manager: the weights frame
    (``core.weights.WEIGHT_COLUMNS``, one row per week and strategy), the
    baseline and parameters it was computed with, each week's provenance, and
    which weeks are to be written (``core.publication_rules.decide``; a week
    without a decision is written). ``run_started_at`` is the creation time of
    the run's root run (``dagster/root_run_id``; a retry keeps its original's),
    epoch seconds UTC: a stored week is replaced only by a run started no
    earlier than the one that wrote it. ``decided_at`` is when the publication rules
    decided (their clock, UTC): the publication log records each week at that time."""

    frame: pd.DataFrame
    baseline: Baseline
    params: WeightingParams
    provenance: Mapping[str, Provenance]
    run_started_at: float
    decisions: Mapping[str, Decision] = field(default_factory=dict)
    decided_at: pd.Timestamp | None = None

    def to_publish(self, keys: list[str]) -> list[str]:
        """The weeks of ``keys`` the IO manager writes."""
        return [k for k in keys if k not in self.decisions or self.decisions[k].published]

    @classmethod
    def build(
        cls,
        frame: pd.DataFrame,
        baseline: Baseline,
        params: WeightingParams,
        *,
        run_id: str,
        run_started_at: float,
        code_version: str,
        ledger_index: Mapping[str, str],
        market_data: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> WeeklyWeights:
        """Weights with each week's provenance; ``ledger_index`` maps week ->
        index its lots were read through ("unknown" where absent); ``market_data``
        week -> the bars it was marked with (``RETURN_BASIS=market``)."""
        version, lock = package_version(), lock_sha256()
        provenance = {
            week: Provenance(
                parameters=params.as_dict(),
                baseline_file=baseline.file_name,
                baseline_sha256=baseline.sha256,
                baseline_uri=baseline.location,
                baseline_version=baseline.version or "none: local file",
                package_version=version,
                lock_sha256=lock,
                code_version=code_version,
                ledger_index=ledger_index.get(week, "unknown"),
                run_id=run_id,
                weights_sha256=weights_sha256_or_none(weights) or "none: weights not finite",
                market_data=dict((market_data or {}).get(week, {})),
            )
            for week, weights in week_weights(frame).items()
        }
        return cls(frame, baseline, params, provenance, run_started_at)
