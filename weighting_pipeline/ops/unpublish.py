"""Roll a week back to the baseline: replace its item with a tombstone, and say so where auditors look.

Trading falls back to the baseline when a week has no item, and reads a
tombstone as no item (``weighting_pipeline_reader``), so the tombstone is the rollback.
It carries ``run_started_at`` = the time of the unpublish: a run started before
it, still running, cannot publish the rolled-back week again (a newer run can;
``publication.item``). The action is appended to the publication log
(``publication.log``), where the backtest reads that trading no longer had the
week, and recorded as an ``AssetObservation`` of that week of
``dynamic_weights`` in the Dagster instance: it shows in the asset's event list
for the week in the UI, and ``audit`` prints it. The week's materializations
stay in the event log and its publication in the log, untouched: history is
not rewritten.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

import dagster as dg
import pandas as pd

from weighting_pipeline.partitions import weekly_partitions
from weighting_pipeline.publication.item import is_live, tombstone
from weighting_pipeline.publication.log import UNPUBLISHED, Entry, EntryRef
from weighting_pipeline.resources.publication_log import PublicationLog
from weighting_pipeline.resources.weights_table import WeightsTable

log = logging.getLogger("weighting_pipeline.ops.unpublish")
ASSET = "dynamic_weights"
ACTION = UNPUBLISHED


class UnpublishError(ValueError):
    """The request cannot be carried out as given."""


@dataclass(frozen=True)
class Unpublished:
    week: str
    by: str
    reason: str
    at: str
    deleted_run_id: str | None  # the run whose item was removed; None if the week had none
    deleted_weights_sha256: str | None


def unpublish(
    instance: dg.DagsterInstance, table: WeightsTable, publications: PublicationLog, week: str, reason: str, by: str
) -> Unpublished:
    """Replace ``week``'s weights item with a tombstone and record who did it and why
    (``reason`` is required) in the publication log (``publications``) and the instance."""
    if not reason or not reason.strip():
        raise UnpublishError("--reason is required: say why the week goes back to the baseline")
    if not by or not by.strip():
        raise UnpublishError("the operator's name is empty: pass --by")
    if week not in weekly_partitions.get_partition_keys():
        raise UnpublishError(f"--week {week!r} is not a weekly partition key (a Sunday week start)")
    at = pd.Timestamp.now(tz="UTC")
    stored = table.get_week(week)
    replaced = table.replace_week(tombstone(week, by=by.strip(), reason=reason.strip(), at=at, replaced=stored))
    deleted = replaced if is_live(replaced) else None
    done = Unpublished(
        week=week,
        by=by.strip(),
        reason=reason.strip(),
        at=at.isoformat(),
        deleted_run_id=deleted.get("run_id") if deleted else None,
        deleted_weights_sha256=deleted.get("weights_sha256") if deleted else None,
    )
    log.warning("Week %s unpublished by %s (trading now uses the baseline): %s", week, done.by, done.reason)
    metadata = {
        "action": ACTION,
        "by": done.by,
        "reason": done.reason,
        "at": done.at,
        "weights_table": table.table_name,
        "deleted_run_id": done.deleted_run_id or "(no item was stored)",
        "deleted_weights_sha256": done.deleted_weights_sha256 or "(no item was stored)",
    }
    entry = Entry(EntryRef(week, at, ACTION, uuid.uuid4().hex), note={"by": done.by, "reason": done.reason})
    for where, record in (
        ("the publication log", lambda: publications.open(instance).append([entry])),
        (
            "the Dagster instance",
            lambda: instance.report_runless_asset_event(
                dg.AssetObservation(asset_key=ASSET, partition=week, metadata=metadata)
            ),
        ),
    ):
        try:
            record()
        except Exception as exc:
            raise RuntimeError(
                f"week {week} WAS unpublished in {table.table_name}, but recording it in {where} failed "
                f"({type(exc).__name__}: {exc}); run the same unpublish again to record it"
            ) from exc
    return done


def latest_unpublish(instance: dg.DagsterInstance, week: str) -> dict | None:
    """The metadata of ``week``'s latest unpublish observation, with its event storage id, or None."""
    records = instance.fetch_observations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(ASSET), asset_partitions=[week]), limit=1
    ).records
    for record in records:
        metadata = {k: v.value for k, v in record.asset_observation.metadata.items()}
        if metadata.get("action") == ACTION:
            return {**metadata, "storage_id": record.storage_id}
    return None
