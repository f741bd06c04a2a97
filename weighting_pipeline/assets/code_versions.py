"""What defines each asset's computation, and the code versions derived from it.

Each asset declares ``code_version=CODE_VERSIONS[name]``, a fingerprint of the
modules below plus the ``core`` modules they import (``provenance.source_version``):
editing the math changes it, editing a comment or the Dagster shell does not.
Dagster then marks the asset and everything downstream stale. ``CHAIN_CODE_VERSION``
covers the whole chain; it is the ``code_version`` recorded in each week's provenance.
"""

from weighting_pipeline.assets import charts
from weighting_pipeline.assets import report
from weighting_pipeline.core import allocation, analytics, backtest, invariants, lots, multipliers, returns, sharpe, weights
from weighting_pipeline.assets.source_version import source_modules, source_version
from weighting_pipeline.resources import ledger_items

COMPUTATION = {
    "closed_lots": (ledger_items, lots),
    "daily_returns": (returns, lots),
    "sharpe_ratios": (sharpe,),
    "multipliers": (multipliers,),
    "dynamic_weights": (weights, allocation, invariants),
}
# Scores the weights; not part of how a week's weights are computed, so not in CHAIN_CODE_VERSION.
BACKTEST = {"tilt_backtest": (backtest, weights, allocation, lots)}

CODE_VERSIONS = {name: source_version(*modules) for name, modules in {**COMPUTATION, **BACKTEST}.items()}
# tilt_report is unpartitioned and outside the weekly job; its version is kept apart from
# CODE_VERSIONS, which lists what every week's materializations record.
REPORT_CODE_VERSION = source_version(analytics, charts, report)
CHAIN_CODE_VERSION = source_version(*(m for modules in COMPUTATION.values() for m in modules))


def chain_modules() -> tuple[str, ...]:
    """Every module the chain's code version covers (for docs and audits)."""
    return source_modules(*(m for modules in COMPUTATION.values() for m in modules))
