"""The ledger reader: closed lots of the baseline strategies, via GSI5 queries.

One paginated Query per strategy on ``GSI5-StrategyLotsIndex`` (never a Scan),
strategies read in parallel on one thread-safe boto3 client. GSI5's sort key
is ``CLOSED#<symbol>#<entry_timestamp>``, with no close date, so every closed
lot of a strategy is read and the window is applied here; the metadata reports
that read amplification.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional

import dagster as dg
import pandas as pd
from pydantic import Field

from weighting_pipeline.core.lots import canonical_order, empty_lots, in_window
from weighting_pipeline.resources.dynamodb import DynamoDBResource
from weighting_pipeline.resources.ledger_items import PROJECTION, PROJECTION_NAMES, ParseReport, parse_items, to_frame

GSI5 = "GSI5-StrategyLotsIndex"


@dataclass
class LedgerRead:
    """Lots closed inside ``[start, end)`` and how they were read."""

    lots: pd.DataFrame
    report: ParseReport
    pages: int
    seconds: float
    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def read_amplification(self) -> float:
        """Items read per item needed (1.0 = nothing wasted)."""
        return self.report.items / max(len(self.lots), 1)


class LedgerReader(dg.ConfigurableResource):
    """Reads closed lots from the trading system's trade-ledger table."""

    dynamodb: DynamoDBResource
    table_name: str = Field(description="The trade-ledger table (TRADE_LEDGER__TABLE_NAME).")
    max_workers: int = Field(default=4, description="Strategies queried in parallel.")
    page_size: Optional[int] = Field(default=None, description="Items per Query page (default: DynamoDB's 1 MB pages).")

    def read_closed_lots(self, stems: dict[str, str], start: pd.Timestamp, end: pd.Timestamp) -> LedgerRead:
        """Closed lots of the strategies ``stems`` (ledger name -> baseline key)
        with ``start <= fully_closed_at < end``, in canonical order."""
        began = time.perf_counter()
        client = self.dynamodb.get_client()

        def one(stem: str):
            report = ParseReport()
            items, pages = [], 0
            kwargs = {
                "TableName": self.table_name,
                "IndexName": GSI5,
                "KeyConditionExpression": "GSI5PK = :pk AND begins_with(GSI5SK, :closed)",
                "ExpressionAttributeValues": {":pk": {"S": f"STRATEGY_LOTS#{stem}"}, ":closed": {"S": "CLOSED#"}},
                "ProjectionExpression": PROJECTION,
                "ExpressionAttributeNames": PROJECTION_NAMES,
            }
            paging = {"PageSize": self.page_size} if self.page_size else {}
            for page in client.get_paginator("query").paginate(**kwargs, PaginationConfig=paging):
                pages += 1
                items.extend(page.get("Items", []))
            return parse_items(items, stem, stems[stem], report), report, pages

        with ThreadPoolExecutor(max_workers=max(1, min(self.max_workers, len(stems)))) as pool:
            results = list(pool.map(one, sorted(stems)))

        report, pages = ParseReport(), 0
        frames = []
        for cols, part, n_pages in results:
            report.merge(part)
            pages += n_pages
            frames.append(to_frame(cols, report))
        lots = pd.concat(frames, ignore_index=True) if frames else empty_lots()
        # The same lot id under two strategies is ambiguous: keep neither.
        clash = lots["lot_id"].duplicated(keep=False).to_numpy()
        for lot_id in lots.loc[clash, "lot_id"].unique():
            report.skip("lot_id appears under two strategies", lot_id)
        lots = lots[~clash]
        lots = canonical_order(lots[in_window(lots, start, end)])
        return LedgerRead(lots, report, pages, time.perf_counter() - began, start, end)
