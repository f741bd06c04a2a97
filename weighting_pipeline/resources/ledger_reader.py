"""The ledger reader: lots of the baseline strategies and their exit records, by index Query.

Paginated Queries per strategy (never a Scan), strategies read in parallel on
one thread-safe boto3 client. Two reads per strategy:

* **closed lots**, by one of two index plans, chosen by DescribeTable:

  * ``GSI7-StrategyClosedAtIndex`` (``GSI7PK = STRATEGY_LOTS#<name>``,
    ``GSI7SK = fully_closed_at``; a proposal, not on the real table), when the
    table has it: a range on the close time from the window's start.
  * ``GSI5-StrategyLotsIndex`` (``CLOSED#`` sort keys) otherwise. Its sort key
    holds no close date, so DynamoDB reads all of a strategy's closed lots and
    a FilterExpression drops those outside the window before they are sent.
    Read cost grows with history.

  Lots closed after the window but entered before its end are returned too:
  their exits inside the window are P&L under ``pnl_date=exit`` and are shown
  as exits of lots still open at the week's end.
* **open lots** (``OPEN#`` sort keys on GSI5) that have an exit and were
  entered before the window's end; with ``positions`` (``RETURN_BASIS=deployed``),
  those without exits too. A lot left with a tiny remainder stays open for
  ever, so this read grows with such lots.

Bounds are padded by a day (ISO strings with other offsets or precisions only
sort correctly to within hours) and the exact window is applied here. Items
whose times are missing or unreadable are always returned, so they are counted
as skipped rather than filtered away unseen. GSI7 holds only lots that carry
its keys.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import dagster as dg
import orjson
import pandas as pd
from pydantic import Field

from weighting_pipeline.core.deployed import held_in
from weighting_pipeline.core.lots import PNL_DATES, canonical_order, empty_exits, empty_lots, in_window
from weighting_pipeline.resources.dynamodb import DynamoDBResource
from weighting_pipeline.resources.ledger_items import (
    PROJECTION,
    PROJECTION_NAMES,
    ParseReport,
    new_columns,
    parse_items,
    to_frames,
)
from weighting_pipeline.resources.table_schema import GSI5, GSI7, TableSchemaError, describe, require_keys

_PAD = pd.Timedelta(days=1)


@dataclass
class LedgerRead:
    """What one read of the ledger found for ``[start, end)``, and how.

    ``lots``: lots fully closed inside the window (``core.lots.LOT_COLUMNS``).
    ``exits``: exit records with ``exit_timestamp`` inside the window, of
    every usable lot, open, closed in the window or closed after it
    (``EXIT_COLUMNS``). ``positions`` (read with ``positions=True`` only,
    else None): the entry rows and exit records before the window's end of
    every lot held at some moment of it (``core.deployed.held_in``). All in
    canonical order.
    """

    lots: pd.DataFrame
    exits: pd.DataFrame
    positions: pd.DataFrame | None
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
        """Items read per lot needed (closed in the window, or with an exit in it; 1.0 = nothing wasted)."""
        held = [] if self.positions is None else [self.positions["lot_id"]]
        needed = pd.concat([self.lots["lot_id"], self.exits["lot_id"], *held]).nunique()
        return self.scanned / max(needed, 1)

    def bookings(self, pnl_date: str, return_basis: str = "lot") -> pd.DataFrame:
        """The rows the settings compute from: ``lots`` (``pnl_date=close``), ``exits``
        (``exit``), or ``positions`` (``return_basis=deployed`` or ``market``)."""
        if pnl_date not in PNL_DATES:
            raise ValueError(f"pnl_date must be one of {', '.join(PNL_DATES)}, got {pnl_date!r}")
        if return_basis in ("deployed", "market"):
            if self.positions is None:
                raise ValueError(
                    f"return_basis={return_basis} computes from positions, but this read did not ask for them (positions=False)"
                )
            return self.positions
        return self.lots if pnl_date == "close" else self.exits


class LedgerReader(dg.ConfigurableResource):
    """Reads lots and their exit records from the trading system's trade-ledger table."""

    dynamodb: DynamoDBResource
    table_name: str = Field(description="The trade-ledger table (TRADE_LEDGER__TABLE_NAME).")
    max_workers: int = Field(default=4, description="Strategies queried in parallel.")
    page_size: int | None = Field(default=None, description="Items per Query page (default: DynamoDB's 1 MB pages).")
    index: Literal["auto", "GSI5", "GSI7"] = Field(
        default="auto",
        description="auto: GSI7 if the table has it, else GSI5. GSI7 is sparse: only lots carrying GSI7PK/GSI7SK are in it.",
    )

    def read_lots(
        self,
        stems: dict[str, str],
        start: pd.Timestamp,
        end: pd.Timestamp,
        now: pd.Timestamp | None = None,
        positions: bool = False,
    ) -> LedgerRead:
        """The strategies ``stems`` (ledger name -> baseline key): lots with
        ``start <= fully_closed_at < end`` and exit records with ``start <=
        exit_timestamp < end``, in canonical order; with ``positions``, also the
        positions of the lots held in the window (``LedgerRead.positions``).
        Items entered or closed, or exits recorded, after ``now`` (default: the
        current time) are skipped as future."""
        began = time.perf_counter()
        now = pd.Timestamp.now(tz="UTC") if now is None else now
        client = self.dynamodb.new_client()  # its own client: it carries the raw-items hook below
        client.meta.events.register("before-parse.dynamodb.Query", raw_query_items)
        table = describe(client, self.table_name, "TRADE_LEDGER__TABLE_NAME")
        indexes = {g["IndexName"]: g["KeySchema"] for g in table.get("GlobalSecondaryIndexes", [])}
        index = {"GSI5": GSI5, "GSI7": GSI7}.get(self.index) or (GSI7 if GSI7 in indexes else GSI5)
        for name in {index, GSI5}:  # open lots are only ever on GSI5
            if name not in indexes:
                raise TableSchemaError(
                    f"ledger table {self.table_name!r} has no index {name} (it has {sorted(indexes)})"
                )
            prefix = name[:4]
            require_keys(
                indexes[name],
                table["AttributeDefinitions"],
                [(f"{prefix}PK", "HASH"), (f"{prefix}SK", "RANGE")],
                f"index {name} of ledger table {self.table_name!r}",
            )
        lo, hi = _iso(start - _PAD), _iso(end + _PAD)

        def one(stem: str):
            report, cols = ParseReport(), new_columns()
            totals = [0, 0, 0]  # pages, scanned, retries
            for query, open_lots in _queries(index, stem, lo, hi, unsold=positions):
                query.update(
                    TableName=self.table_name,
                    ProjectionExpression=PROJECTION,
                    ExpressionAttributeNames={**PROJECTION_NAMES, **query["ExpressionAttributeNames"]},
                )
                paging = {"PageSize": self.page_size} if self.page_size else {}
                for page in client.get_paginator("query").paginate(**query, PaginationConfig=paging):
                    totals[0] += 1
                    totals[1] += page.get("ScannedCount", len(page.get("Items", [])))
                    totals[2] += page.get("ResponseMetadata", {}).get("RetryAttempts", 0)
                    # Parsed page by page: holding every item dict until the end made
                    # the cyclic GC rescan a growing heap and tripled the parse cost.
                    parse_items(page.get("Items", []), stem, stems[stem], report, cols, open_lots=open_lots)
            return cols, report, *totals

        with ThreadPoolExecutor(max_workers=max(1, min(self.max_workers, len(stems)))) as pool:
            results = list(pool.map(one, sorted(stems)))

        report, pages, scanned, retries = ParseReport(), 0, 0, 0
        lot_frames, exit_frames, position_frames = [], [], []
        for cols, part, n_pages, n_scanned, n_retries in results:
            report.merge(part)
            pages += n_pages
            scanned += n_scanned
            retries += n_retries
            lots, exits, held = to_frames(cols, report, now, positions)
            lot_frames.append(lots)
            exit_frames.append(exits)
            position_frames.append(held)
        categories = pd.CategoricalDtype(list(stems.values()))
        lots = _concat(lot_frames, empty_lots(), categories)
        exits = _concat(exit_frames, empty_exits(), categories)
        held = _concat(position_frames, empty_exits(), categories)
        # The same lot id under two strategies is ambiguous: keep neither.
        rows = pd.concat([exits, held]) if positions else exits
        owners = pd.concat(
            [lots[["lot_id", "strategy"]], rows[["lot_id", "strategy", "fully_closed_at"]]]
        ).drop_duplicates(["lot_id", "strategy"])
        clash = owners.loc[owners["lot_id"].duplicated(keep=False)]
        for row in clash.drop_duplicates("lot_id").itertuples():
            report.skip(
                "lot_id appears under two strategies",
                row.lot_id,
                None if pd.isna(row.fully_closed_at) else row.fully_closed_at.isoformat(),
            )
        ambiguous = set(clash["lot_id"])
        lots, exits, held = (f[~f["lot_id"].isin(ambiguous).to_numpy()] for f in (lots, exits, held))
        lots = canonical_order(lots[in_window(lots, start, end)])
        exits = canonical_order(exits[in_window(exits, start, end)])
        held = held_in(held, start, end) if positions else None
        return LedgerRead(
            lots, exits, held, report, pages, scanned, time.perf_counter() - began, retries, start, end, index
        )


