"""Fingerprints of weights and code, and the comparison behind the restatement check."""

import hashlib
import json
import math

import pytest

from weighting_pipeline.assets import source_version as fingerprint
from weighting_pipeline.assets.code_versions import CHAIN_CODE_VERSION, CODE_VERSIONS, COMPUTATION, chain_modules
from weighting_pipeline.assets.source_version import code_text, source_modules, source_version
from weighting_pipeline.publication import restatement, weights_hash
from weighting_pipeline.publication.restatement import (
    FIRST_PUBLICATION,
    IDENTICAL,
    NOT_COMPARABLE,
    RESTATED,
    compare_publication,
)
from weighting_pipeline.publication.weights_hash import weights_sha256

MATH = '''"""Module docstring."""

import numpy as np


def f(x):
    """Doubles x."""
    return 2 * x  # the factor


@asset(
    partitions_def=weeks,
    description=(
        "The doubled series, "  # prose
        "per week."
    ),
)
def g(x):
    return Output(f(x), metadata={"table": md("| a |")})
'''


def test_the_weights_hash_is_sha256_of_the_stated_canonical_encoding():
    weights = {"b.clj": 0.75, "a.clj": 0.1 + 0.15000000000000002}
    expected = hashlib.sha256(
        json.dumps({"a.clj": weights["a.clj"], "b.clj": 0.75}, separators=(",", ":")).encode()
    ).hexdigest()
    assert weights_sha256(weights) == expected
    assert weights_hash.canonical_weights({"b": 0.5, "a": 0.5}) == b'{"a":0.5,"b":0.5}'
    # Order does not matter; one ulp does.
    assert weights_sha256(dict(reversed(list(weights.items())))) == expected
    assert weights_sha256({**weights, "b.clj": math.nextafter(0.75, 1)}) != expected
    with pytest.raises(ValueError, match="not finite"):
        weights_sha256({"a": float("nan")})


@pytest.mark.parametrize(
    "edit, changes",
    [
        (lambda s: s.replace("# the factor", "# why 2: see the docs"), False),
        (lambda s: s.replace('"""Doubles x."""', '"""Doubles x, a float."""'), False),
        (lambda s: s.replace('"""Module docstring."""', '"""Ünïcode docstring → here."""'), False),
        (lambda s: s.replace("\n\n\ndef", "\n\n\n\n   \ndef"), False),
        (lambda s: s.replace("2 * x", "3 * x"), True),
        (lambda s: s.replace("return 2 * x", "return 2 * x + 0"), True),
        (lambda s: s.replace('"""Doubles x."""', '"""Doubles x."""\n    x = abs(x)'), True),
        # An asset's description and the metadata it shows are prose, not the computation.
        (lambda s: s.replace('"per week."', '"per week, in the UI."'), False),
        (lambda s: s.replace("# prose", "# prose, reworded"), False),
        (lambda s: s.replace('md("| a |")', 'md("| a | b |")'), False),
        (lambda s: s.replace("partitions_def=weeks", "partitions_def=days"), True),
        (lambda s: s.replace("Output(f(x)", "Output(f(x) + 1"), True),
    ],
)
def test_code_text_ignores_comments_docstrings_prose_and_blank_lines_only(edit, changes):
    assert (code_text(edit(MATH)) != code_text(MATH)) is changes


def test_source_versions_follow_imports_into_the_core():
    from weighting_pipeline.core import sharpe

    assert source_modules(sharpe) == (
        "weighting_pipeline.core.calendar",
        "weighting_pipeline.core.deployed",  # the deployed notional (return_basis) the returns may divide by
        "weighting_pipeline.core.grid",
        "weighting_pipeline.core.hac",  # the Newey-West standard errors
        "weighting_pipeline.core.lots",  # the booking rule (pnl_date) the returns follow
        "weighting_pipeline.core.returns",
        "weighting_pipeline.core.sharpe",
        "weighting_pipeline.core.trading_days",  # imported inside a function: still followed
    )
    assert "weighting_pipeline.resources.ledger_items" in chain_modules()
    assert len(set(CODE_VERSIONS.values())) == len(CODE_VERSIONS)  # each asset has its own
    assert all(len(v) == 16 and int(v, 16) >= 0 for v in [CHAIN_CODE_VERSION, *CODE_VERSIONS.values()])


def test_a_change_to_an_imported_core_module_changes_the_version(monkeypatch):
    from weighting_pipeline.core import returns, sharpe

    before = source_version(sharpe)
    original = fingerprint._source

    def edited(name):
        text = original(name)
        return text.replace("2 * days + after", "2 * days + after + 0") if name.endswith("core.calendar") else text

    def use(source):
        monkeypatch.setattr(fingerprint, "_source", source)
        fingerprint._parsed.cache_clear()  # sources are read once per process
        fingerprint._module_code.cache_clear()

    use(edited)
    assert source_version(sharpe) != before  # sharpe imports returns, which imports calendar
    use(lambda name: original(name) + "\n# a comment\n")
    assert source_version(sharpe) == before
    assert source_version(returns) != before
    use(original)


