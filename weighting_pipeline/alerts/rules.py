"""Which check outcomes are worth a message: the alert rules, as pure functions.

- The live week (the week trading reads, published by its own run): a WARN check
  alerts when it starts failing, when its cause changes, and when it clears. The
  same check failing for the same cause week after week alerts once. ``Watch``
  is what people were last told, one cause per failing check.
- A backfill sends at most one summary: per check, how many weeks failed and
  which came first.
- A check whose spec metadata says ``weighting/alert: never`` is informational
  and is left out before these rules see it.

No Dagster, no boto3: the sensors read the instance and hand the outcomes here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    """One WARN check's evaluation for one week. ``check`` is ``asset:check``;
    ``cause`` is the failure's cause (stable across weeks), empty when it passed."""

    check: str
    week: str
    passed: bool
    cause: str = ""
    description: str = ""


@dataclass(frozen=True)
class Change:
    """A change worth telling: ``kind`` is ``failing``, ``changed`` or ``cleared``;
    ``was`` is the cause people were last told (empty for ``failing``)."""

    kind: str
    outcome: Outcome
    was: str = ""


Watch = Mapping[str, str]  # check -> the cause last alerted, for each check people were told is failing


def live_week_changes(outcomes: Iterable[Outcome], watch: Watch) -> tuple[list[Change], dict[str, str]]:
    """The changes the live week's ``outcomes`` make to ``watch``, and the new watch.

    A check the outcomes do not mention keeps its state (a run that evaluated
    only some checks says nothing of the others)."""
    changes, after = [], dict(watch)
    for o in sorted(outcomes, key=lambda o: o.check):
        before = after.get(o.check)
        if not o.passed and before != o.cause:
            changes.append(Change("failing" if before is None else "changed", o, before or ""))
            after[o.check] = o.cause
        elif o.passed and before is not None:
            changes.append(Change("cleared", o, before))
            del after[o.check]
    return changes, after


@dataclass(frozen=True)
class CheckSummary:
    """A check's failures over a backfill: ``failed`` weeks of ``weeks`` evaluated, the first few."""

    check: str
    failed: int
    weeks: int
    first: tuple[str, ...]


def backfill_summary(outcomes: Sequence[Outcome], first: int = 3) -> list[CheckSummary]:
    """Per check with any failure, the count of failed weeks and the ``first`` of them."""
    out = []
    for check in sorted({o.check for o in outcomes}):
        mine = [o for o in outcomes if o.check == check]
        failed = sorted(o.week for o in mine if not o.passed)
        if failed:
            out.append(CheckSummary(check, len(failed), len({o.week for o in mine}), tuple(failed[:first])))
    return out
