"""The trading reader never hurts trading (issue 4, section 4).

Hypothesis feeds ``get_strategy_profile`` items that start as a real week's
item and are then broken in every way a table could hold them. The client is
a stand-in that returns those items (the item's content is what is fuzzed;
``test_profiles.py`` covers the real DynamoDB path). A second test times the
reader against an endpoint that never answers.
"""

from __future__ import annotations

import functools
import logging
import time
from decimal import Decimal

import pandas as pd
import pytest
from boto3.dynamodb.types import TypeSerializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from weighting_pipeline import get_strategy_profile
from weighting_pipeline.core.baseline import load_baseline, packaged_config_path
from weighting_pipeline.core.chain import run_chain
from weighting_pipeline_devtools.demo_ledger import synthetic_lots
from weighting_pipeline_tests.listening import silent_endpoint
from weighting_pipeline_tests.stored_weeks import items_for

KEY, PREVIOUS = "2040-02-19", "2040-02-12"
NOW = pd.Timestamp("2040-02-28 12:00", tz="America/New_York")
BASELINE = load_baseline(packaged_config_path("prod"))
TRADING = {"files": BASELINE.keys, "allocations": BASELINE.allocations.to_dict()}
_serializer = TypeSerializer()


@functools.cache
def valid_items() -> dict[str, dict]:
    """Real items of the two weeks (wire format), built once, on first use."""
    lots = synthetic_lots(BASELINE.keys, "2039-10-01", "2040-03-10", 1.0, seed=2)
    frame = run_chain(lots, [PREVIOUS, KEY], BASELINE.allocations)["dynamic_weights"]
    out = {}
    for key in (PREVIOUS, KEY):
        item = items_for(frame, [key], BASELINE, NOW)[0]
        out[key] = {k: _serializer.serialize(v) for k, v in item.items()}
    return out


# Attribute values of every shape DynamoDB can hold, and some it cannot.
junk_number = st.sampled_from(["NaN", "Infinity", "-Infinity", "-0.1", "1e400", "abc", "", "0x10", "1_000", " 1 "])
attribute = st.recursive(
    st.one_of(
        st.builds(lambda s: {"S": s}, st.text(max_size=20)),
        st.builds(
            lambda n: {"N": n}, st.one_of(junk_number, st.decimals(allow_nan=False, allow_infinity=False).map(str))
        ),
        st.builds(lambda b: {"BOOL": b}, st.booleans()),
        st.just({"NULL": True}),
        st.none(),
        st.integers(),
        st.text(max_size=5),
    ),
    lambda inner: st.one_of(
        st.builds(lambda xs: {"L": xs}, st.lists(inner, max_size=4)),
        st.builds(lambda m: {"M": m}, st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    ),
    max_leaves=12,
)


@st.composite
def broken_item(draw):
    """A real item with a few attributes replaced, removed or added."""
    item = dict(draw(st.sampled_from([valid_items()[KEY], valid_items()[PREVIOUS]])))
    for _ in range(draw(st.integers(1, 4))):
        action = draw(
            st.sampled_from(["replace", "delete", "weight", "drop_weight", "extra_weight", "huge", "ttl", "week"])
        )
        name = draw(st.sampled_from(sorted(item) or ["weights"]))
        weights = dict(item.get("weights", {}).get("M", {})) if isinstance(item.get("weights"), dict) else {}
        if action == "replace":
            item[name] = draw(attribute)
        elif action == "delete":
            item.pop(name, None)
        elif action == "weight" and weights:
            weights[draw(st.sampled_from(sorted(weights)))] = draw(attribute)
            item["weights"] = {"M": weights}
        elif action == "drop_weight" and weights:
            weights.pop(draw(st.sampled_from(sorted(weights))))
            item["weights"] = {"M": weights}
        elif action == "extra_weight":
            weights[draw(st.text(min_size=1, max_size=12))] = {"N": "0.01"}
            item["weights"] = {"M": weights}
        elif action == "huge":
            item["weights"] = {"M": {f"s{i}.clj": {"N": "0.0001"} for i in range(draw(st.integers(1000, 5000)))}}
        elif action == "ttl":
            item["ttl"] = {"N": str(draw(st.sampled_from([0, 1, int(NOW.timestamp()) - 1, 2**63, -5])))}
        elif action == "week":
            item["partition_key"] = {"S": draw(st.sampled_from(["2040-02-26", "2041-01-06", "2039-12-31", ""]))}
    return item


class ItemsClient:
    """Returns the given item for the current week and another for last week."""

    def __init__(self, current, previous):
        self.items = {KEY: current, PREVIOUS: previous}

    def get_item(self, TableName, Key, ConsistentRead):
        item = self.items.get(Key["SK"]["S"])
        return {} if item is None else {"Item": item}


@pytest.fixture
def weights_table_env(monkeypatch):
    monkeypatch.setenv("STRATEGY_WEIGHTS__TABLE_NAME", "strategy-weights-fuzz")


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    current=st.one_of(st.none(), broken_item()),
    previous=st.one_of(st.none(), broken_item(), st.builds(lambda: valid_items()[PREVIOUS])),
)
def test_fuzzed_items_always_give_safe_allocations(weights_table_env, caplog, current, previous):
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="weighting_pipeline_reader"):
        profile = get_strategy_profile(TRADING, now=NOW, client=ItemsClient(current, previous))
    values = list(profile.allocations.values())
    assert set(profile.allocations) == set(BASELINE.keys)
    assert all(isinstance(v, Decimal) and v.is_finite() and v >= 0 for v in values)
    assert abs(sum(values) - 1) <= Decimal("1e-9")
    if not profile.is_dynamic:
        assert profile.source.startswith("baseline: ")
        assert any("Using baseline allocations" in r.getMessage() for r in caplog.records)


def test_the_valid_items_are_used_so_the_fuzz_starts_from_a_good_item(weights_table_env):
    profile = get_strategy_profile(TRADING, now=NOW, client=ItemsClient(valid_items()[KEY], valid_items()[PREVIOUS]))
    assert profile.is_dynamic and profile.source == KEY


def test_an_unresponsive_endpoint_costs_trading_about_two_seconds(monkeypatch, caplog):
    """A server that accepts connections and never answers: the worst case for timeouts."""
    with silent_endpoint() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
        monkeypatch.setenv("STRATEGY_WEIGHTS__TABLE_NAME", "strategy-weights")
        began = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="weighting_pipeline_reader"):
            profile = get_strategy_profile(TRADING, now=NOW)
        elapsed = time.monotonic() - began
    assert not profile.is_dynamic and "unreachable" in profile.source
    assert profile.allocations == {k: Decimal(repr(float(v))) for k, v in BASELINE.allocations.items()}
    # Two attempts of a 0.5 s read timeout, plus backoff: comfortably under the 2.5 s budget.
    assert elapsed < 2.5, elapsed
