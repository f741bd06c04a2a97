"""The ledger reader: closed lots of the baseline strategies, by index Query.

One paginated Query per strategy (never a Scan), strategies read in parallel
on one thread-safe boto3 client. Two index plans, chosen by DescribeTable:

* ``GSI7-StrategyClosedAtIndex`` (``GSI7PK = STRATEGY_LOTS#<name>``,
  ``GSI7SK = fully_closed_at``), when the table has it: a ``BETWEEN`` on the
  close time reads little more than the window.
* ``GSI5-StrategyLotsIndex`` otherwise. Its sort key holds no close date, so
  DynamoDB reads all of a strategy's closed lots and a FilterExpression drops
  those far outside the window before they are sent. Read cost grows with history.

Either way the bounds are padded by a day (ISO strings with other offsets or
precisions only sort correctly to within hours) and the exact window is applied
here. On GSI5, items whose ``fully_closed_at`` is missing, not a string or not
starting with "20" are always returned, so they are counted as skipped rather
than filtered away unseen. GSI7 holds only lots that carry its keys.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, Optional

import dagster as dg
import orjson
import pandas as pd
from pydantic import Field

from weighting_pipeline.core.lots import canonical_order, empty_lots, in_window
from weighting_pipeline.resources.dynamodb import DynamoDBResource
from weighting_pipeline.resources.ledger_items import PROJECTION, PROJECTION_NAMES, ParseReport, new_columns, parse_items, to_frame
from weighting_pipeline.resources.table_schema import GSI5, GSI7, TableSchemaError, describe, require_keys

_PAD = pd.Timedelta(days=1)


@dataclass
class LedgerRead:
    """Lots closed inside ``[start, end)`` and how they were read."""

    lots: pd.DataFrame
    report: ParseReport
    pages: int
    scanned: int  # items DynamoDB read (and charged for), filtered or not
    seconds: float
    retries: int  # botocore retries (throttling, 5xx, dropped connections, timeouts) across all pages
    start: pd.Timestamp
    end: pd.Timestamp
    index: str

    @property
    def read_amplification(self) -> float:
        """Items read per item needed (1.0 = nothing wasted)."""
        return self.scanned / max(len(self.lots), 1)


class LedgerReader(dg.ConfigurableResource):
    """Reads closed lots from the trading system's trade-ledger table."""

    dynamodb: DynamoDBResource
    table_name: str = Field(description="The trade-ledger table (TRADE_LEDGER__TABLE_NAME).")
    max_workers: int = Field(default=4, description="Strategies queried in parallel.")
    page_size: Optional[int] = Field(default=None, description="Items per Query page (default: DynamoDB's 1 MB pages).")
    index: Literal["auto", "GSI5", "GSI7"] = Field(
        default="auto",
        description="auto: GSI7 if the table has it, else GSI5. GSI7 is sparse: only lots carrying GSI7PK/GSI7SK are in it.",
    )

    def read_closed_lots(
        self, stems: dict[str, str], start: pd.Timestamp, end: pd.Timestamp, now: pd.Timestamp | None = None
    ) -> LedgerRead:
        """Closed lots of the strategies ``stems`` (ledger name -> baseline key)
        with ``start <= fully_closed_at < end``, in canonical order. Items
        closed after ``now`` (default: the current time) are skipped as future."""
        began = time.perf_counter()
        now = pd.Timestamp.now(tz="UTC") if now is None else now
        client = self.dynamodb.new_client()  # its own client: it carries the raw-items hook below
        client.meta.events.register("before-parse.dynamodb.Query", raw_query_items)
        table = describe(client, self.table_name, "TRADE_LEDGER__TABLE_NAME")
        indexes = {g["IndexName"]: g["KeySchema"] for g in table.get("GlobalSecondaryIndexes", [])}
        index = {"GSI5": GSI5, "GSI7": GSI7}.get(self.index) or (GSI7 if GSI7 in indexes else GSI5)
        if index not in indexes:
            raise TableSchemaError(f"ledger table {self.table_name!r} has no index {index} (it has {sorted(indexes)})")
        prefix = index[:4]
        require_keys(
            indexes[index], table["AttributeDefinitions"], [(f"{prefix}PK", "HASH"), (f"{prefix}SK", "RANGE")],
            f"index {index} of ledger table {self.table_name!r}",
        )
        lo, hi = _iso(start - _PAD), _iso(end + _PAD)

        def one(stem: str):
            report, cols = ParseReport(), new_columns()
            pages, scanned, retries = 0, 0, 0
            values = {":pk": {"S": f"STRATEGY_LOTS#{stem}"}, ":lo": {"S": lo}, ":hi": {"S": hi}}
            names = dict(PROJECTION_NAMES)
            if index == GSI7:
                kwargs = {"KeyConditionExpression": "GSI7PK = :pk AND GSI7SK BETWEEN :lo AND :hi"}
            else:
                names["#closed"] = "fully_closed_at"
                values[":closed"] = {"S": "CLOSED#"}
                values[":s"] = {"S": "S"}
                values[":century"] = {"S": "20"}
                kwargs = {
                    "KeyConditionExpression": "GSI5PK = :pk AND begins_with(GSI5SK, :closed)",
                    # Trim only well-formed-looking times outside the padded window; anything
                    # missing or unreadable is returned so the parser counts it as skipped.
                    "FilterExpression": (
                        "#closed BETWEEN :lo AND :hi OR attribute_not_exists(#closed) "
                        "OR NOT attribute_type(#closed, :s) OR NOT begins_with(#closed, :century)"
                    ),
                }
            kwargs.update(
                TableName=self.table_name,
                IndexName=index,
                ExpressionAttributeValues=values,
                ProjectionExpression=PROJECTION,
                ExpressionAttributeNames=names,
            )
            paging = {"PageSize": self.page_size} if self.page_size else {}
            for page in client.get_paginator("query").paginate(**kwargs, PaginationConfig=paging):
                pages += 1
                scanned += page.get("ScannedCount", len(page.get("Items", [])))
                retries += page.get("ResponseMetadata", {}).get("RetryAttempts", 0)
                # Parsed page by page: holding every item dict until the end made
                # the cyclic GC rescan a growing heap and tripled the parse cost.
                parse_items(page.get("Items", []), stem, stems[stem], report, cols)
            return cols, report, pages, scanned, retries

        with ThreadPoolExecutor(max_workers=max(1, min(self.max_workers, len(stems)))) as pool:
            results = list(pool.map(one, sorted(stems)))

        report, pages, scanned, retries = ParseReport(), 0, 0, 0
        frames = []
        for cols, part, n_pages, n_scanned, n_retries in results:
            report.merge(part)
            pages += n_pages
            scanned += n_scanned
            retries += n_retries
            frames.append(to_frame(cols, report, now))
        lots = pd.concat(frames, ignore_index=True) if frames else empty_lots()
        # Per-strategy frames carry different categories; give the whole frame the baseline's.
        lots["strategy"] = lots["strategy"].astype(str).astype(pd.CategoricalDtype(list(stems.values())))
        # The same lot id under two strategies is ambiguous: keep neither.
        clash = lots["lot_id"].duplicated(keep=False).to_numpy()
        for row in lots.loc[clash].drop_duplicates("lot_id").itertuples():
            report.skip("lot_id appears under two strategies", row.lot_id, row.fully_closed_at.isoformat())
        lots = lots[~clash]
        lots = canonical_order(lots[in_window(lots, start, end)])
        return LedgerRead(lots, report, pages, scanned, time.perf_counter() - began, retries, start, end, index)


def raw_query_items(response_dict: dict, customized_response_dict: dict, **_) -> None:
    """botocore ``before-parse`` hook: hand back Query ``Items`` as decoded JSON.

    botocore's generic shape parser walks every nested AttributeValue and was
    ~60% of a large ledger read. The wire JSON already has the parsed form
    (``{"S": ...}``, ``{"N": "1.5"}``, ``{"L": [...]}``, ``{"M": {...}}``,
    ``{"BOOL": true}``), so ``Items`` are taken from it and botocore parses only
    the rest (counts, ``LastEvaluatedKey``). Binary attributes would stay base64
    text; the ledger has none. Error responses and bodies that are not whole
    JSON (a connection cut mid-response) are left to botocore.
    """
    if response_dict.get("status_code") != 200:
        return
    try:
        body = orjson.loads(response_dict["body"])
    except orjson.JSONDecodeError:
        return  # a truncated body: botocore's own parsing and CRC32 check reject and retry it
    if "Items" in body:
        customized_response_dict["Items"] = body.pop("Items")
        response_dict["body"] = orjson.dumps(body)


def _iso(ts: pd.Timestamp) -> str:
    """UTC ISO-8601 as the trading system writes it (``...Z``)."""
    return ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%fZ")
