"""weighting_pipeline: weekly Sharpe-tilted strategy weights, published to DynamoDB.

Trading reads them with the ``weighting-pipeline-reader`` package
(``from weighting_pipeline_reader import get_strategy_profile``); the same
function is importable from here, without loading Dagster.
"""

from weighting_pipeline_reader import StrategyProfile, get_strategy_profile

__all__ = ["get_strategy_profile", "StrategyProfile"]
