"""Helpers for tests that compare stored weight items with a clean run's."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
from boto3.dynamodb.types import TypeSerializer

from weighting_pipeline.core.calendar import WeekWindows
from weighting_pipeline.core.chain import WeightingParams
from weighting_pipeline.publication.item import week_items
from weighting_pipeline.publication.provenance import WeeklyWeights
from weighting_pipeline.resources.dynamodb import DynamoDBResource
from weighting_pipeline.resources.weights_table import WeightsTable
from weighting_pipeline_reader.item import check_in_force, check_weights
from weighting_pipeline_tests.conftest import ledger_token, run_chain_in_dagster

VOLATILE = {"computed_at", "run_id", "run_started_at", "ttl"}  # differ between runs of the same week
_serializer = TypeSerializer()


def content(item: dict) -> dict:
    return {k: v for k, v in item.items() if k not in VOLATILE}


def stored_weeks(tables, keys: list[str]) -> dict[str, dict]:
    """The stored items of ``keys`` that exist (Python types)."""
    table = WeightsTable(dynamodb=DynamoDBResource(), table_name=tables["weights"])
    return {k: item for k in keys if (item := table.get_week(k)) is not None}


def assert_whole(items: dict[str, dict], reference: dict[str, dict], baseline) -> None:
    """Each item validates as trading reads it (at its own week) and equals the clean run's."""
    for key, item in items.items():
        now = pd.Timestamp(item["valid_from"]) + pd.Timedelta(hours=1)
        wire = {k: _serializer.serialize(v) for k, v in item.items()}
        check_in_force(wire, key, now)
        check_weights(wire, key, {k: Decimal(repr(float(v))) for k, v in baseline.allocations.items()})
        assert content(item) == content(reference[key]), key


_CLEAN: dict[tuple, dict[str, dict]] = {}


def clean_backfill(tables, instance, client, ledger, keys: list[str], keep: int = 0) -> dict[str, dict]:
    """Seed ``ledger`` (a ``SyntheticLedger``), and return the items of a fault-free single-run backfill of
    ``keys``; the weights table then holds the first ``keep`` weeks only: the
    state a test starts from.

    The backfill runs once per ledger and range in a session: an item's content
    does not depend on the table it went to, so later calls write the first
    run's items back instead of computing them again.
    """
    tables.read_only_ledger(ledger)
    token = (ledger_token(ledger), tuple(keys))
    if token not in _CLEAN:
        assert run_chain_in_dagster(instance, partition_range=(keys[0], keys[-1])).success
        items = stored_weeks(tables, keys)
        assert sorted(items) == keys
        for key in keys[keep:]:
            client.delete_item(TableName=tables["weights"], Key={"PK": {"S": "WEIGHTS#WEEK"}, "SK": {"S": key}})
        _CLEAN[token] = items
    elif keep:
        WeightsTable(dynamodb=DynamoDBResource(), table_name=tables["weights"]).put_weeks(
            [_CLEAN[token][k] for k in keys[:keep]]
        )
    return _CLEAN[token]


def items_for(
    frame: pd.DataFrame,
    keys: list[str],
    baseline,
    written_at: pd.Timestamp,
    params: WeightingParams = WeightingParams(),
    run_id: str = "r",
) -> list[dict]:
    """The items the IO manager would write for ``keys`` of a weights frame (Python types),
    by a run started at ``written_at``."""
    part = frame[frame["partition_key"].astype(str).isin(keys)]
    weekly = WeeklyWeights.build(
        part,
        baseline,
        params,
        run_id=run_id,
        run_started_at=written_at.timestamp(),
        code_version="test",
        ledger_index={},
    )
    return week_items(
        weekly, WeekWindows.for_keys(keys, params.lookback_days), written_at=written_at.tz_convert("UTC"), ttl_days=7
    )


def intermediate_file(store, asset: str, week: str):
    """The one Parquet file of ``asset``'s ``week`` under a local intermediates folder
    (``<store>/<asset>/<computation key>/<week>.parquet``)."""
    [path] = sorted(store.glob(f"{asset}/*/{week}.parquet"))
    return path
