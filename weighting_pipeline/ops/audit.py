"""The audit trail of a range of weeks, read from the Dagster instance only.

``weighting-pipeline audit --range A...B [--csv FILE]`` prints
one line per week (weights hash, checks, restatement, provenance) and can
write the per-week, per-strategy table an auditor opens in a spreadsheet. It
reads the instance's event log (``DAGSTER_HOME``), which outlives the weights
table's TTL; it never touches DynamoDB.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from typing import Any, Iterable, TextIO

import dagster as dg

from weighting_pipeline.history import Materialization, check_statuses, latest_materializations
from weighting_pipeline.partitions import weekly_partitions
from weighting_pipeline.ops.unpublish import latest_unpublish

CSV_COLUMNS = [
    "week", "strategy", "baseline", "sharpe", "multiplier", "weight", "parameters", "code_version", "run_id",
    "skip_reason", "weights_sha256", "baseline_file", "baseline_sha256", "ledger_index", "package_version",
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
            raise AuditRangeError(f"--range {text!r}: {key!r} is not a weekly partition key (a Sunday from {keys[0]} to {keys[-1]})")
    if first > last:
        raise AuditRangeError(f"--range {text!r}: the first week comes after the last")
    return keys[keys.index(first) : keys.index(last) + 1]


def chain_check_keys() -> list[dg.AssetCheckKey]:
    """Every asset check of every asset of the chain, in chain order."""
    from weighting_pipeline.assets import CHAIN_ASSETS

    return [k for a in CHAIN_ASSETS for k in sorted(a.check_keys, key=lambda k: k.name)]


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
            f"ledger {m.get('ledger_index', '?')}  package {m.get('package_version', '?')}  run {self.publication.run_id}  {settings}"
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
        checks = {f"{k.asset_key.to_user_string()}.{k.name}": (records[k].status.value if k in records else "NOT RUN") for k in keys}
        restatement = "-"
        record = records.get(restated_key)
        evaluation = record.event.dagster_event.event_specific_data if record is not None and record.event else None
        if evaluation is not None and evaluation.metadata.get("status") is not None:
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
                }
            )
            rows += 1
    return rows