def _use_sources(monkeypatch, source):
    monkeypatch.setattr(fingerprint, "_source", source)
    for cached in (fingerprint._parsed, fingerprint._module_code, fingerprint._closure):
        cached.cache_clear()  # sources are read once per process


def _chain_version() -> str:
    return source_version(*(m for modules in COMPUTATION.values() for m in modules))


def test_editing_code_in_any_module_that_can_change_a_published_number_changes_the_chain_version(monkeypatch):
    """The ledger reader's window padding, the baseline parser and the item's Decimal
    conversion used to be outside the chain's code version."""
    modules = chain_modules()
    numbers = {
        "weighting_pipeline.resources.ledger_reader",
        "weighting_pipeline.resources.ledger_items",
        "weighting_pipeline.core.baseline",
        "weighting_pipeline.publication.item",
        *(f"weighting_pipeline.assets.{a}" for a in COMPUTATION),
    }
    assert numbers <= set(modules)
    original = fingerprint._source
    read: set[str] = set()

    def recording(name):
        read.add(name)
        return original(name)

    _use_sources(monkeypatch, recording)
    assert _chain_version() == CHAIN_CODE_VERSION
    # Only package modules are read: editing a test, a doc or a display module cannot change it.
    assert read == set(modules) and all(m.startswith("weighting_pipeline.") and "tests" not in m for m in read)
    for name in modules:
        _use_sources(monkeypatch, lambda n, name=name: original(n) + ("\n_edited = 1\n" if n == name else ""))
        assert _chain_version() != CHAIN_CODE_VERSION, name
        _use_sources(monkeypatch, lambda n, name=name: original(n) + ("\n# only a comment\n" if n == name else ""))
        assert _chain_version() == CHAIN_CODE_VERSION, name
    _use_sources(monkeypatch, original)


PROV = {
    "parameters": {"lookback_days": 90},
    "baseline_sha256": "b1",
    "code_version": "c1",
    "ledger_index": "GSI7",
    "package_version": "0.1.0",
    "lock_sha256": "l1",
}


@pytest.mark.parametrize(
    "earlier, earlier_prov, status, largest, moved, differing",
    [
        (None, None, FIRST_PUBLICATION, 0.0, [], []),
        ({"a": 0.25, "b": 0.75}, PROV, IDENTICAL, 0.0, [], []),
        ({"a": 0.25, "b": 0.75}, {**PROV, "code_version": "c0"}, IDENTICAL, 0.0, [], ["code_version"]),
        ({"a": 0.5, "b": 0.5}, PROV, RESTATED, 0.25, ["a", "b"], []),  # equal moves: by name
        (
            {"a": 0.25, "b": 0.625, "c": 0.125},
            {**PROV, "baseline_sha256": "b0", "parameters": {"lookback_days": 60}},
            RESTATED,
            0.125,
            ["b", "c"],
            ["parameters", "baseline_sha256"],
        ),
        # An earlier week without provenance: every field differs but market_data, which neither side has off the market basis.
        (
            {"a": 0.25, "b": 0.75},
            {},
            IDENTICAL,
            0.0,
            [],
            [f for f in restatement.COMPARED_FIELDS if f != "market_data"],
        ),
    ],
)
def test_compare_publication(earlier, earlier_prov, status, largest, moved, differing):
    result = compare_publication({"a": 0.25, "b": 0.75}, PROV, earlier, earlier_prov, "run-0" if earlier else None)
    assert result.status == status
    assert result.largest_change == pytest.approx(largest, abs=1e-15)
    assert [m[0] for m in result.moved] == moved
    assert list(result.differing) == differing
    assert result.restated is (status == RESTATED)
    if status == RESTATED:
        assert f"restated: largest change {100 * largest:.4f} pp" in result.summary()
        assert (
            "differs: " + (", ".join(differing) if differing else "no provenance field: the ledger's lots changed")
        ) in result.summary()


def test_parameters_read_back_from_json_compare_equal():
    # Dagster stores the parameters as JSON: ints may come back as ints, floats as floats.
    as_read = json.loads(json.dumps({"lookback_days": 90, "risk_free_rate": 0.045}))
    assert (
        restatement.differing_fields(
            {**PROV, "parameters": {"lookback_days": 90, "risk_free_rate": 0.045}}, {**PROV, "parameters": as_read}
        )
        == []
    )
    assert restatement.differing_fields(
        {**PROV, "parameters": {"lookback_days": 90}}, {**PROV, "parameters": {"lookback_days": 60}}
    ) == ["parameters"]


def test_non_finite_weights_are_not_compared():
    result = compare_publication({"a": float("nan"), "b": 0.5}, PROV, {"a": 0.5, "b": 0.5}, PROV, "run-0")
    assert result.status == NOT_COMPARABLE and not result.restated
