"""Faults between the pipeline and DynamoDB (issue 4, section 3).

The full chain runs through Dagster against DynamoDB Local behind
``FaultProxy``. Each run must either complete with items identical to a
fault-free run, or fail with an error naming the DynamoDB call, leaving every
previously written week as it was and no week half-written.
"""

from __future__ import annotations

import re

import pytest

from weighting_pipeline.resources.dynamodb import DynamoDBResource
from weighting_pipeline_devtools.demo_ledger import synthetic_ledger
from weighting_pipeline_tests.conftest import run_chain_in_dagster
from weighting_pipeline_tests.fault_proxy import FAULTS, FaultProxy
from weighting_pipeline_tests.stored_weeks import assert_whole, clean_backfill, content, stored_weeks

WEEKS = ["2026-02-01", "2026-02-08", "2026-02-15", "2026-02-22", "2026-03-01", "2026-03-08"]
ALREADY_WRITTEN = WEEKS[:4]  # the state before the faulty run; the last two weeks are new
CLEAR_ERROR = re.compile(r"calling the \w+ operation|endpoint URL|weeks NOT confirmed written")

# (fault, rate on reads, rate on writes): every fault at a low and a high rate on both,
# plus certain failure on each side.
MATRIX = [(f, r, r) for f in FAULTS for r in (0.1, 0.4)] + [
    ("http500", 0.0, 1.0),
    ("throttling", 1.0, 0.0),
    ("drop", 0.0, 1.0),
    ("drop", 1.0, 0.0),
    ("timeout", 1.0, 0.0),
]


def faulty_client(endpoint: str) -> DynamoDBResource:
    # botocore standard retries, 4 attempts, short timeouts so a held request times out fast
    return DynamoDBResource(endpoint_url=endpoint, max_attempts=4, connect_timeout=0.5, read_timeout=1.0)


@pytest.fixture
def reference(tables, baseline, instance, client):
    """A fault-free backfill of all weeks, then the last two removed: the state before a faulty run."""
    ledger = synthetic_ledger(baseline.keys, "2025-10-15", "2026-03-20", 1.0, seed=12)
    return clean_backfill(tables, instance, client, ledger, WEEKS, keep=len(ALREADY_WRITTEN))


def assert_outcome(result, before: dict, reference: dict, tables, baseline) -> str:
    """The issue's either/or; returns "completed" or "failed"."""
    after = stored_weeks(tables, WEEKS)
    assert_whole(after, reference, baseline)  # whole items, never different numbers
    if result.success:
        assert sorted(after) == WEEKS
        return "completed"
    errors = "\n".join(e.step_failure_data.error.to_string() for e in result.all_events if e.is_step_failure)
    assert CLEAR_ERROR.search(errors), errors[-2000:]
    for key in before:  # previously written weeks are all still there, unchanged in content
        assert content(after[key]) == content(before[key]), key
    return "failed"


@pytest.mark.parametrize("fault, read_rate, write_rate", MATRIX, ids=[f"{f}-r{r}-w{w}" for f, r, w in MATRIX])
def test_each_run_completes_identically_or_fails_cleanly(
    reference, tables, baseline, instance, dynamodb, fault, read_rate, write_rate
):
    before = stored_weeks(tables, WEEKS)
    assert sorted(before) == ALREADY_WRITTEN
    with FaultProxy(dynamodb.endpoint, fault, {"read": read_rate, "write": write_rate}, seed=7, hold_s=1.5) as proxy:
        result = run_chain_in_dagster(
            instance, partition_range=(WEEKS[0], WEEKS[-1]), dynamodb=faulty_client(proxy.endpoint)
        )
    outcome = assert_outcome(result, before, reference, tables, baseline)
    print(
        f"fault {fault} reads {read_rate} writes {write_rate}: {outcome}; injected {sum(proxy.injected.values())} of {sum(proxy.requests.values())} requests"
    )
    assert sum(proxy.injected.values()) > 0 or (read_rate < 1 and write_rate < 1), proxy.injected
    if (read_rate == 1.0 or write_rate == 1.0) and fault != "latency":
        assert outcome == "failed"  # four attempts all faulted: it must not pretend to succeed
    if outcome == "completed" and fault != "latency":
        # Every fault on a ledger Query or a weights write was retried, and the metadata says so.
        assert _reported_retries(instance) >= proxy.injected_on("Query", "PutItem", "BatchWriteItem"), proxy.injected


def _reported_retries(instance) -> int:
    import dagster as dg

    total = 0
    for asset, key in (("closed_lots", "query_retries"), ("dynamic_weights", "request_retries")):
        event = instance.get_latest_materialization_event(dg.AssetKey(asset))
        total += int(event.asset_materialization.metadata[key].value)
    return total
