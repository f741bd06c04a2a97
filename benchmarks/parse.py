"""Ledger page parse benchmark: the raw-JSON page path on the real item format.

What is timed is what the reader does with each Query page after the HTTP
body arrives: ``orjson.loads`` of the body (``raw_query_items``), then
``parse_items`` and ``to_frame``. Pages are the wire JSON of items written by
``local.ledger_writer`` (numbers as type S, the trading system's format).
Baseline, in the same process: the same items with their numbers as type N,
the only form the parser read before 2026-12-02.
"""

from __future__ import annotations

import statistics
import time

PAGE = 1000  # items per page: about DynamoDB's 1 MB page at ~1 KB an item


def _pages(items: list[dict], numbers_as: str) -> list[bytes]:
    import orjson
    from boto3.dynamodb.types import TypeSerializer

    from weighting_pipeline.resources.ledger_items import PROJECTED

    ser = TypeSerializer()
    numeric = {"entry_qty", "entry_price", "exit_qty", "realized_pnl", "exit_price"}

    def wire(name, value):
        if numbers_as == "N" and name in numeric:
            return {"N": value}
        if name == "exit_records":
            return {"L": [{"M": {k: wire(k, v) for k, v in r.items()}} for r in value]}
        return ser.serialize(value)

    projected = [{k: wire(k, v) for k, v in item.items() if k in PROJECTED} for item in items]
    return [
        orjson.dumps({"Items": projected[i : i + PAGE], "Count": PAGE, "ScannedCount": PAGE})
        for i in range(0, len(projected), PAGE)
    ]


def _parse(pages: list[bytes], stem: str, key: str, now) -> int:
    import orjson

    from weighting_pipeline.resources.ledger_items import ParseReport, new_columns, parse_items, to_frame

    report, cols = ParseReport(), new_columns()
    for body in pages:
        parse_items(orjson.loads(body)["Items"], stem, key, report, cols)
    frame, _exits = to_frame(cols, report, now)
    assert report.skipped_total == 0, dict(report.skipped)
    return len(frame)


def run(n_lots: int, repeats: int = 5) -> dict:
    import pandas as pd

    from weighting_pipeline_devtools.demo_ledger import synthetic_ledger

    key = "ftlt/holy_grail.clj"
    days = 365
    ledger = synthetic_ledger(
        [key],
        "2025-01-01",
        str((pd.Timestamp("2025-01-01") + pd.Timedelta(days=days)).date()),
        n_lots / days / 0.9,
        seed=5,
    )
    closed = [item for item in ledger.items() if not item["is_open"]]
    now = pd.Timestamp("2030-01-01", tz="UTC")
    result = {"lots": len(closed)}
    for form in ("S", "N"):
        pages = _pages(closed, form)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            n = _parse(pages, "holy_grail", key, now)
            times.append(time.perf_counter() - t)
        assert n == len(closed)
        result[form] = {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times)}
    result.update(result["S"])
    result["ratio"] = result["S"]["median_s"] / result["N"]["median_s"]
    return result
