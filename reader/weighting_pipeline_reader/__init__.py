"""weighting-pipeline-reader: what trading installs to read the weekly weights.

``get_strategy_profile(Settings().strategy)`` returns the allocations of the
week in force, or trading's own baseline (with the reason) whenever anything is
off. Only boto3 is needed, and it is imported on the first read, not here.
"""

from weighting_pipeline_reader.profile import StrategyProfile, get_strategy_profile

__all__ = ["StrategyProfile", "get_strategy_profile"]
