"""How a week's weights were computed, and whether two computations agree.

Pure Python (hashlib, ast, tokenize): no Dagster, no boto3. The assets attach
a ``Provenance`` to each week's materialization, the IO manager stores it in
each week's DynamoDB item, and the restatement check and the audit command
compare them.

Two fingerprints make computations comparable by hash:

* ``weights_sha256``: SHA-256 of a week's weights in the canonical encoding
  ``CANONICAL_WEIGHTS`` describes;
* ``source_version``: SHA-256 of the source files that define a computation
  (the modules named, plus every ``weighting_pipeline.core`` module they
  import, transitively), with comments, docstrings, blank lines and
  trailing spaces removed, so only an edit to code changes it.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import math
import sys
import tokenize
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    import pandas as pd

    from weighting_pipeline.core.baseline import Baseline
    from weighting_pipeline.core.chain import WeightingParams

CANONICAL_WEIGHTS = (
    "UTF-8 JSON object of strategy -> weight, keys sorted, no whitespace (separators ',' and ':'), "
    "each weight a JSON number written as Python's repr of the float (the shortest decimal that "
    "round-trips), e.g. {\"a.clj\":0.25,\"b.clj\":0.75}"
)
CORE_PACKAGE = "weighting_pipeline.core"
VERSION_LENGTH = 16  # hex digits of SHA-256 kept in a code version: 64 bits


def canonical_weights(weights: Mapping[str, float]) -> bytes:
    """``weights`` (strategy -> fraction of capital) in the canonical encoding."""
    values = {str(k): float(v) for k, v in weights.items()}
    bad = sorted(k for k, v in values.items() if not math.isfinite(v))
    if bad:
        raise ValueError(f"weights of {bad} are not finite; they have no canonical encoding")
    return json.dumps(values, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")


def weights_sha256(weights: Mapping[str, float]) -> str:
    """Hex SHA-256 of ``canonical_weights(weights)``: equal weights, equal hash."""
    return hashlib.sha256(canonical_weights(weights)).hexdigest()


def weights_sha256_or_none(weights: Mapping[str, float]) -> str | None:
    """``weights_sha256``, or None for weights with a NaN or inf (which are never published)."""
    try:
        return weights_sha256(weights)
    except ValueError:
        return None


def package_version() -> str:
    """The installed version of the weighting_pipeline distribution."""
    try:
        return metadata.version("weighting_pipeline")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def code_text(source: str, tree: ast.Module | None = None) -> str:
    """``source`` without comments, docstrings, blank lines or trailing spaces.

    Comments are found with ``tokenize`` and docstrings with ``ast`` by their
    positions, and cut from the text itself, so the result does not depend on
    how a Python version tokenizes or dumps what remains. ``tree`` is
    ``ast.parse(source)``, if the caller has it.
    """
    lines = source.replace("\r\n", "\n").split("\n")
    cuts: list[tuple[int, int, int, int]] = []  # (start line, start col, end line, end col), 1-based lines
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            cuts.append((*tok.start, *tok.end))
    tree = tree or ast.parse(source)
    for node in (tree, *_statements(tree)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                # ast counts columns in UTF-8 bytes, tokenize (and str slicing) in characters.
                c0 = _char_column(lines[first.lineno - 1], first.col_offset)
                c1 = _char_column(lines[first.end_lineno - 1], first.end_col_offset)
                cuts.append((first.lineno, c0, first.end_lineno, c1))
    for l0, c0, l1, c1 in sorted(cuts, reverse=True):
        if l0 == l1:
            lines[l0 - 1] = lines[l0 - 1][:c0] + lines[l0 - 1][c1:]
        else:
            lines[l0 - 1 : l1] = [lines[l0 - 1][:c0] + lines[l1 - 1][c1:]]
    return "\n".join(line.rstrip() for line in lines if line.strip())


def _statements(node: ast.AST):
    """Every statement below ``node`` (not expressions: docstrings and imports are statements)."""
    for name in ("body", "orelse", "finalbody", "handlers", "cases"):
        for child in getattr(node, name, None) or []:
            if isinstance(child, (ast.stmt, ast.excepthandler, getattr(ast, "match_case", ast.stmt))):
                yield child
                yield from _statements(child)


def _char_column(line: str, byte_offset: int) -> int:
    return len(line.encode("utf-8")[:byte_offset].decode("utf-8"))


def _core_imports(module_name: str, tree: ast.Module) -> set[str]:
    """Modules of ``weighting_pipeline.core`` that a module's syntax tree imports (absolute imports)."""
    found = set()
    for node in _statements(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == CORE_PACKAGE:
                found.update(f"{CORE_PACKAGE}.{a.name}" for a in node.names)
            elif node.module.startswith(CORE_PACKAGE + "."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith(CORE_PACKAGE + "."))
    found.discard(module_name)
    return found


def _source(module_name: str) -> str:
    module = sys.modules.get(module_name) or __import__(module_name, fromlist=["_"])
    return Path(module.__file__).read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def _closure(roots: tuple[str, ...]) -> tuple[str, ...]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_core_imports(name, _parsed(name)[1]))
    return tuple(sorted(seen))


