"""The asset chain, one module per stage, in order."""

from weighting_pipeline.assets.closed_lots import closed_lots
from weighting_pipeline.assets.daily_returns import daily_returns
from weighting_pipeline.assets.dynamic_weights import dynamic_weights
from weighting_pipeline.assets.multipliers import multipliers
from weighting_pipeline.assets.sharpe_ratios import sharpe_ratios

CHAIN_ASSETS = [closed_lots, daily_returns, sharpe_ratios, multipliers, dynamic_weights]
