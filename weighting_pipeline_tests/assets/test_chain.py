"""The whole chain through Dagster, on DynamoDB Local, in a temp DAGSTER_HOME."""

from decimal import Decimal

import pandas as pd
import pytest

from weighting_pipeline.core.calendar import WeekWindows
from weighting_pipeline.resources.dynamodb import DynamoDBResource
from weighting_pipeline.resources.weights_table import WeightsTable
from weighting_pipeline_devtools.demo_ledger import synthetic_ledger
from weighting_pipeline_tests.assets.test_checks_per_week import Status, recorded
from weighting_pipeline_tests.conftest import run_chain_in_dagster, seed_ledger
from weighting_pipeline_tests.stored_weeks import VOLATILE

WEEKS = ["2026-02-22", "2026-03-01", "2026-03-08"]  # the middle one is the 167 h DST week


def stored(tables, key):
    return WeightsTable(dynamodb=DynamoDBResource(), table_name=tables["weights"]).get_week(key)


def checks_of(instance, week):
    """Check name -> (status, metadata) of the week's checks of dynamic_weights and closed_lots, from the instance."""
    return {k.split(":")[1]: v for (w, k), v in recorded(instance, [week]).items() if not k.startswith("multipliers:")}


def test_single_week_publishes_a_valid_item_and_passes_checks(ledger, tables, instance, baseline):
    before = pd.Timestamp.now(tz="UTC")
    result = run_chain_in_dagster(instance, partition_key=WEEKS[1])
    assert result.success
    checks = checks_of(instance, WEEKS[1])
    assert {n for n, (s, _) in checks.items() if s != Status.SUCCEEDED} == set()
    assert checks["turnover_below_threshold"][1] == {}  # no previous week: nothing measured

    item = stored(tables, WEEKS[1])
    weeks = WeekWindows.for_keys([WEEKS[1]], 90)
    assert item["EntityType"] == "DYNAMIC_WEIGHTS" and item["partition_key"] == WEEKS[1]
    assert item["valid_from"] == weeks.ends[0].isoformat() and item["valid_until"] == weeks.valid_until[0].isoformat()
    assert set(item["weights"]) == set(baseline.keys)
    assert all(isinstance(v, Decimal) for v in item["weights"].values())
    assert abs(sum(item["weights"].values()) - 1) <= Decimal("1e-9")
    for key, w in item["weights"].items():
        b = Decimal(repr(float(baseline.allocations[key])))
        assert Decimal("0.5") * b - Decimal("1e-12") <= w <= Decimal("2") * b + Decimal("1e-12")
    # A backfilled (past) week expires 7 days after it is written.
    expected_ttl = (before + pd.Timedelta(days=7)).timestamp()
    assert expected_ttl - 1 <= int(item["ttl"]) <= expected_ttl + 120
    assert item["parameters"]["lookback_days"] == 90 and item["parameters"]["risk_free_rate"] == Decimal("0.045")

    meta = result.asset_materializations_for_node("dynamic_weights")[0].metadata
    assert "weights_table" in meta and "total" in meta["weights_table"].value
    assert {f"weight/{k}" for k in baseline.keys} <= set(meta)
    lots_meta = result.asset_materializations_for_node("closed_lots")[0].metadata
    assert lots_meta["lots_in_window"].value > 0 and lots_meta["items_skipped"].value == 0


def test_range_backfill_in_one_run_equals_single_week_runs(ledger, tables, instance):
    result = run_chain_in_dagster(instance, partition_range=(WEEKS[0], WEEKS[-1]))
    assert result.success
    assert len(instance.get_runs()) == 1
    ranged = {k: stored(tables, k) for k in WEEKS}
    # The range's materialisations are recorded per partition.
    assert sorted(m.partition for m in result.asset_materializations_for_node("dynamic_weights")) == WEEKS

    for key in WEEKS:
        assert run_chain_in_dagster(instance, partition_key=key).success
        single = stored(tables, key)
        assert {k: v for k, v in single.items() if k not in VOLATILE} == {
            k: v for k, v in ranged[key].items() if k not in VOLATILE
        }


