"""The audit trail of a range of weeks, read from the Dagster instance, and optionally
checked against the weights table.

``weighting-pipeline audit --range A...B [--csv FILE] [--against-table]`` prints
one line per week (weights hash, checks, restatement, provenance) and can
write the per-week, per-strategy table an auditor opens in a spreadsheet. It
reads the instance's event log (``DAGSTER_HOME``), which outlives the weights
table's TTL. Only ``--against-table`` reads DynamoDB: one Query over the range,
then each week's item is compared with the materialization of the run that
wrote it (``compare_week``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TextIO

import dagster as dg

from weighting_pipeline.history import (
    Materialization,
    check_statuses,
    latest_materializations,
    materializations_of_runs,
)
from weighting_pipeline.ops.unpublish import latest_unpublish
from weighting_pipeline.partitions import weekly_partitions
from weighting_pipeline.publication.item import TOMBSTONE, is_live, is_tombstone

CSV_COLUMNS = [
    "week",
    "strategy",
    "baseline",
    "sharpe",
    "multiplier",
    "weight",
    "parameters",
    "code_version",
    "run_id",
    "skip_reason",
    "weights_sha256",
    "baseline_file",
    "baseline_sha256",
    "ledger_index",
    "package_version",
    "lock_sha256",
]


class AuditRangeError(ValueError):
    """The --range argument does not name weekly partitions."""


def weeks_in(text: str) -> list[str]:
    """Partition keys of ``A...B`` (or one key), in order; errors name the problem."""
    first, _, last = text.partition("...")
    last = last or first
    keys = weekly_partitions.get_partition_keys()
    for key in (first, last):
        if key not in keys:
            raise AuditRangeError(
                f"--range {text!r}: {key!r} is not a weekly partition key (a Sunday from {keys[0]} to {keys[-1]})"
            )
    if first > last:
        raise AuditRangeError(f"--range {text!r}: the first week comes after the last")
    return keys[keys.index(first) : keys.index(last) + 1]


def chain_check_keys() -> list[dg.AssetCheckKey]:
    """Every asset check of every asset of the chain, in chain order."""
    from weighting_pipeline.assets import CHAIN_ASSETS

    return [k for a in CHAIN_ASSETS for k in sorted(a.check_keys, key=lambda k: k.name)]


@dataclass(frozen=True)
class TableView:
    """What the weights table holds for a week, held against the event log.

    ``state``: ``agrees`` (the item's run recorded this week with the same
    weights_sha256), ``no item`` (never written, expired by its TTL, or lost),
    ``unpublished`` (a tombstone), or a disagreement: ``no materialization of its
    run`` (the item's run recorded no materialization of the week: a write that
    landed in a run that then failed) or ``weights_sha256 differs``."""

    week: str
    state: str
    run_id: str = ""
    detail: str = ""

    DISAGREEMENTS = ("no materialization of its run", "weights_sha256 differs")

    @property
    def disagrees(self) -> bool:
        return self.state in self.DISAGREEMENTS

    def text(self) -> str:
        return " ".join(
            x
            for x in (
                f"table: {self.state.upper() if self.disagrees else self.state}",
                self.run_id and f"run {self.run_id}",
                self.detail,
            )
            if x
        )


TABLE_ATTRIBUTES = ("run_id", "weights_sha256", TOMBSTONE)


def compare_week(week: str, item: dict | None, recorded: Materialization | None) -> TableView:
    """The table's ``item`` for ``week`` (None if none) against ``recorded``, the
    materialization of that week by the item's run (None if that run recorded none)."""
    if item is None:
        return TableView(week, "no item", detail="(never written, expired, or lost)")
    if is_tombstone(item):
        gone = item[TOMBSTONE]
        return TableView(week, "unpublished", detail=f"by {gone.get('by')} at {gone.get('at')}")
    run_id, stored = str(item.get("run_id", "")), str(item.get("weights_sha256", ""))
    if recorded is None:
        return TableView(week, "no materialization of its run", run_id, f"weights {stored}")
    logged = str(recorded.metadata.get("weights_sha256", ""))
    if logged != stored:
        return TableView(week, "weights_sha256 differs", run_id, f"table {stored}, event log {logged}")
    return TableView(week, "agrees", run_id)


def against_table(instance: dg.DagsterInstance, table, weeks: list[str]) -> dict[str, TableView]:
    """Each of ``weeks`` as the weights table (``resources.weights_table.WeightsTable``) holds it,
    against the materialization of the run that wrote it: one Query, one event query per run."""
    from weighting_pipeline.assets.dynamic_weights import ASSET

    items = table.query_weeks(weeks[0], weeks[-1], TABLE_ATTRIBUTES)
    run_of = {week: str(item.get("run_id", "")) for week, item in items.items() if is_live(item)}
    recorded = materializations_of_runs(instance, ASSET, run_of.values())
    return {week: compare_week(week, items.get(week), recorded.get((run_of.get(week), week))) for week in weeks}


