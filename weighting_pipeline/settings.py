"""Algorithm settings and the baseline location, as one Dagster resource.

Each setting is declared once, as a pydantic field with its environment variable
(``json_schema_extra={"env": ...}``), description and default: the math's parameters
in ``core.params.ParamFields``, which both this resource and the core's
``WeightingParams`` take as their fields, and the stage, baseline path and report
comparison here. ``ENV_VARS`` is derived from the fields. A bad value fails loudly,
naming the variable, when the definitions load.
"""

from __future__ import annotations

import os

import dagster as dg
from pydantic import PrivateAttr

from weighting_pipeline.core.baseline import Baseline, BaselineConfigError, packaged_config_path, stage_file
from weighting_pipeline.core.params import PARAMS, POLICIES, ParamFields, WeightingParams, setting
from weighting_pipeline.resources.baseline_source import read_baseline


class SettingsError(ValueError):
    """An environment variable holds a value the pipeline cannot use."""


class WeightingSettings(dg.ConfigurableResource, ParamFields):
    """Parameters of the weighting algorithm (every field of ``core.params.ParamFields``,
    declared there) and where the baseline comes from."""

    stage: str = setting("dev", "APP__STAGE", "Deployment stage: picks config/strategy.<stage>.json.")
    strategy_config_path: str | None = setting(
        None,
        "STRATEGY_CONFIG__PATH",
        "Baseline JSON: a path or s3://bucket/key (the file trading deploys); overrides the stage's file.",
    )
    compare_policies: str = setting(
        "",
        "COMPARE_POLICIES",
        "tilt_report also compares these POLICY presets on one backtest of its weeks (comma-separated, e.g. seed,pr2977,script).",
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
