"""What defines each asset's computation, and the code versions derived from it.

Each asset declares ``code_version=CODE_VERSIONS[name]``, a fingerprint of the
modules below plus the ``core`` modules they import (``source_version``): every
module that can change a number the asset stores or publishes, the asset's own
module included (it cuts the windows and wires the core). Editing a comment or a
docstring changes no version; editing code in any of these modules does, and
Dagster then marks the asset and everything downstream stale. ``CHAIN_CODE_VERSION``
covers the whole chain; it is the ``code_version`` recorded in each week's provenance.
"""

from weighting_pipeline.assets.source_version import source_modules, source_version

# Module names, not module objects: the asset modules import this one.
_ASSETS = "weighting_pipeline.assets."
COMPUTATION = {
    # The ledger read: its window padding and filters, and the item parser.
    "closed_lots": (
        _ASSETS + "closed_lots",
        "weighting_pipeline.resources.ledger_reader",
        "weighting_pipeline.resources.ledger_items",
        "weighting_pipeline.core.lots",
    ),
    "daily_returns": (
        _ASSETS + "daily_returns",
        "weighting_pipeline.core.returns",
        "weighting_pipeline.core.lots",
        "weighting_pipeline.core.market",
        "weighting_pipeline.resources.market_data",
    ),
    "sharpe_ratios": (_ASSETS + "sharpe_ratios", "weighting_pipeline.core.sharpe"),
    "multipliers": (_ASSETS + "multipliers", "weighting_pipeline.core.multipliers"),
    # How the baseline file is read, and how each weight is written to its item (Decimal).
    "dynamic_weights": (
        _ASSETS + "dynamic_weights",
        "weighting_pipeline.core.weights",
        "weighting_pipeline.core.allocation",
        "weighting_pipeline.core.invariants",
        "weighting_pipeline.core.baseline",
        "weighting_pipeline.publication.item",
    ),
}
# Scores the weights; not part of how a week's weights are computed, so not in CHAIN_CODE_VERSION.
BACKTEST = {
    "tilt_backtest": (
        _ASSETS + "tilt_backtest",
        "weighting_pipeline.core.backtest",
        "weighting_pipeline.core.weights",
        "weighting_pipeline.core.allocation",
        "weighting_pipeline.core.lots",
        "weighting_pipeline.core.attribution",
        "weighting_pipeline.core.market",
        "weighting_pipeline.resources.market_data",
    )
}

CODE_VERSIONS = {name: source_version(*modules) for name, modules in {**COMPUTATION, **BACKTEST}.items()}
# tilt_report is unpartitioned and outside the weekly job; its version is kept apart from
# CODE_VERSIONS, which lists what every week's materializations record.
REPORT_CODE_VERSION = source_version(
    _ASSETS + "tilt_report", "weighting_pipeline.core.analytics", _ASSETS + "charts", _ASSETS + "report"
)
CHAIN_CODE_VERSION = source_version(*(m for modules in COMPUTATION.values() for m in modules))


def chain_modules() -> tuple[str, ...]:
    """Every module the chain's code version covers (for docs and audits)."""
    return source_modules(*(m for modules in COMPUTATION.values() for m in modules))
