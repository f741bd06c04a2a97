"""Algorithm settings and the baseline location, as one Dagster resource.

Each setting is declared once, as a field of ``WeightingSettings``: its environment
variable (``json_schema_extra={"env": ...}``), its description, and its default, which
is the core's (``core.chain.WeightingParams``, the math's own parameters). ``ENV_VARS``
is derived from the fields. A bad value fails loudly, naming the variable, when the
definitions load.
"""

from __future__ import annotations

import os

import dagster as dg
from pydantic import Field, PrivateAttr

from weighting_pipeline.core.baseline import Baseline, BaselineConfigError, packaged_config_path, stage_file
from weighting_pipeline.core.chain import POLICIES, WeightingParams
from weighting_pipeline.resources.baseline_source import read_baseline

DEFAULTS = WeightingParams()  # the math's defaults: the seed's (pull request 2957)


class SettingsError(ValueError):
    """An environment variable holds a value the pipeline cannot use."""


class WeightingSettings(dg.ConfigurableResource):
    """Parameters of the weighting algorithm and where the baseline comes from."""

    stage: str = Field(
        default="dev",
        description="Deployment stage: picks config/strategy.<stage>.json.",
        json_schema_extra={"env": "APP__STAGE"},
    )
    strategy_config_path: str | None = Field(
        default=None,
        json_schema_extra={"env": "STRATEGY_CONFIG__PATH"},
        description="Baseline JSON: a path or s3://bucket/key (the file trading deploys); overrides the stage's file.",
    )
    lookback_days: int = Field(
        default=DEFAULTS.lookback_days,
        json_schema_extra={"env": "LOOKBACK_DAYS"},
        description="Calendar days in the lookback window.",
    )
    risk_free_rate: float = Field(
        default=DEFAULTS.risk_free_rate,
        json_schema_extra={"env": "RISK_FREE_RATE"},
        description="Annual risk-free rate (0.045 = 4.5%).",
    )
    min_lots: int = Field(
        default=DEFAULTS.min_lots,
        json_schema_extra={"env": "MIN_LOTS"},
        description="Lots a strategy needs in the window to qualify.",
    )
    min_days: int = Field(
        default=DEFAULTS.min_days,
        json_schema_extra={"env": "MIN_DAYS"},
        description="Distinct close dates a strategy needs to qualify.",
    )
    min_multiplier: float = Field(
        default=DEFAULTS.min_multiplier,
        json_schema_extra={"env": "MIN_MULTIPLIER"},
        description="Lowest multiplier of the baseline (0 < min <= 1).",
    )
    max_multiplier: float = Field(
        default=DEFAULTS.max_multiplier,
        json_schema_extra={"env": "MAX_MULTIPLIER"},
        description="Highest multiplier of the baseline (>= 1).",
    )
    turnover_warn: float = Field(
        default=DEFAULTS.turnover_warn,
        json_schema_extra={"env": "TURNOVER_WARN_THRESHOLD"},
        description="Week-over-week turnover that raises a WARN (fraction).",
    )
    cost_bps: float = Field(
        default=DEFAULTS.cost_bps,
        json_schema_extra={"env": "COST_BPS"},
        description="Trading cost the backtest charges per unit of capital traded, in basis points (the published weights are unaffected).",
    )
    noise_alpha: float = Field(
        default=DEFAULTS.noise_alpha,
        json_schema_extra={"env": "NOISE_ALPHA"},
        description="Significance level of the noise test (tilt_exceeds_noise): p below it means the Sharpe ratios differ.",
    )
    missing_days: str = Field(
        default=DEFAULTS.missing_days,
        json_schema_extra={"env": "MISSING_DAYS"},
        description="skip: dates without a close have no return; zero: NYSE trading days without one count as 0.",
    )
    score: str = Field(
        default=DEFAULTS.score,
        json_schema_extra={"env": "SCORE"},
        description="What the multipliers map: sharpe, sortino or calmar (empyrical's conventions).",
    )
    pnl_date: str = Field(
        default=DEFAULTS.pnl_date,
        json_schema_extra={"env": "PNL_DATE"},
        description="When realised P&L is booked: close (a lot's, when fully closed) or exit (each exit record's, on its date, open lots included). No role under return_basis=market.",
    )
    return_basis: str = Field(
        default=DEFAULTS.return_basis,
        json_schema_extra={"env": "RETURN_BASIS"},
        description="What a return is per: lot (the mean entry notional of the lots booked in the window), deployed (the entry notional still held in the strategy's lots that day; needs pnl_date=exit) or market (every held position marked to trading's daily closes in MARKET_DATA_BUCKET; pnl_date has no role).",
    )

    mapping: str = Field(
        default=DEFAULTS.mapping,
        json_schema_extra={"env": "MAPPING"},
        description="How scores become multipliers: minmax (the seed's: best max, worst min) or median_power (clip((s / median) ** MAPPING_ALPHA, min, max); s <= 0 gets min).",
    )
    mapping_alpha: float = Field(
        default=DEFAULTS.mapping_alpha,
        json_schema_extra={"env": "MAPPING_ALPHA"},
        description="The power of median_power (> 0).",
    )
    sleeves: str = Field(
        default=DEFAULTS.sleeves,
        json_schema_extra={"env": "SLEEVES"},
        description="none: one renormalisation; folder: within each folder of the baseline keys (ftlt/...), each keeping its baseline total.",
    )

    score_shrinkage: str = Field(
        default=DEFAULTS.score_shrinkage,
        json_schema_extra={"env": "SCORE_SHRINKAGE"},
        description="none, or james_stein: shrink each week's Sharpe ratios toward their mean by the positive-part James-Stein factor before mapping (needs RETURN_BASIS=market, whose standard errors are calibrated).",
    )

    smoothing: float = Field(
        default=DEFAULTS.smoothing,
        json_schema_extra={"env": "SMOOTHING"},
        description="Partial adjustment lambda in (0, 1]: each week's weights move this fraction of the way from the week before's to the week's target (1: none).",
    )
    smoothing_start: str = Field(
        default=DEFAULTS.smoothing_start,
        json_schema_extra={"env": "SMOOTHING_START"},
        description="The week (partition key) smoothing starts from, with the baseline as the week before's weights.",
    )

    policy: str = Field(
        default=DEFAULTS.policy,
        json_schema_extra={"env": "POLICY"},
        description="A preset of the settings above: seed (pull request 2957, the defaults), pr2977 or script (the trading author's later designs); variables set explicitly override it.",
    )

    compare_policies: str = Field(
        default="",
        json_schema_extra={"env": "COMPARE_POLICIES"},
        description="tilt_report also compares these POLICY presets on one backtest of its weeks (comma-separated, e.g. seed,pr2977,script).",
    )

    _baseline: Baseline | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Read once per run: every asset and the IO manager then see the same validated
        # baseline, even if the file changes while a long backfill runs.
        self._baseline = self._load_baseline()

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> WeightingSettings:
        """Settings from the environment; unset variables keep their defaults."""
        environ = os.environ if environ is None else environ
        values: dict = {}
        policy = (environ.get("POLICY") or "").strip()
        if policy:
            if policy not in POLICIES:
                raise SettingsError(f"POLICY={policy!r} is not a preset: one of {', '.join(POLICIES)}")
            values.update(POLICIES[policy])  # variables set below override the preset
        for field, (var, parse) in ENV_VARS.items():
            raw = environ.get(var)
            if raw is None or raw.strip() == "":
                continue
            try:
                values[field] = parse(raw.strip())
            except ValueError:
                raise SettingsError(f"{var}={raw!r} is not a valid {parse.__name__}") from None
        settings = cls(**values)
        try:
            settings.params()
        except ValueError as exc:
            # The variables set, and any the error names (a default can be half of a bad combination).
            names = (
                ", ".join(var for f, (var, _) in ENV_VARS.items() if f in values or f"{f}=" in str(exc)) or "defaults"
            )
            raise SettingsError(f"{exc} (from {names})") from None
        unknown = [p for p in settings.compare_policies.split(",") if p.strip() and p.strip() not in POLICIES]
        if unknown:
            raise SettingsError(
                f"COMPARE_POLICIES={settings.compare_policies!r} names no preset {', '.join(unknown)}: one of {', '.join(POLICIES)}"
            )
        try:
            stage_file(settings.stage)  # an unknown APP__STAGE fails here, by name, whatever else is set
        except BaselineConfigError as exc:
            raise SettingsError(str(exc)) from None
        return settings

    def differences(self, other: WeightingSettings) -> dict[str, tuple]:
        """Each setting (``ENV_VARS`` field) that changes the weights and whose value differs:
        name -> (this one's, ``other``'s). (What the report compares changes no weight.)"""
        return {
            f: (getattr(self, f), getattr(other, f))
            for f in ENV_VARS
            if f != "compare_policies" and getattr(self, f) != getattr(other, f)
        }

    def params(self) -> WeightingParams:
        """The validated algorithm parameters: every field the core's ``WeightingParams`` has."""
        return WeightingParams(**{name: getattr(self, name) for name in PARAMS})

    def baseline(self) -> Baseline:
        """The validated baseline allocations (never a previous week's weights): the
        run's copy inside Dagster, read from the file otherwise."""
        return self._baseline if self._baseline is not None else self._load_baseline()

    def _load_baseline(self) -> Baseline:
        return read_baseline(str(self.strategy_config_path or packaged_config_path(self.stage)))


def _parser(annotation: object) -> type:
    """How an environment variable's text becomes the field's value."""
    return next((t for t in (int, float) if annotation is t or annotation == t.__name__), str)


# field -> (environment variable, parser), for every field that has one
ENV_VARS: dict[str, tuple[str, type]] = {
    name: (field.json_schema_extra["env"], _parser(field.annotation))
    for name, field in WeightingSettings.model_fields.items()
    if isinstance(field.json_schema_extra, dict) and "env" in field.json_schema_extra
}
PARAMS = tuple(WeightingParams.__dataclass_fields__)  # the fields that are the math's parameters
