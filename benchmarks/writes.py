"""Writing a backfill's weeks: conditional PutItems (``WeightsTable.put_weeks``) against
the unconditional BatchWriteItem calls they replaced, on DynamoDB Local.

The items have the shape of published weeks (four 50-strategy maps of Decimals and
the provenance strings), about 9 KB each. Each repeat writes to a fresh table.
"""

from __future__ import annotations

import statistics
import time
import uuid
from decimal import Decimal

from weighting_pipeline.ops.tables import create_weights_table
from weighting_pipeline.publication.item import PK
from weighting_pipeline.resources.weights_table import WeightsTable, to_wire
from weighting_pipeline_devtools.dynamodb_local import LocalDynamoDB
from weighting_pipeline_reader.client import client_config, make_client


def items(n_weeks: int, n_strategies: int, started: float) -> list[dict]:
    strategies = [f"strategy_{i:03d}.clj" for i in range(n_strategies)]
    share = Decimal(1) / n_strategies
    return [
        {
            "PK": PK,
            "SK": f"week-{w:04d}",
            "partition_key": f"week-{w:04d}",
            **{
                m: {s: share for s in strategies}
                for m in ("weights", "multipliers", "baseline_allocations", "sharpe_ratios")
            },
            **{p: "x" * 64 for p in ("baseline_sha256", "weights_sha256", "run_id", "code_version")},
            "run_started_at": Decimal(repr(started)),
            "ttl": 4102444800,
        }
        for w in range(n_weeks)
    ]


def _batch_write(client, table: str, week_items: list[dict]) -> None:
    """The old way: 25 items a call, no condition (unprocessed items retried at once)."""
    for i in range(0, len(week_items), 25):
        request = {table: [{"PutRequest": {"Item": to_wire(item)}} for item in week_items[i : i + 25]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or None


def run(n_weeks: int = 261, n_strategies: int = 50, repeats: int = 5) -> dict:
    """Median seconds to write ``n_weeks`` items each way, and the ratios."""
    with LocalDynamoDB(backend="auto", quiet=True) as db:
        client = make_client(
            client_config(max_attempts=5, connect_timeout=5, read_timeout=30),
            endpoint_url=db.endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

        def fresh() -> str:
            name = f"bench-{uuid.uuid4().hex[:8]}"
            create_weights_table(client, name)
            return name

        timings: dict[str, list[float]] = {"batch": [], "conditional": [], "conditional_serial": []}
        for _ in range(repeats):
            for way in timings:
                name, week_items = fresh(), items(n_weeks, n_strategies, time.time())
                t = time.perf_counter()
                if way == "batch":
                    _batch_write(client, name, week_items)
                else:
                    table = WeightsTable.model_construct(
                        table_name=name, write_concurrency=8 if way == "conditional" else 1
                    )
                    result = table.put_weeks(week_items, client=client)
                    assert len(result.written) == n_weeks, result
                timings[way].append(time.perf_counter() - t)
                client.delete_table(TableName=name)
        medians = {way: statistics.median(ts) for way, ts in timings.items()}
        return {
            "weeks": n_weeks,
            "strategies": n_strategies,
            "backend": db.kind,
            "item_bytes": len(str(to_wire(items(1, n_strategies, 0.0)[0]))),
            **{f"{way}_median_s": m for way, m in medians.items()},
            "median_s": medians["conditional"],
            "min_s": min(timings["conditional"]),
            "max_s": max(timings["conditional"]),
            "ratio_vs_batch": medians["conditional"] / medians["batch"],
            "ratio_vs_serial": medians["conditional_serial"] / medians["conditional"],
        }
