"""The publication log: what became of each week of ``dynamic_weights``, kept as data.

Trading reads the weights table, whose items expire; the backtest and the
turnover and restatement checks need what was published long after. So the
weights IO manager appends one entry per week it handles (``published``: written
to the table; ``refused``: computed, held back by the publication rules;
``superseded``: computed, but a later run or an unpublish held the item), and
``weighting-pipeline unpublish`` appends ``unpublished``. Entries are never
rewritten: each is one JSON object under ``<week>/<at>-<action>-<id>.json``, so
one listing of the log says what happened to every week, in order, without
reading a file; only the entries whose weights are needed are read.

Pure Python and pandas: the store is ``resources.publication_log``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from weighting_pipeline.core.backtest import PUBLISHED, REFUSED

SUPERSEDED, UNPUBLISHED = "superseded", "unpublished"
ACTIONS = (PUBLISHED, REFUSED, SUPERSEDED, UNPUBLISHED)
WITH_WEIGHTS = (PUBLISHED, REFUSED, SUPERSEDED)  # the entries that carry the week's computed weights
ALLOCATION_FIELDS = ("strategy", "baseline", "sharpe", "score", "multiplier", "weight", "skip_reason")
STAMP = "%Y%m%dT%H%M%S%fZ"  # sorts as text in time order
_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})/(\d{8}T\d{12}Z)-([a-z]+)-([A-Za-z0-9-]+)\.json$")


@dataclass(frozen=True, order=True)
class EntryRef:
    """Where one entry is and what its name says: the week, when it was recorded
    (UTC), its action (``ACTIONS``) and its id (the run id, or a fresh one for an unpublish)."""

    week: str
    at: pd.Timestamp
    action: str
    ident: str

    @property
    def name(self) -> str:
        """The entry's path under the log's root."""
        return f"{self.week}/{self.at.tz_convert('UTC').strftime(STAMP)}-{self.action}-{self.ident}.json"

    @classmethod
    def parse(cls, name: str) -> EntryRef | None:
        """The ref named by a path relative to the log's root; None for anything else
        (a temporary file, a folder)."""
        m = _NAME.match(name)
        if m is None or m.group(3) not in ACTIONS:
            return None
        at = pd.Timestamp(datetime.strptime(m.group(2), STAMP)).tz_localize("UTC")
        return cls(m.group(1), at, m.group(3), m.group(4))


@dataclass(frozen=True)
class Entry:
    """One entry: its ref, and for the actions in ``WITH_WEIGHTS`` the week's allocation
    (one dict per strategy with ``ALLOCATION_FIELDS``; a Sharpe ratio or score that was
    NaN is None) and provenance (``Provenance.as_dict``); ``note`` says why (the
    publication rules' reason, or an unpublish's ``by`` and ``reason``)."""

    ref: EntryRef
    allocation: tuple[Mapping[str, Any], ...] = ()
    provenance: Mapping[str, Any] = field(default_factory=dict)
    note: Mapping[str, str] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return str(self.provenance.get("run_id", "")) if self.provenance else ""

    def weights(self) -> dict[str, float] | None:
        """Strategy -> weight (fraction of capital), or None for an entry without weights."""
        return {str(a["strategy"]): float(a["weight"]) for a in self.allocation} or None

    def frame(self) -> pd.DataFrame:
        """The allocation as rows of a ``dynamic_weights`` frame (NaN where JSON had null),
        without ``partition_key``."""
        rows = pd.DataFrame(list(self.allocation), columns=list(ALLOCATION_FIELDS))
        return rows.astype({"sharpe": float, "score": float})

    def to_json(self) -> bytes:
        body = {
            "week": self.ref.week,
            "at": self.ref.at.isoformat(),
            "action": self.ref.action,
            "allocation": list(self.allocation),
            "provenance": dict(self.provenance),
            "note": dict(self.note),
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()

    @classmethod
    def from_json(cls, ref: EntryRef, data: bytes) -> Entry:
        body = json.loads(data)
        return cls(ref, tuple(body.get("allocation") or ()), body.get("provenance") or {}, body.get("note") or {})


def allocation_rows(week: pd.DataFrame) -> tuple[dict[str, Any], ...]:
    """One week of a weights frame as the entries' allocation (NaN -> None, which JSON can hold)."""

    def plain(value: Any) -> Any:
        if isinstance(value, str):
            return value
        value = float(value)
        return value if math.isfinite(value) else None

    return tuple({f: plain(getattr(r, f)) for f in ALLOCATION_FIELDS} for r in week.itertuples())


@dataclass(frozen=True)
class WeekRecord:
    """What the log says of one week: ``published``, its newest publication;
    ``unpublished_at``, when it was unpublished, if its newest unpublish came after that
    publication; ``latest``, its newest entry with weights, whatever became of them."""

    published: EntryRef | None
    unpublished_at: pd.Timestamp | None
    latest: EntryRef | None

    @property
    def state(self) -> str | None:
        """``PUBLISHED`` (published at least once), ``REFUSED`` (computed, never published)
        or None (never computed)."""
        if self.published is not None:
            return PUBLISHED
        return REFUSED if self.latest is not None else None


def fold(refs: Iterable[EntryRef]) -> dict[str, WeekRecord]:
    """Week -> ``WeekRecord`` from the refs of a listing (any order)."""
    by_week: dict[str, list[EntryRef]] = {}
    for ref in sorted(refs, key=lambda r: (r.at, ACTIONS.index(r.action))):
        by_week.setdefault(ref.week, []).append(ref)
    out = {}
    for week, refs in by_week.items():
        published = [r for r in refs if r.action == PUBLISHED]
        computed = [r for r in refs if r.action in WITH_WEIGHTS]
        chosen = published[-1] if published else None
        gone = [r.at for r in refs if r.action == UNPUBLISHED and (chosen is None or r.at > chosen.at)]
        out[week] = WeekRecord(
            chosen,
            gone[-1] if chosen is not None and gone else None,
            computed[-1] if computed else None,
        )
    return out
