"""The algorithm's parameters, declared once.

``ParamFields`` declares each parameter: its type, its default (the seed's, pull
request 2957), its environment variable and its description. ``WeightingParams``
adds the validation and what the core reads of them; the Dagster settings resource
(``settings.WeightingSettings``) takes the same fields, so a new parameter is added
here and nowhere else. Pydantic only: no Dagster, no boto3.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from weighting_pipeline.core.allocation import SLEEVES
from weighting_pipeline.core.calendar import FIRST_WEEK, WeekWindows
from weighting_pipeline.core.deployed import RETURN_BASES
from weighting_pipeline.core.lots import PNL_DATES
from weighting_pipeline.core.multipliers import MAPPINGS, MultiplierBounds
from weighting_pipeline.core.sharpe import MISSING_DAYS, SCORES, SharpeParams
from weighting_pipeline.core.shrinkage import SHRINKAGES

# The trading author's designs as settings (docs/analytics.md, "Presets"): what POLICY sets
# unless a variable says otherwise. "seed" is the defaults (pull request 2957).
POLICIES: dict[str, dict[str, Any]] = {
    "seed": {"score": "sharpe", "lookback_days": 90, "mapping": "minmax", "sleeves": "none", "smoothing": 1.0},
    # Pull request 2977: 12-month Calmar, the median power mapping, and a monthly partial
    # adjustment of 0.1, which is 1 - 0.9 ** (12 / 52) = 0.024 a week: 0.025.
    "pr2977": {
        "score": "calmar",
        "lookback_days": 365,
        "mapping": "median_power",
        "mapping_alpha": 0.5,
        "sleeves": "none",
        "smoothing": 0.025,
    },
    # scripts/rebalance_strategy_weights.py: Calmar (from 12-month backtests), the median power
    # mapping within the ftlt/ and root sleeves, no memory.
    "script": {
        "score": "calmar",
        "lookback_days": 365,
        "mapping": "median_power",
        "mapping_alpha": 0.5,
        "sleeves": "folder",
        "smoothing": 1.0,
    },
}


class ParamFields(BaseModel):
    """The parameters' declaration: type, default, environment variable
    (``json_schema_extra["env"]``) and description of each."""

    lookback_days: int = Field(
        default=90, description="Calendar days in the lookback window.", json_schema_extra={"env": "LOOKBACK_DAYS"}
    )
    risk_free_rate: float = Field(
        default=0.045, description="Annual risk-free rate (0.045 = 4.5%).", json_schema_extra={"env": "RISK_FREE_RATE"}
    )
    min_lots: int = Field(
        default=5, description="Lots a strategy needs in the window to qualify.", json_schema_extra={"env": "MIN_LOTS"}
    )
    min_days: int = Field(
        default=5,
        description="Distinct close dates a strategy needs to qualify.",
        json_schema_extra={"env": "MIN_DAYS"},
    )
    min_multiplier: float = Field(
        default=0.5,
        description="Lowest multiplier of the baseline (0 < min <= 1).",
        json_schema_extra={"env": "MIN_MULTIPLIER"},
    )
    max_multiplier: float = Field(
        default=2.0,
        description="Highest multiplier of the baseline (>= 1).",
        json_schema_extra={"env": "MAX_MULTIPLIER"},
    )
    turnover_warn: float = Field(
        default=0.20,
        description="Week-over-week turnover that raises a WARN (fraction).",
        json_schema_extra={"env": "TURNOVER_WARN_THRESHOLD"},
    )
    noise_alpha: float = Field(
        default=0.05,
        description="Significance level of the noise test (tilt_exceeds_noise): p below it means the Sharpe ratios differ.",
        json_schema_extra={"env": "NOISE_ALPHA"},
    )
    cost_bps: float = Field(
        default=0.0,
        description="Trading cost the backtest charges per unit of capital traded, in basis points (the published weights are unaffected).",
        json_schema_extra={"env": "COST_BPS"},
    )
    missing_days: str = Field(
        default="skip",
        description="skip: dates without a close have no return; zero: NYSE trading days without one count as 0.",
        json_schema_extra={"env": "MISSING_DAYS"},
    )
    score: str = Field(
        default="sharpe",
        description="What the multipliers map: sharpe, sortino or calmar (empyrical's conventions).",
        json_schema_extra={"env": "SCORE"},
    )
    pnl_date: str = Field(
        default="close",
        description="When realised P&L is booked: close (a lot's, when fully closed) or exit (each exit record's, on its date, open lots included). No role under return_basis=market.",
        json_schema_extra={"env": "PNL_DATE"},
    )
    return_basis: str = Field(
        default="lot",
        description="What a return is per: lot (the mean entry notional of the lots booked in the window), deployed (the entry notional still held in the strategy's lots that day; needs pnl_date=exit) or market (every held position marked to trading's daily closes in MARKET_DATA_BUCKET; pnl_date has no role).",
        json_schema_extra={"env": "RETURN_BASIS"},
    )
    mapping: str = Field(
        default="minmax",
        description="How scores become multipliers: minmax (the seed's: best max, worst min) or median_power (clip((s / median) ** MAPPING_ALPHA, min, max); s <= 0 gets min).",
        json_schema_extra={"env": "MAPPING"},
    )
    mapping_alpha: float = Field(
        default=0.5, description="The power of median_power (> 0).", json_schema_extra={"env": "MAPPING_ALPHA"}
    )
    sleeves: str = Field(
        default="none",
        description="none: one renormalisation; folder: within each folder of the baseline keys (ftlt/...), each keeping its baseline total.",
        json_schema_extra={"env": "SLEEVES"},
    )
    score_shrinkage: str = Field(
        default="none",
        description="none, or james_stein: shrink each week's Sharpe ratios toward their mean by the positive-part James-Stein factor before mapping (needs RETURN_BASIS=market, whose standard errors are calibrated).",
        json_schema_extra={"env": "SCORE_SHRINKAGE"},
    )
    smoothing: float = Field(
        default=1.0,
        description="Partial adjustment lambda in (0, 1]: each week's weights move this fraction of the way from the week before's to the week's target (1: none).",
        json_schema_extra={"env": "SMOOTHING"},
    )
    smoothing_start: str = Field(
        default=FIRST_WEEK,
        description="The week (partition key) smoothing starts from, with the baseline as the week before's weights.",
        json_schema_extra={"env": "SMOOTHING_START"},
    )
    policy: str = Field(
        default="none",
        description="A preset of the settings above: seed (pull request 2957, the defaults), pr2977 or script (the trading author's later designs); variables set explicitly override it.",
        json_schema_extra={"env": "POLICY"},
    )


class WeightingParams(ParamFields):
    """Every knob of the algorithm, validated on construction (strict types: no coercion).

    ``lookback_days`` are calendar days; ``risk_free_rate`` is annual (0.045);
    multipliers are factors of the baseline; ``turnover_warn`` is a fraction
    of capital (0.2 = 20%) moved week over week before a WARN; ``noise_alpha`` is the
    significance level below which the noise test says the tilt follows something
    (``core.invariants.tilt_exceeds_noise``); ``cost_bps`` is what the backtest charges
    per unit of capital traded, in basis points (``core.backtest``). ``missing_days``
    (``skip`` | ``zero``) and ``score`` (``sharpe`` | ``sortino`` | ``calmar``)
    are described in ``core.sharpe``; ``pnl_date`` (``close`` | ``exit``), when
    realised P&L is booked, in ``core.lots``; ``return_basis`` (``lot`` |
    ``deployed`` | ``market``), what a return is per, in ``core.returns`` (``deployed``
    needs ``pnl_date=exit``: P&L booked as it is realised, against the capital
    held while it was) and ``core.market`` (``market``: every position marked to
    trading's daily closes; ``pnl_date`` has no role there). ``mapping``
    (``minmax`` | ``median_power``) and ``mapping_alpha`` (the power, > 0) are
    described in ``core.multipliers``; ``sleeves`` (``none`` | ``folder``) in
    ``core.allocation``; ``score_shrinkage`` (``none`` | ``james_stein``, the latter
    on calibrated standard errors only) in ``core.shrinkage``.
    """

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    def __init__(self, **values: Any) -> None:
        super().__init__(**values)
        # After pydantic's checks of each field's type, not in a validator: an invalid
        # combination is then our one-line ValueError rather than pydantic's report.
        problems = []
        if self.lookback_days <= 0:
            problems.append(f"lookback_days must be a positive whole number, got {self.lookback_days!r}")
        if not math.isfinite(self.risk_free_rate):
            problems.append(f"risk_free_rate must be finite, got {self.risk_free_rate!r}")
        for name in ("min_lots", "min_days"):
            value = getattr(self, name)
            if value < 2:
                problems.append(
                    f"{name} must be a whole number >= 2 (a standard deviation needs two points), got {value!r}"
                )
        if not (math.isfinite(self.turnover_warn) and self.turnover_warn >= 0):
            problems.append(f"turnover_warn must be a finite fraction >= 0, got {self.turnover_warn!r}")
        if not (math.isfinite(self.noise_alpha) and 0 < self.noise_alpha < 1):
            problems.append(f"noise_alpha must be a probability strictly between 0 and 1, got {self.noise_alpha!r}")
        if not (math.isfinite(self.cost_bps) and self.cost_bps >= 0):
            problems.append(f"cost_bps must be a finite number of basis points >= 0, got {self.cost_bps!r}")
        if self.missing_days not in MISSING_DAYS:
            problems.append(f"missing_days must be one of {', '.join(MISSING_DAYS)}, got {self.missing_days!r}")
        if self.score not in SCORES:
            problems.append(f"score must be one of {', '.join(SCORES)}, got {self.score!r}")
        if self.pnl_date not in PNL_DATES:
            problems.append(f"pnl_date must be one of {', '.join(PNL_DATES)}, got {self.pnl_date!r}")
        if self.return_basis not in RETURN_BASES:
            problems.append(f"return_basis must be one of {', '.join(RETURN_BASES)}, got {self.return_basis!r}")
        elif self.return_basis == "deployed" and self.pnl_date != "exit":
            problems.append(f"return_basis=deployed requires pnl_date=exit, got pnl_date={self.pnl_date}")
        if self.mapping not in MAPPINGS:
            problems.append(f"mapping must be one of {', '.join(MAPPINGS)}, got {self.mapping!r}")
        if not (math.isfinite(self.mapping_alpha) and self.mapping_alpha > 0):
            problems.append(f"mapping_alpha must be a finite number > 0, got {self.mapping_alpha!r}")
        if self.score_shrinkage not in SHRINKAGES:
            problems.append(f"score_shrinkage must be one of {', '.join(SHRINKAGES)}, got {self.score_shrinkage!r}")
        elif self.score_shrinkage == "james_stein" and (self.score != "sharpe" or self.return_basis != "market"):
            problems.append(
                "score_shrinkage=james_stein needs calibrated standard errors of the score: score=sharpe on "
                f"return_basis=market, got score={self.score}, return_basis={self.return_basis}"
            )
        if not 0 < self.smoothing <= 1:
            problems.append(f"smoothing must be a fraction in (0, 1] (1: none), got {self.smoothing!r}")
        try:
            WeekWindows.for_keys([self.smoothing_start], 1)
        except ValueError:
            problems.append(
                f"smoothing_start must be a week's partition key (a Sunday, YYYY-MM-DD), got {self.smoothing_start!r}"
            )
        if self.policy not in ("none", *POLICIES):
            problems.append(f"policy must be one of {', '.join(POLICIES)}, got {self.policy!r}")
        if self.sleeves not in SLEEVES:
            problems.append(f"sleeves must be one of {', '.join(SLEEVES)}, got {self.sleeves!r}")
        try:
            self.bounds  # noqa: B018 - the property validates the bounds
        except ValueError as exc:
            problems.append(str(exc))
        if problems:
            raise ValueError("invalid weighting parameters: " + "; ".join(problems))

    @property
    def bounds(self) -> MultiplierBounds:
        return MultiplierBounds(self.min_multiplier, self.max_multiplier)

    @property
    def sharpe(self) -> SharpeParams:
        return SharpeParams(
            self.risk_free_rate, self.min_lots, self.min_days, missing_days=self.missing_days, score=self.score
        )

    def as_dict(self) -> dict[str, Any]:
        """Parameter -> value, in declaration order (what computation keys and provenance hash)."""
        return self.model_dump()

    def replace(self, **changes: Any) -> WeightingParams:
        """A copy with ``changes``, validated as a new one is."""
        return WeightingParams(**{**self.model_dump(), **changes})


PARAMS = tuple(ParamFields.model_fields)  # the parameters' names, in declaration order
