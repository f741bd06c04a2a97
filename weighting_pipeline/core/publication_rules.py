"""Which weeks a run may publish: the weeks trading can read are protected.

Trading's reader (``weighting_pipeline_reader``) uses the latest complete week at ``now``
and, while that week's item is missing, the week before it until its
``valid_until`` plus the reader's grace. Those are the *protected* weeks at the
time of a write. The rules, per week of a run:

1. A run whose resolved settings differ from the deployment's (run config on
   the ``settings`` resource) is a *what-if* run: it publishes no week.
2. A protected week is published only by a run of that week alone (the weekly
   schedule, or a single-week materialisation); a range run publishes its other
   weeks and leaves the protected ones as they are.
3. The run tag ``weighting/publish=force`` lifts rules 1 and 2, and says so on
   the item and the materialization. It does not lift the newer-run-wins rule of
   the weights table.

Pure: no Dagster, no boto3. Times are tz-aware pandas Timestamps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import pandas as pd

from weighting_pipeline.core.calendar import FIRST_WEEK, WeekWindows, current_partition_key, previous_key

PUBLISH_TAG = "weighting/publish"
FORCE = "force"


@dataclass(frozen=True)
class Decision:
    """Whether one week of a run is written to the weights table, and why (one line for people).
    ``protected``: trading could read the week when the run decided (the live week)."""

    week: str
    published: bool
    reason: str
    forced: bool = False
    protected: bool = False


def protected_weeks(now: pd.Timestamp, latest_item_exists: bool, grace: pd.Timedelta) -> list[str]:
    """The weeks trading can read at ``now``: the latest complete week, and the one
    before while the latest has no item and the earlier is within ``valid_until`` + ``grace``."""
    latest = current_partition_key(now, FIRST_WEEK)
    if latest is None:
        return []
    weeks = [latest]
    earlier = previous_key(latest)
    if not latest_item_exists and earlier >= FIRST_WEEK:
        valid_until = WeekWindows.for_keys([earlier], 1).valid_until[0]
        if now < valid_until + grace:
            weeks.append(earlier)
    return weeks


def decide(
    keys: Sequence[str], protected: Sequence[str], differing_settings: Mapping[str, tuple] | None, forced: bool
) -> dict[str, Decision]:
    """Each week of a run over ``keys``: published or not, and why.

    ``differing_settings`` maps each setting whose resolved value differs from the
    deployment's to (deployment's, run's); empty or None means the run uses the
    deployment's settings."""
    decisions = _decide(keys, protected, differing_settings, forced)
    return {k: replace(d, protected=k in protected) for k, d in decisions.items()}


def _decide(
    keys: Sequence[str], protected: Sequence[str], differing_settings: Mapping[str, tuple] | None, forced: bool
) -> dict[str, Decision]:
    if differing_settings:
        names = ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in sorted(differing_settings.items()))
        if not forced:
            why = f"not published: a what-if run (its settings differ from the deployment's: {names})"
            return {k: Decision(k, False, why) for k in keys}
        return {
            k: Decision(k, True, f"published, forced ({PUBLISH_TAG}={FORCE}) although a what-if run ({names})", True)
            for k in keys
        }
    out = {}
    for k in keys:
        if k in protected and len(keys) > 1:
            if forced:
                out[k] = Decision(
                    k, True, f"published, forced ({PUBLISH_TAG}={FORCE}): a protected week in a range run", True
                )
            else:
                out[k] = Decision(
                    k,
                    False,
                    "not published: trading reads this week now, and only a run of this week alone "
                    "publishes it (or the run tag weighting/publish=force)",
                )
        else:
            out[k] = Decision(k, True, "published" + (" (a protected week, run alone)" if k in protected else ""))
    return out