def _concat(frames: list[pd.DataFrame], empty: pd.DataFrame, categories: pd.CategoricalDtype) -> pd.DataFrame:
    out = pd.concat(frames, ignore_index=True) if frames else empty
    # Per-strategy frames carry different categories; give the whole frame the baseline's.
    out["strategy"] = out["strategy"].astype(str).astype(categories)
    return out


def _queries(index: str, stem: str, lo: str, hi: str, unsold: bool = False) -> list[tuple[dict, bool]]:
    """The Query kwargs for one strategy, and whether each reads open lots.

    Closed lots: those closed in the padded window, and those closed after it
    that were entered before its end (they may have exits inside it). Open
    lots (``OPEN#`` on GSI5): those entered before the window's end with an
    exit (or, with ``unsold``, without one too: they are deployed capital). Anything whose times are missing or unreadable is returned, so the
    parser counts it as skipped rather than it being filtered away unseen.
    """
    pk = {"S": f"STRATEGY_LOTS#{stem}"}
    names = {"#closed": "fully_closed_at", "#entry": "entry_timestamp"}
    unreadable_entry = "NOT attribute_type(#entry, :s) OR NOT begins_with(#entry, :century)"
    if index == GSI7:
        closed = {
            "IndexName": GSI7,
            "KeyConditionExpression": "GSI7PK = :pk AND GSI7SK >= :lo",
            "FilterExpression": f"#closed <= :hi OR #entry < :hi OR {unreadable_entry}",
            "ExpressionAttributeValues": {
                ":pk": pk,
                ":lo": {"S": lo},
                ":hi": {"S": hi},
                ":s": {"S": "S"},
                ":century": {"S": "20"},
            },
        }
    else:
        closed = {
            "IndexName": GSI5,
            "KeyConditionExpression": "GSI5PK = :pk AND begins_with(GSI5SK, :closed)",
            "FilterExpression": (
                "#closed BETWEEN :lo AND :hi OR (#closed > :hi AND (#entry < :hi OR " + unreadable_entry + ")) "
                "OR attribute_not_exists(#closed) OR NOT attribute_type(#closed, :s) OR NOT begins_with(#closed, :century)"
            ),
            "ExpressionAttributeValues": {
                ":pk": pk,
                ":closed": {"S": "CLOSED#"},
                ":lo": {"S": lo},
                ":hi": {"S": hi},
                ":s": {"S": "S"},
                ":century": {"S": "20"},
            },
        }
    closed["ExpressionAttributeNames"] = names
    still_open = {
        "IndexName": GSI5,
        "KeyConditionExpression": "GSI5PK = :pk AND begins_with(GSI5SK, :open)",
        "FilterExpression": f"#entry < :hi OR {unreadable_entry}",
        "ExpressionAttributeValues": {
            ":pk": pk,
            ":open": {"S": "OPEN#"},
            ":hi": {"S": hi},
            ":s": {"S": "S"},
            ":century": {"S": "20"},
        },
        "ExpressionAttributeNames": {"#entry": "entry_timestamp"},
    }
    if not unsold:
        still_open["FilterExpression"] = f"size(#exits) > :zero AND ({still_open['FilterExpression']})"
        still_open["ExpressionAttributeValues"][":zero"] = {"N": "0"}
        still_open["ExpressionAttributeNames"]["#exits"] = "exit_records"
    return [(closed, False), (still_open, True)]


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