def test_rerunning_a_week_overwrites_it_identically(ledger, tables, instance):
    assert run_chain_in_dagster(instance, partition_key=WEEKS[0]).success
    first = stored(tables, WEEKS[0])
    assert run_chain_in_dagster(instance, partition_key=WEEKS[0]).success
    second = stored(tables, WEEKS[0])
    assert first["run_id"] != second["run_id"]
    assert {k: v for k, v in first.items() if k not in VOLATILE} == {
        k: v for k, v in second.items() if k not in VOLATILE
    }


def test_a_week_with_no_lots_publishes_the_baseline_with_a_warning(tables, instance, baseline):
    result = run_chain_in_dagster(instance, partition_key=WEEKS[0])  # empty ledger
    assert result.success
    status, meta = checks_of(instance, WEEKS[0])["enough_strategies_qualified"]
    assert status == Status.FAILED and meta == {"qualified": 0, "problem": "0 qualified", "cause": "0 qualified"}
    evaluation = next(e for e in result.get_asset_check_evaluations() if e.check_name == "enough_strategies_qualified")
    assert evaluation.severity.value == "WARN"
    item = stored(tables, WEEKS[0])
    # The baseline renormalised: the real file's allocations sum to 1.0000000000000002 in float64,
    # so the published weights are within a few ulps of it, and sum to 1.
    assert {k: float(v) for k, v in item["weights"].items()} == pytest.approx(
        baseline.allocations.to_dict(), rel=1e-15, abs=0
    )
    assert item["skipped_strategies"]["gold.clj"] == "no closed lots in window"


def test_skipped_ledger_items_raise_a_warning_not_a_failure(tables, instance, baseline):
    from weighting_pipeline_tests.real_lot import raw_item

    ledger = synthetic_ledger(baseline.keys, "2025-10-01", "2026-03-31", 1.0, seed=4)
    closed = "2026-02-20T15:00:00+00:00"
    bad = [
        raw_item("no-exits", exit_records=[], fully_closed_at=closed),
        raw_item("zero-qty", entry_qty="0", fully_closed_at=closed),
    ]
    seed_ledger(tables["ledger"], ledger, bad)
    result = run_chain_in_dagster(instance, partition_key=WEEKS[1])
    assert result.success
    status, meta = checks_of(instance, WEEKS[1])["ledger_items_valid"]
    assert status == Status.FAILED and meta["items_skipped"] == 2
    assert meta["skipped: exit_records missing or empty"] == 1 and "no-exits" in meta["examples"]
    assert stored(tables, WEEKS[1]) is not None


