"""weighting_pipeline: weekly Sharpe-tilted strategy weights, published to DynamoDB.

Trading code: ``from weighting_pipeline import get_strategy_profile``. The
import is lazy so trading processes never load Dagster.
"""

__all__ = ["get_strategy_profile", "StrategyProfile"]


def __getattr__(name: str):
    if name in __all__:
        from weighting_pipeline.reader import profiles

        return getattr(profiles, name)
    raise AttributeError(f"module 'weighting_pipeline' has no attribute {name!r}")
