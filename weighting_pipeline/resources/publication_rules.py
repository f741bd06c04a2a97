"""The clock and the reader's grace that decide which weeks are protected (``core.publication_rules``)."""

from __future__ import annotations

import dagster as dg
import pandas as pd
from pydantic import Field

# The reader's own variable and default: the rules protect the weeks the reader may serve.
from weighting_pipeline_reader.profile import DEFAULT_GRACE_HOURS, GRACE_ENV

__all__ = ["GRACE_ENV", "DEFAULT_GRACE_HOURS", "PublicationRules"]


class PublicationRules(dg.ConfigurableResource):
    """When "now" is for the publication rules, and the reader's grace after ``valid_until``."""

    now: str = Field(
        default="",
        description="An ISO-8601 time with offset to decide protected weeks at (tests, rehearsals); empty: the clock.",
    )
    grace_hours: float = Field(
        default=DEFAULT_GRACE_HOURS,
        ge=0,
        description="The reader's grace after a week's valid_until (STRATEGY_WEIGHTS__GRACE_HOURS).",
    )

    def clock(self) -> pd.Timestamp:
        """The time the rules are applied at (UTC)."""
        if not self.now:
            return pd.Timestamp.now(tz="UTC")
        at = pd.Timestamp(self.now)
        if at.tzinfo is None:
            raise ValueError(f"PublicationRules.now={self.now!r} has no time zone offset")
        return at.tz_convert("UTC")

    def grace(self) -> pd.Timedelta:
        return pd.Timedelta(hours=self.grace_hours)