def source_modules(*modules: ModuleType | str) -> tuple[str, ...]:
    """The modules a computation is defined by: ``modules`` and the core modules they import."""
    return _closure(tuple(sorted(m if isinstance(m, str) else m.__name__ for m in modules)))


def source_version(*modules: ModuleType | str) -> str:
    """A code version for the computation defined by ``modules``: the first
    ``VERSION_LENGTH`` hex digits of SHA-256 over each module of
    ``source_modules(*modules)`` (name, then ``code_text``), in name order."""
    digest = hashlib.sha256()
    for name in source_modules(*modules):
        digest.update(name.encode() + b"\n" + _module_code(name).encode("utf-8") + b"\n")
    return digest.hexdigest()[:VERSION_LENGTH]


@lru_cache(maxsize=None)
def _parsed(name: str) -> tuple[str, ast.Module]:
    """A module's source and syntax tree, read once per process (every asset's version shares modules)."""
    source = _source(name)
    return source, ast.parse(source)


@lru_cache(maxsize=None)
def _module_code(name: str) -> str:
    return code_text(*_parsed(name))


# Fields a restatement compares: what changes the numbers, not who ran them or when.
COMPARED_FIELDS = ("parameters", "baseline_sha256", "code_version", "ledger_index", "package_version")


@dataclass(frozen=True)
class Provenance:
    """How one week's weights were computed.

    ``parameters`` are the algorithm's (``WeightingParams.as_dict``);
    ``baseline_file`` is the config file's name and ``baseline_sha256`` the
    hash of its bytes; ``baseline_uri`` is where it was read (``s3://bucket/key``,
    or the file's name for a local file) and ``baseline_version`` the S3
    object's ``VersionId <id>`` or ``ETag <etag>`` ("none: local file" otherwise); ``code_version`` is the chain's ``source_version``;
    ``ledger_index`` the trade-ledger index the lots were read through;
    ``run_id`` the Dagster run; ``weights_sha256`` the week's ``weights_sha256``.
    """

    parameters: Mapping[str, Any]
    baseline_file: str
    baseline_sha256: str
    baseline_uri: str
    baseline_version: str
    package_version: str
    code_version: str
    ledger_index: str
    run_id: str
    weights_sha256: str

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["parameters"] = dict(self.parameters)
        return out


def differing_fields(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[str]:
    """The ``COMPARED_FIELDS`` whose values differ between two provenance dicts
    (a field missing from ``old`` counts as differing)."""
    return [f for f in COMPARED_FIELDS if _plain(new.get(f)) != _plain(old.get(f))]


def _plain(value: Any) -> Any:
    """Numbers as floats, so parameters read back from JSON compare equal to the originals."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
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
        names = ", ".join(s for s, _, _ in self.moved[:5]) + (f" and {len(self.moved) - 5} more" if len(self.moved) > 5 else "")
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


def week_weights(frame: "pd.DataFrame") -> dict[str, dict[str, float]]:
    """Week -> {strategy: weight} of a weights frame (``core.weights.WEIGHT_COLUMNS``)."""
    return {
        str(k): {str(s): float(w) for s, w in zip(rows["strategy"], rows["weight"])}
        for k, rows in frame.groupby("partition_key", observed=True, sort=False)
    }


@dataclass(frozen=True)
class WeeklyWeights:
    """What ``dynamic_weights`` hands its IO manager: the weights frame
    (``core.weights.WEIGHT_COLUMNS``, one row per week and strategy), the
    baseline and parameters it was computed with, and each week's provenance."""

    frame: "pd.DataFrame"
    baseline: "Baseline"
    params: "WeightingParams"
    provenance: Mapping[str, Provenance]

    @classmethod
    def build(
        cls,
        frame: "pd.DataFrame",
        baseline: "Baseline",
        params: "WeightingParams",
        *,
        run_id: str,
        code_version: str,
        ledger_index: Mapping[str, str],
    ) -> "WeeklyWeights":
        """Weights with each week's provenance; ``ledger_index`` maps week ->
        index its lots were read through ("unknown" where absent)."""
        version = package_version()
        provenance = {
            week: Provenance(
                parameters=params.as_dict(),
                baseline_file=baseline.file_name,
                baseline_sha256=baseline.sha256,
                baseline_uri=baseline.location,
                baseline_version=baseline.version or "none: local file",
                package_version=version,
                code_version=code_version,
                ledger_index=ledger_index.get(week, "unknown"),
                run_id=run_id,
                weights_sha256=weights_sha256_or_none(weights) or "none: weights not finite",
            )
            for week, weights in week_weights(frame).items()
        }
        return cls(frame, baseline, params, provenance)
