"""The asset chain, one module per stage, in order, the backtest that scores it, and the report that judges it."""

import warnings

import dagster as dg

# Dagster warns, while assets are defined, about three features we rely on on purpose:
# partitioned check specs (preview), single-run backfill policies and partition mappings
# to partitions that may not exist (beta). Every
# `dagster` command loads this package first, so silence exactly those messages
# here; any other Dagster warning still shows.
warnings.filterwarnings(
    "ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=dg.PreviewWarning
)
warnings.filterwarnings("ignore", message="Parameter `backfill_policy` of function `asset`", category=dg.BetaWarning)
# tilt_backtest reads the two weeks before each week, which the first partitions do not have.
warnings.filterwarnings("ignore", message="Parameter `allow_nonexistent_upstream_partitions`", category=dg.BetaWarning)

from weighting_pipeline.assets.closed_lots import closed_lots  # noqa: E402
from weighting_pipeline.assets.daily_returns import daily_returns  # noqa: E402
from weighting_pipeline.assets.dynamic_weights import dynamic_weights  # noqa: E402
from weighting_pipeline.assets.multipliers import multipliers  # noqa: E402
from weighting_pipeline.assets.sharpe_ratios import sharpe_ratios  # noqa: E402
from weighting_pipeline.assets.tilt_backtest import tilt_backtest  # noqa: E402
from weighting_pipeline.assets.tilt_report import tilt_report  # noqa: E402

# The weekly job's assets (group "weighting"): partitioned, one run per week or range.
CHAIN_ASSETS = [closed_lots, daily_returns, sharpe_ratios, multipliers, dynamic_weights]
# The analysis job's (group "analysis"), run after each publication: the weekly backtest,
# and the unpartitioned report over every week that has one.
ANALYSIS_ASSETS = [tilt_backtest, tilt_report]
