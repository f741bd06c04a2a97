"""The publication log at a backfill's size: what a 261-week range appends, and what the
backtest then reads (one listing, then each week's newest publication), on local disk
and on S3 (moto's server on 127.0.0.1, so S3's own latency is not in it).

Entries have the shape the weights IO manager writes: one allocation row per strategy
and a week's provenance. Each repeat writes under a fresh prefix.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid

import pandas as pd

from weighting_pipeline.core.calendar import previous_key
from weighting_pipeline.publication.log import PUBLISHED, Entry, EntryRef
from weighting_pipeline.resources.publication_log import PublicationLog

FIRST_WEEK = "2021-01-03"


def weeks(n: int) -> list[str]:
    out = [pd.Timestamp(FIRST_WEEK) + pd.Timedelta(weeks=i) for i in range(n)]
    return [w.strftime("%Y-%m-%d") for w in out]


def entries(n_weeks: int, n_strategies: int) -> list[Entry]:
    at = pd.Timestamp("2026-12-07T12:00Z")
    allocation = tuple(
        {
            "strategy": f"strategy_{i:03d}.clj",
            "baseline": 1 / n_strategies,
            "sharpe": 1.234567890123,
            "score": 1.234567890123,
            "multiplier": 1.05,
            "weight": 1 / n_strategies,
            "skip_reason": "",
        }
        for i in range(n_strategies)
    )
    provenance = {p: "x" * 64 for p in ("baseline_sha256", "weights_sha256", "code_version", "lock_sha256")}
    provenance |= {"run_id": str(uuid.uuid4()), "parameters": {"lookback_days": 90, "risk_free_rate": 0.045}}
    return [Entry(EntryRef(w, at, PUBLISHED, provenance["run_id"]), allocation, provenance, {}) for w in weeks(n_weeks)]


def _measure(base_path: str, log_entries: list[Entry]) -> tuple[float, float]:
    log = PublicationLog(base_path=base_path).open()
    t = time.perf_counter()
    log.append(log_entries)
    appended = time.perf_counter() - t
    t = time.perf_counter()
    published = log.weeks()
    wanted = {e.ref.week for e in log_entries} | {previous_key(e.ref.week) for e in log_entries}
    read = published.published(wanted)
    assert len(read) == len(log_entries), len(read)
    return appended, time.perf_counter() - t


def run(n_weeks: int = 261, n_strategies: int = 50, repeats: int = 5) -> dict:
    """Median seconds to append ``n_weeks`` entries and to read them back as the backtest does,
    on disk and on moto's S3; the S3 figures' ratios against the disk's."""
    import boto3

    from weighting_pipeline_devtools.moto_server import LocalAWS

    log_entries = entries(n_weeks, n_strategies)
    timings: dict[str, list[float]] = {k: [] for k in ("disk_append", "disk_read", "s3_append", "s3_read")}
    with tempfile.TemporaryDirectory() as folder, LocalAWS() as aws:
        saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
        os.environ.update(
            {"AWS_ENDPOINT_URL_S3": aws.endpoint, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
        )
        try:
            bucket = f"log-{uuid.uuid4().hex[:8]}"
            boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket)
            for i in range(repeats):
                for where, base in (("disk", f"{folder}/{i}"), ("s3", f"s3://{bucket}/publications-{i}")):
                    appended, read = _measure(base, log_entries)
                    timings[f"{where}_append"].append(appended)
                    timings[f"{where}_read"].append(read)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    medians = {k: statistics.median(v) for k, v in timings.items()}
    return {
        "weeks": n_weeks,
        "strategies": n_strategies,
        "entry_bytes": len(log_entries[0].to_json()),
        **{f"{k}_median_s": m for k, m in medians.items()},
        "median_s": medians["s3_append"] + medians["s3_read"],
        "min_s": min(a + r for a, r in zip(timings["s3_append"], timings["s3_read"])),
        "max_s": max(a + r for a, r in zip(timings["s3_append"], timings["s3_read"])),
        "ratio_vs_disk": (medians["s3_append"] + medians["s3_read"]) / (medians["disk_append"] + medians["disk_read"]),
    }
