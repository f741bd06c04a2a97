"""``python -m benchmarks``: run the benchmarks and print one table.

  python -m benchmarks            full sizes (about 25 minutes on 2 cores, most of it seeding DynamoDB Local)
  python -m benchmarks --smoke    tiny sizes, to prove the scripts still run
  python -m benchmarks --only kernel|basis|parse|backfill|backfill-postgres|backfill-gsi7|weekly-postgres|sweep|writes|publication-log|market|dynamodb-start|calibration|evidence|reader

The backfills read the ledger as the trading system's table has it (GSI5);
backfill-gsi7 measures the proposed close-date index (a proposal, not run by default).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

from benchmarks import (
    backfill,
    basis,
    calibration,
    dynamodb_start,
    evidence,
    kernel,
    market,
    parse,
    publication_log,
    reader_size,
    sweep,
    weekly,
    writes,
)
from weighting_pipeline_devtools.dynamodb_local import find_java

FULL = {
    "kernel": [(50, 261, 300_000), (1000, 261, 2_000_000)],
    "basis": [(50, 261, 300_000)],
    "market": [(50, 261)],
    "parse": [100_000],
    "backfill": [(50, 261, 300_000)],
    "sweep": [(50, 261, 300_000)],
    "writes": [(261, 50)],
    "publication-log": [(261, 50)],
}
SMOKE = {
    "kernel": [(5, 6, 600)],
    "basis": [(5, 6, 600)],
    "market": [(3, 4)],
    "parse": [2_000],
    "backfill": [(3, 4, 300)],
    "sweep": [(5, 8, 2_000)],
    "writes": [(6, 3)],
    "publication-log": [(6, 3)],
}


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def row(name: str, size: str, r: dict, digits: int, baseline: str, ratio: float, rss: str, amplification: str) -> str:
    t = f"{{:.{digits}f}}"
    times = f"{t.format(r['median_s'])} | {t.format(r['min_s'])} / {t.format(r['max_s'])}"
    return f"| {name} | {size} | {times} | {baseline} | {ratio:.{1 if ratio < 10 else 0}f}x | {rss} | {amplification} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument(
        "--only",
        choices=[
            "kernel",
            "basis",
            "parse",
            "backfill",
            "backfill-postgres",
            "backfill-gsi7",
            "weekly-postgres",
            "sweep",
            "writes",
            "publication-log",
            "market",
            "dynamodb-start",
            "calibration",
            "evidence",
            "reader",
        ],
    )
    parser.add_argument(
        "--json", metavar="FILE", help="also write every result as JSON: benchmark -> list of its result dicts"
    )
    args = parser.parse_args()
    results: dict[str, list] = {}
    sizes = SMOKE if args.smoke else FULL
    repeats = 1 if args.smoke else 3
    print(f"machine: {machine()}\n")
    print(
        "| benchmark | size | median s | min / max s | baseline | ratio vs baseline | peak RSS MB | read amplification |"
    )
    print("|---|---|---:|---:|---|---:|---:|---:|")
    if args.only in (None, "kernel"):
        for s, w, n in sizes["kernel"]:
            r = kernel.run(s, w, n, repeats=repeats, loop_strategies=5 if args.smoke else 100)
            results.setdefault("kernel", []).append(r)
            size = f"{r['strategies']} strategies x {r['weeks']} weeks, {r['lots']:,} lots"
            base = f"loop: {r['loop_full_estimate_s']:.1f} s (timed on {r['loop_strategies']} strategies, scaled)"
            print(
                row(
                    "kernel (lots -> weights)",
                    size,
                    r,
                    3,
                    base,
                    r["loop_full_estimate_s"] / r["median_s"],
                    f"{r['peak_rss_mb']:.0f}",
                    "-",
                )
            )
            assert r["max_abs_diff_vs_loop"] <= 1e-9, r
    if args.only in (None, "basis"):
        for s, w, n in sizes["basis"]:
            r = basis.run(s, w, n, repeats=repeats)
            results.setdefault("basis", []).append(r)
            size = f"{r['strategies']} strategies x {r['weeks']} weeks, {r['lots']:,} lots: {r['position_rows']:,} position rows"
            base = (
                f"lot basis on the {r['exit_rows']:,} exit records: {r['lot_median_s']:.2f} s (ratio {r['ratio']:.2f}); "
                f"cutting the weeks' positions (held_by_week, once): {r['held_by_week_s']:.2f} s"
            )
            print(row("chain on deployed notional (PNL_DATE=exit)", size, r, 2, base, r["ratio"], "-", "-"))
    if args.only in (None, "market"):
        for s, w in sizes["market"]:
            r = market.run(s, w, repeats=repeats)
            results.setdefault("market", []).append(r)
            size = f"{r['strategies']} strategies x {r['weeks']} weeks, {r['lots']:,} lots: {r['position_rows']:,} position rows, {r['sessions']:,} sessions of bars"
            base = f"lot basis on the same ledger's closed lots: {r['lot_median_s']:.2f} s; reading the bars into closes: {r['bars_s']:.2f} s"
            print(row("chain marked to market (RETURN_BASIS=market)", size, r, 2, base, r["ratio"], "-", "-"))
    if args.only in (None, "parse"):
        for n in sizes["parse"]:
            r = parse.run(n, repeats=repeats if args.smoke else 5)
            results.setdefault("parse", []).append(r)
            size = f"{r['lots']:,} closed lots in 1,000-item pages, numbers as S (the trading system's format)"
            base = f"the same items with numbers as N: {r['N']['median_s']:.2f} s"
            print(row("ledger page parse (orjson + parse_items + to_frame)", size, r, 2, base, r["ratio"], "-", "-"))
    runs = {
        None: [("sqlite", False), ("postgres", False)],
        "backfill": [("sqlite", False)],
        "backfill-postgres": [("postgres", False)],
        "backfill-gsi7": [("sqlite", True)],
    }.get(args.only, [])
    for storage, gsi7 in runs:
        for s, w, n in sizes["backfill"]:
            r = backfill.run(
                s, w, n, repeats=repeats, singles=1 if args.smoke else 10, storage=storage, close_date_index=gsi7
            )
            results.setdefault("backfill", []).append(r)
            size = f"{r['strategies']} strategies x {r['weeks']} weeks, {r['lots']:,} lots ({r['backend']}, Dagster on {storage})"
            base = f"1 run/partition: {r['per_partition_estimate_s']:.0f} s ({r['single_median_s']:.1f} s x {r['weeks']}, median of {r['singles_measured']})"
            index = r["ledger_index"].split(" ")[0]
            name = "backfill, one run, CLI" + (" (GSI7: proposed index)" if gsi7 else "")
            print(row(name, size, r, 1, base, r["ratio"], "-", f"{r['read_amplification']} ({index})"))
            print(
                f"|  one week alone, its ledger read | {r['week_items_read']:,} items read | {r['week_read_s']:.2f} | | | | - | {r['week_read_amplification']} ({index}) |"
            )
            assert r["items_written"] == r["weeks"], r
    if args.only in (None, "weekly-postgres"):
        r = weekly.run(n_strategies=5 if args.smoke else 50, repeats=repeats if args.smoke else 5)
        results.setdefault("weekly-postgres", []).append(r)
        size = f"one week, {r['strategies']} strategies: {r['events']} events, {r['connections_opened']:.0f} connections opened"
        base = f"the same run on an in-memory instance: {r['memory_median_s']:.2f} s; storage overhead {r['overhead_s']:.2f} s"
        print(
            row(
                "weekly run on the production storage (warm process)",
                size,
                r,
                2,
                base,
                r["median_s"] / r["memory_median_s"],
                "-",
                "-",
            )
        )
    if args.only in (None, "writes"):
        for w, s in sizes["writes"]:
            r = writes.run(w, s, repeats=repeats if args.smoke else 5)
            results.setdefault("writes", []).append(r)
            size = f"{r['weeks']} week items of {r['strategies']} strategies (~{r['item_bytes'] // 1000} KB), 8 in flight ({r['backend']})"
            base = f"BatchWriteItem, no condition: {r['batch_median_s']:.2f} s; one at a time: {r['conditional_serial_median_s']:.2f} s"
            print(row("conditional PutItems (newer run wins)", size, r, 2, base, r["ratio_vs_batch"], "-", "-"))
    if args.only in (None, "publication-log"):
        for w, s in sizes["publication-log"]:
            r = publication_log.run(w, s, repeats=repeats if args.smoke else 5)
            results.setdefault("publication-log", []).append(r)
            size = (
                f"{r['weeks']} entries of {r['strategies']} strategies (~{r['entry_bytes'] // 1000} KB each) on moto's S3: "
                f"append {r['s3_append_median_s']:.2f} s, the backtest's read {r['s3_read_median_s']:.2f} s"
            )
            base = f"local disk: append {r['disk_append_median_s']:.3f} s, read {r['disk_read_median_s']:.3f} s"
            print(row("publication log (a backfill's entries)", size, r, 2, base, r["ratio_vs_disk"], "-", "-"))
    if args.only in (None, "sweep"):
        for s, w, n in sizes["sweep"]:
            r = sweep.run(s, w, n, repeats=repeats, smoke=args.smoke)
            results.setdefault("sweep", []).append(r)
            size = f"{r['strategies']} strategies x {r['weeks']} weeks, {r['lots']:,} lots, {r['settings']} settings: {r['settings_per_s']:.1f} settings/s"
            base = f"one setting at a time through the frames: {r['one_by_one_s']:.2f} s"
            print(row("sweep (after the ledger read)", size, r, 2, base, r["ratio"], "-", "-"))
    if args.only in (None, "dynamodb-start") and find_java() is None:
        print("\n(DynamoDB Local start: not measured, no Java runtime)")
    elif args.only in (None, "dynamodb-start"):
        r = dynamodb_start.run(repeats=1 if args.smoke else 7)
        results.setdefault("dynamodb-start", []).append(r)
        base = f"the jar's own main (every interface): {r['jar_median_s']:.2f} s"
        print(
            row(
                "DynamoDB Local start, bound to 127.0.0.1",
                f"in memory, {r['repeats']} starts each way",
                r,
                2,
                base,
                r["ratio_vs_jar"],
                "-",
                "-",
            )
        )
    if args.only in (None, "calibration"):
        rows = calibration.run(seeds=3 if args.smoke else 100, n_weeks=20 if args.smoke else 70)
        results["calibration"] = rows
        calibration_table(rows)
    if args.only in (None, "reader"):
        r = reader_size.run(repeats=1 if args.smoke else 7)
        results.setdefault("reader", []).append(r)
        print(
            f"\nWhat trading installs (docs/trading.md): the reader, pip install --no-deps: {r['reader_bytes']:,} bytes in {r['reader_files']} files; "
            f"what pip install weighting_pipeline brings (the {r['pipeline_env_distributions']} distributions of requirements.lock): "
            f"{r['pipeline_env_bytes'] / 1e6:,.0f} MB in {r['pipeline_env_files']:,} files, {r['ratio']:,.0f}x. Cold import, median of fresh interpreters: the reader "
            f"{r['reader_import_s']:.3f} s, boto3 {r['boto3_import_s']:.3f} s, weighting_pipeline.definitions {r['definitions_import_s']:.2f} s."
        )
    if args.only in (None, "evidence"):
        found = evidence.run()
        print("\nThe tilt on real prices (docs/evidence.md):\n" + evidence.table(found))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))


def calibration_table(rows: list[dict]) -> None:
    """The evidence's calibration: a second table, not timings."""
    print(
        "\n| basis | ledger | seeds x weeks | Newey-West t: mean (sd) | abs t > 1.96 | abs t > 2.5 | IR beyond 1.96 SE | "
        "old attribution, i.i.d. t: mean, share > 1.96 | weeks the noise check claims a difference |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['basis']} | {'skill' if r['skill'] else 'no skill'} | {r['seeds']} x {r['weeks']} | {r['t_mean']:.2f} ({r['t_sd']:.2f}) | "
            f"{r['t_over_1_96']:.0%} | {r['t_over_2_5']:.0%} | {r['z_over_1_96']:.0%} | {r['old_t_mean']:.2f}, {r['old_t_over_1_96']:.0%} | "
            f"{r['noise_claims']:.0%} |"
        )


if __name__ == "__main__":
    main()
