"""The restatement rule: a week's new weights against its earlier publication.

Two publications are the same when their ``weights_sha256`` are equal; when
they are not, the ``COMPARED_FIELDS`` of their provenance say what explains it
(a changed setting, baseline, code, package or dependency lock), and none differing means the
ledger's lots changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from weighting_pipeline.publication.weights_hash import weights_sha256_or_none

# Fields a restatement compares: what changes the numbers, not who ran them or when.
COMPARED_FIELDS = (
    "parameters",
    "baseline_sha256",
    "code_version",
    "ledger_index",
    "package_version",
    "lock_sha256",
    "market_data",
)


def differing_fields(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[str]:
    """The ``COMPARED_FIELDS`` whose values differ between two provenance dicts
    (a field missing from ``old`` counts as differing)."""
    return [f for f in COMPARED_FIELDS if _plain(new.get(f)) != _plain(old.get(f))]


def _plain(value: Any) -> Any:
    """Numbers as floats, so parameters read back from JSON compare equal to the originals."""
    if isinstance(value, Mapping):
        # No map and an empty one (market_data off the market basis) are the same.
        return {str(k): _plain(v) for k, v in value.items()} or None
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


FIRST_PUBLICATION = "first publication"
IDENTICAL = "identical"
RESTATED = "restated"
NOT_COMPARABLE = "not comparable"


@dataclass(frozen=True)
class Restatement:
    """A week's new weights against the week's earlier publication.

    ``status`` is ``FIRST_PUBLICATION`` (nothing earlier), ``IDENTICAL``
    (same ``weights_sha256``), ``RESTATED``, or ``NOT_COMPARABLE`` (the new
    weights hold a NaN or inf, so a blocking check stops them anyway). ``moved`` lists (strategy,
    earlier weight, new weight) for every strategy whose weight changed,
    largest change first; a strategy on one side only counts as 0 on the other.
    ``largest_change`` is the largest absolute change, a fraction of capital.
    ``differing`` names the ``COMPARED_FIELDS`` that differ.
    """

    status: str
    largest_change: float = 0.0
    moved: tuple[tuple[str, float, float], ...] = ()
    differing: tuple[str, ...] = ()
    earlier_run_id: str | None = None

    @property
    def restated(self) -> bool:
        return self.status == RESTATED

    def summary(self) -> str:
        """One line for people: what changed, and what explains it."""
        if self.status == FIRST_PUBLICATION:
            return FIRST_PUBLICATION
        if self.status == NOT_COMPARABLE:
            return "not comparable: the new weights are not finite (a blocking check fails)"
        why = ", ".join(self.differing) if self.differing else "no provenance field: the ledger's lots changed"
        if self.status == IDENTICAL:
            return f"identical to run {self.earlier_run_id}" + (f" (though {why} differ)" if self.differing else "")
        names = ", ".join(s for s, _, _ in self.moved[:5]) + (
            f" and {len(self.moved) - 5} more" if len(self.moved) > 5 else ""
        )
        return f"restated: largest change {100 * self.largest_change:.4f} pp ({names}); differs: {why}"


def compare_publication(
    weights: Mapping[str, float],
    provenance: Mapping[str, Any],
    earlier_weights: Mapping[str, float] | None,
    earlier_provenance: Mapping[str, Any] | None,
    earlier_run_id: str | None = None,
) -> Restatement:
    """Compare a week's new weights and provenance with its earlier publication
    (``earlier_weights`` None: there was none)."""
    if earlier_weights is None:
        return Restatement(FIRST_PUBLICATION)
    differing = tuple(differing_fields(provenance, earlier_provenance or {}))
    digest = weights_sha256_or_none(weights)
    if digest is None:
        return Restatement(NOT_COMPARABLE, differing=differing, earlier_run_id=earlier_run_id)
    if digest == weights_sha256_or_none(earlier_weights):
        return Restatement(IDENTICAL, differing=differing, earlier_run_id=earlier_run_id)
    names = sorted(set(weights) | set(earlier_weights))
    moved = [(s, float(earlier_weights.get(s, 0.0)), float(weights.get(s, 0.0))) for s in names]
    moved = sorted((m for m in moved if m[1] != m[2]), key=lambda m: (-abs(m[2] - m[1]), m[0]))
    return Restatement(RESTATED, abs(moved[0][2] - moved[0][1]), tuple(moved), differing, earlier_run_id)