@pytest.mark.parametrize("pnl_date, return_basis", [("close", "lot"), ("exit", "lot"), ("exit", "deployed")])
def test_a_week_on_the_real_item_format_publishes_what_a_hand_computation_from_the_items_gives(
    tables, instance, baseline, pnl_date, return_basis
):
    """Lots written as the trading system writes them were all skipped once (their numbers
    are strings), and the pipeline published the baseline. Here the expected weights come
    from the items themselves, read as the trading system's from_dynamodb_item does
    (Decimal), through the plain-Python loop of benchmarks/loop_baseline.py: under
    PNL_DATE=close from each closed lot's exits summed, booked at its close; under
    exit from every exit record, of open lots too, booked at its own time; under
    RETURN_BASIS=deployed over each date's deployed notional, every lot held counted
    (open lots never sold from too)."""
    from datetime import datetime

    from benchmarks.loop_baseline import loop_deployed, loop_weights
    from weighting_pipeline_tests.assets.test_tilt_report_and_settings import metadata

    items = list(synthetic_ledger(baseline.keys, "2025-10-01", "2026-03-31", 1.0, seed=4).items())
    seed_ledger(tables["ledger"], None, items)
    environ = {"PNL_DATE": pnl_date, "RETURN_BASIS": return_basis}
    assert run_chain_in_dagster(instance, partition_key=WEEKS[1], environ=environ).success
    closed = [i for i in items if not i["is_open"]]
    assert len(closed) < len(items) and any(len(i["exit_records"]) > 1 for i in closed)

    def num(text):
        return float(Decimal(text))

    if pnl_date == "close":
        rows = [
            (
                baseline.stems[i["strategy_name"]],
                datetime.fromisoformat(i["fully_closed_at"]),
                num(i["entry_qty"]),
                num(i["entry_price"]),
                float(sum((Decimal(r["realized_pnl"]) for r in i["exit_records"]), Decimal(0))),
            )
            for i in closed
        ]
    else:
        rows = [
            (
                baseline.stems[i["strategy_name"]],
                datetime.fromisoformat(r["exit_timestamp"]),
                num(i["entry_qty"]),
                num(i["entry_price"]),
                num(r["realized_pnl"]),
                i["lot_id"],
            )
            for i in items
            for r in i["exit_records"]
        ]
    deployed = None
    if return_basis == "deployed":
        unsold = [i for i in items if not i["exit_records"]]
        assert unsold, "the ledger must hold open lots never sold from: they are deployed capital too"
        deployed = loop_deployed(
            (
                baseline.stems[i["strategy_name"]],
                datetime.fromisoformat(i["entry_timestamp"]),
                num(i["entry_qty"]),
                num(i["entry_price"]),
                [(datetime.fromisoformat(r["exit_timestamp"]), num(r["exit_qty"])) for r in i["exit_records"]],
            )
            for i in items
        )
    expected = loop_weights(rows, [WEEKS[1]], baseline.allocations.to_dict(), pnl_date=pnl_date, deployed=deployed)[
        WEEKS[1]
    ]
    item = stored(tables, WEEKS[1])
    assert item["parameters"]["pnl_date"] == pnl_date and item["parameters"]["return_basis"] == return_basis
    assert len(item["weights"]) == 16 and all(
        e["skip_reason"] == "" for e in expected.values()
    )  # every real strategy qualified
    assert {k: float(v) for k, v in item["weights"].items()} == pytest.approx(
        {k: e["weight"] for k, e in expected.items()}, abs=1e-9
    )
    assert len({round(e["weight"] / baseline.allocations[k], 6) for k, e in expected.items()}) > 2  # really tilted
    status, meta = checks_of(instance, WEEKS[1])["ledger_items_valid"]
    assert status == Status.SUCCEEDED and meta["items_skipped"] == 0
    # What the close rule leaves out, as the UI shows it: lots still open at the week's end
    # (the ledger's open lots, and lots closed since) with exits inside its window.
    window = WeekWindows.for_keys([WEEKS[1]], 90)
    start, end = window.window_starts[0], window.ends[0]
    shown = metadata(instance, "closed_lots", WEEKS[1])
    assert shown["pnl_date"] == pnl_date and shown["return_basis"] == return_basis
    assert metadata(instance, "daily_returns", WEEKS[1])["return_basis"] == return_basis
    for key in baseline.keys:
        left_out = {}
        for i in items:
            if baseline.stems[i["strategy_name"]] != key or (
                "fully_closed_at" in i and pd.Timestamp(i["fully_closed_at"]) < end
            ):
                continue
            inside = [
                Decimal(r["realized_pnl"])
                for r in i["exit_records"]
                if start <= pd.Timestamp(r["exit_timestamp"]) < end
            ]
            if inside:
                left_out[i["lot_id"]] = sum(inside, Decimal(0))
        assert shown[f"open_lots_with_exits/{key}"] == len(left_out), key
        assert shown[f"open_lots_realized_pnl/{key}"] == pytest.approx(
            float(sum(left_out.values(), Decimal(0))), abs=1e-9
        ), key
    assert sum(shown[f"open_lots_with_exits/{k}"] for k in baseline.keys) > 0