@dataclass(frozen=True)
class WeekAudit:
    """What the instance holds for one week."""

    week: str
    publication: Materialization | None  # latest dynamic_weights materialization
    checks: dict[str, str]  # "<asset>.<check>" -> SUCCEEDED | FAILED | PLANNED | NOT RUN
    restatement: str
    unpublished: dict | None = None  # the latest unpublish after the latest publication

    def line(self) -> str:
        """One line: week, weights hash, check summary, restatement, provenance; an
        unpublished week says so first."""
        if self.unpublished is not None:
            u = self.unpublished
            rolled = f"UNPUBLISHED at {u['at']} by {u['by']} (trading uses the baseline): {u['reason']}  was: "
            return f"{self.week}  {rolled}{self._published_line().split('  ', 1)[1]}"
        return self._published_line()

    def _published_line(self) -> str:
        failed = [n for n, s in self.checks.items() if s == "FAILED"]
        other = [n for n, s in self.checks.items() if s not in ("SUCCEEDED", "FAILED")]
        checks = f"checks {sum(s == 'SUCCEEDED' for s in self.checks.values())}/{len(self.checks)} passed"
        checks += f", failed: {', '.join(failed)}" if failed else ""
        checks += f", not evaluated: {', '.join(other)}" if other else ""
        if self.publication is None:
            return f"{self.week}  not published (no dynamic_weights materialization in this instance)  {checks}"
        m = self.publication.metadata
        params = m.get("parameters") or {}
        settings = " ".join(f"{k}={v}" for k, v in params.items())
        return (
            f"{self.week}  weights {m.get('weights_sha256', 'unrecorded')}  {checks}  restatement: {self.restatement}  "
            f"code {m.get('code_version', '?')}  baseline {m.get('baseline_file', '?')}@{str(m.get('baseline_sha256', '?'))[:12]}  "
            f"ledger {m.get('ledger_index', '?')}  package {m.get('package_version', '?')}  lock {str(m.get('lock_sha256', '?'))[:12]}  run {self.publication.run_id}  {settings}"
        )


def audit(instance: dg.DagsterInstance, weeks: list[str]) -> list[WeekAudit]:
    """The audit of each of ``weeks``: latest publication and latest check results."""
    from weighting_pipeline.assets.dynamic_weights import ASSET, RESTATEMENT_CHECK

    publications = latest_materializations(instance, ASSET, weeks)
    keys = chain_check_keys()
    restated_key = dg.AssetCheckKey(dg.AssetKey(ASSET), RESTATEMENT_CHECK)
    out = []
    for week in weeks:
        records = check_statuses(instance, keys, week)
        checks = {
            f"{k.asset_key.to_user_string()}.{k.name}": (records[k].status.value if k in records else "NOT RUN")
            for k in keys
        }
        restatement = "-"
        record = records.get(restated_key)
        evaluation = record.event.dagster_event.event_specific_data if record is not None and record.event else None
        # A check of a run that failed before evaluating it has only its planned event.
        if isinstance(evaluation, dg.AssetCheckEvaluation) and evaluation.metadata.get("status") is not None:
            restatement = str(evaluation.metadata["status"].value)
        publication = publications.get(week)
        unpublished = latest_unpublish(instance, week)
        if unpublished is not None and publication is not None and unpublished["storage_id"] < publication.storage_id:
            unpublished = None  # published again since
        out.append(WeekAudit(week, publication, checks, restatement, unpublished))
    return out


def write_csv(audits: Iterable[WeekAudit], out: TextIO) -> int:
    """The per-week, per-strategy table of ``CSV_COLUMNS``; returns the rows written."""
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    rows = 0
    for a in audits:
        if a.publication is None:
            continue
        m = a.publication.metadata
        allocation: dict[str, dict[str, Any]] = m.get("allocation") or {}
        for strategy, values in allocation.items():
            writer.writerow(
                {
                    "week": a.week,
                    "strategy": strategy,
                    "baseline": repr(values["baseline"]),
                    "sharpe": "" if values["sharpe"] is None else repr(values["sharpe"]),
                    "multiplier": repr(values["multiplier"]),
                    "weight": repr(values["weight"]),
                    "parameters": json.dumps(m.get("parameters"), sort_keys=True),
                    "code_version": m.get("code_version", ""),
                    "run_id": a.publication.run_id,
                    "skip_reason": values.get("skip_reason", ""),
                    "weights_sha256": m.get("weights_sha256", ""),
                    "baseline_file": m.get("baseline_file", ""),
                    "baseline_sha256": m.get("baseline_sha256", ""),
                    "ledger_index": m.get("ledger_index", ""),
                    "package_version": m.get("package_version", ""),
                    "lock_sha256": m.get("lock_sha256", ""),
                }
            )
            rows += 1
    return rows
