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


def setting(default: Any, env: str, description: str) -> Any:
    """A field with its ``default``, its environment variable ``env`` and ``description``."""
    return Field(default=default, description=description, json_schema_extra={"env": env})


class ParamFields(BaseModel):
    """The parameters' declaration: type, default, environment variable
    (``json_schema_extra["env"]``) and description of each."""

    lookback_days: int = setting(90, "LOOKBACK_DAYS", "Calendar days in the lookback window.")
    risk_free_rate: float = setting(0.045, "RISK_FREE_RATE", "Annual risk-free rate (0.045 = 4.5%).")
    min_lots: int = setting(5, "MIN_LOTS", "Lots a strategy needs in the window to qualify.")
    min_days: int = setting(5, "MIN_DAYS", "Distinct close dates a strategy needs to qualify.")
    min_multiplier: float = setting(0.5, "MIN_MULTIPLIER", "Lowest multiplier of the baseline (0 < min <= 1).")
    max_multiplier: float = setting(2.0, "MAX_MULTIPLIER", "Highest multiplier of the baseline (>= 1).")
    turnover_warn: float = setting(
        0.20, "TURNOVER_WARN_THRESHOLD", "Week-over-week turnover that raises a WARN (fraction)."
    )
    noise_alpha: float = setting(
        0.05,
        "NOISE_ALPHA",
        "Significance level of the noise test (tilt_exceeds_noise): p below it means the Sharpe ratios differ.",
    )
    cost_bps: float = setting(
        0.0,
        "COST_BPS",
        "Trading cost the backtest charges per unit of capital traded, in basis points (the published weights are unaffected).",
    )
    missing_days: str = setting(
        "skip",
        "MISSING_DAYS",
        "skip: dates without a close have no return; zero: NYSE trading days without one count as 0.",
    )
    score: str = setting(
        "sharpe", "SCORE", "What the multipliers map: sharpe, sortino or calmar (empyrical's conventions)."
    )
    pnl_date: str = setting(
        "close",
        "PNL_DATE",
        "When realised P&L is booked: close (a lot's, when fully closed) or exit (each exit record's, on its date, open lots included). No role under return_basis=market.",
    )
    return_basis: str = setting(
        "lot",
        "RETURN_BASIS",
        "What a return is per: lot (the mean entry notional of the lots booked in the window), deployed (the entry notional still held in the strategy's lots that day; needs pnl_date=exit) or market (every held position marked to trading's daily closes in MARKET_DATA_BUCKET; pnl_date has no role).",
    )
    mapping: str = setting(
        "minmax",
        "MAPPING",
        "How scores become multipliers: minmax (the seed's: best max, worst min) or median_power (clip((s / median) ** MAPPING_ALPHA, min, max); s <= 0 gets min).",
    )
    mapping_alpha: float = setting(0.5, "MAPPING_ALPHA", "The power of median_power (> 0).")
    sleeves: str = setting(
        "none",
        "SLEEVES",
        "none: one renormalisation; folder: within each folder of the baseline keys (ftlt/...), each keeping its baseline total.",
    )
    score_shrinkage: str = setting(
        "none",
        "SCORE_SHRINKAGE",
        "none, or james_stein: shrink each week's Sharpe ratios toward their mean by the positive-part James-Stein factor before mapping (needs RETURN_BASIS=market, whose standard errors are calibrated).",
    )
    smoothing: float = setting(
        1.0,
        "SMOOTHING",
        "Partial adjustment lambda in (0, 1]: each week's weights move this fraction of the way from the week before's to the week's target (1: none).",
    )
    smoothing_start: str = setting(
        FIRST_WEEK,
        "SMOOTHING_START",
        "The week (partition key) smoothing starts from, with the baseline as the week before's weights.",
    )
    policy: str = setting(
        "none",
        "POLICY",
        "A preset of the settings above: seed (pull request 2957, the defaults), pr2977 or script (the trading author's later designs); variables set explicitly override it.",
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
