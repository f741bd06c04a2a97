"""``weighting-pipeline sweep``: backtest a grid of settings on one ledger read.

Reads the lots of the baseline strategies and their exit records once, through the same
``LedgerReader`` the pipeline uses (``TRADE_LEDGER__TABLE_NAME``, the standard
AWS chain), for every window the widest lookback needs; then runs the pure
core for every combination (``core.sweep``), no Dagster runs. Prints each
setting's information ratio with its standard error, and the deflated Sharpe
ratio of the best one (Bailey and López de Prado 2014).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable

import pandas as pd

GRID_OPTIONS = {  # option -> (WeightingParams field, parser)
    "lookback": ("lookback_days", int),
    "max_multiplier": ("max_multiplier", float),
    "min_multiplier": ("min_multiplier", float),
    "score": ("score", str),
    "missing_days": ("missing_days", str),
    "pnl_date": ("pnl_date", str),
    "return_basis": ("return_basis", str),
    "mapping": ("mapping", str),
    "mapping_alpha": ("mapping_alpha", float),
    "sleeves": ("sleeves", str),
    "policies": ("policy", str),
}


class SweepArgumentError(ValueError):
    """A sweep option holds a value the pipeline cannot use."""


def parse_grid(options: dict[str, str | None], base) -> dict[str, list]:
    """``{"lookback": "30,60"}`` -> ``{"lookback_days": [30, 60]}``. Each value must be
    usable with ``base`` (a ``WeightingParams``) and the other options' values in at
    least one combination (``--return-basis deployed`` needs ``--pnl-date exit`` or
    ``PNL_DATE=exit``), so an error names the option."""
    from weighting_pipeline.core.sweep import usable_combinations

    grid, flags = {}, {}
    for option, raw in options.items():
        if raw is None:
            continue
        field, parse = GRID_OPTIONS[option]
        flag = "--" + option.replace("_", "-")
        values, texts = [], {}
        for text in (t.strip() for t in raw.split(",")):
            try:
                value = parse(text)
            except ValueError as exc:
                raise SweepArgumentError(f"{flag} {raw!r}: {text!r} is not usable: {exc}") from None
            if value not in values:
                values.append(value)
                texts[value] = text
        grid[field], flags[field] = values, (flag, raw, texts)
    for field, values in grid.items():
        for value in values:
            usable, refused = usable_combinations({**grid, field: [value]}, base)
            if not usable:
                flag, raw, texts = flags[field]
                raise SweepArgumentError(f"{flag} {raw!r}: {texts[value]!r} is not usable: {refused[0][1]}")
    return grid or {"lookback_days": [base.lookback_days]}


def read_lots(keys: list[str], widest_lookback: int, stems: dict[str, str], positions: bool = False):
    """The ledger's lots and exit records of the strategies ``stems`` (ledger name
    -> baseline key) for the weights of ``keys`` (windows of the week before
    each, ``widest_lookback`` days) and the P&L booked inside ``keys``; with
    ``positions``, the positions of the lots held then (``RETURN_BASIS=deployed``)."""
    from weighting_pipeline.core.calendar import WeekWindows
    from weighting_pipeline.core.sweep import weight_keys
    from weighting_pipeline.resources.dynamodb import DynamoDBResource
    from weighting_pipeline.resources.ledger_reader import LedgerReader

    table = os.environ.get("TRADE_LEDGER__TABLE_NAME")
    if not table:
        raise SweepArgumentError(
            "sweep reads the trade ledger: set TRADE_LEDGER__TABLE_NAME (or pass --local for the demo's)"
        )
    start = WeekWindows.for_keys(weight_keys(keys), widest_lookback).window_starts.min()
    end = WeekWindows.for_keys(keys, 7).ends.max()
    reader = LedgerReader(
        dynamodb=DynamoDBResource(), table_name=table, index=os.environ.get("TRADE_LEDGER__INDEX") or "auto"
    )
    return reader.read_lots(stems, start, end, positions=positions)


def _num(x: float, fmt: str, scale: float = 1.0, suffix: str = "") -> str:
    return f"{scale * x:{fmt}}{suffix}" if math.isfinite(x) else "-"


def table_text(table: pd.DataFrame, names: list[str], best: int) -> str:
    """The per-setting table for the terminal; the best row is marked with ``*``;
    a statistic the weeks cannot define (too few of them) shows as ``-``."""
    header = [
        *names,
        "weeks",
        "IR",
        "SE (Newey-West)",
        "t (NW)",
        "SE (Mertens)",
        "P(IR>0)",
        "active after costs",
        "max drawdown",
        "growth tilt",
        "growth base",
        "turnover",
    ]
    rows = []
    for i, r in table.iterrows():
        rows.append(
            [
                *(str(r[n]) for n in names),
                str(r["weeks"]),
                _num(r["information_ratio"], ".3f"),
                _num(r["ir_standard_error_hac"], ".3f"),
                _num(r["t_statistic_hac"], ".2f"),
                _num(r["ir_standard_error"], ".3f"),
                _num(r["probability_ir_positive"], ".1f", 100, "%"),
                _num(r["active_after_costs"], ".2f", 100, "%"),
                _num(r["max_drawdown"], ".1f", 100, "%"),
                _num(r["growth_tilt"], ".4f"),
                _num(r["growth_baseline"], ".4f"),
                _num(r["mean_turnover"], ".2f", 100, "%"),
            ]
        )
        rows[-1][0] = ("* " if i == best else "  ") + rows[-1][0]
    header[0] = "  " + header[0]
    widths = [max(len(x[j]) for x in [header, *rows]) for j in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if j < len(names) else c.rjust(w) for j, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(header), *(line(r) for r in rows)])


def progress_bar(total: int, enabled: bool) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A tqdm bar on stderr and the function that closes it."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc="sweep", unit="setting", file=sys.stderr, disable=not enabled, mininterval=0.2)
    last = [0]

    def update(done: int, _total: int) -> None:
        bar.update(done - last[0])
        last[0] = done

    return update, bar.close


def run(week_range: str, options: dict[str, str | None], progress: bool = True, csv_path: str | None = None) -> int:
    """The ``sweep`` command: returns the exit status."""
    from weighting_pipeline.core.sweep import sweep, usable_combinations
    from weighting_pipeline.ops.audit import AuditRangeError, weeks_in
    from weighting_pipeline.settings import SettingsError, WeightingSettings

    try:
        keys = weeks_in(week_range)
        settings = WeightingSettings.from_env()
        base, baseline = settings.params(), settings.baseline()
        grid = parse_grid(options, base)
        began = time.perf_counter()
        usable, refused = usable_combinations(grid, base)
        deployed = any(
            dict(zip(grid, values)).get("return_basis", base.return_basis) == "deployed" for values in usable
        )
        read = read_lots(keys, max(grid.get("lookback_days", [base.lookback_days])), baseline.stems, deployed)
    except (AuditRangeError, SettingsError, SweepArgumentError) as exc:
        print(exc, file=sys.stderr)
        return 2
    b = pd.Series(baseline.allocations, dtype=float).reindex(baseline.keys)
    n = len(usable)
    held = f", {int((read.positions['exit_seq'] < 0).sum()):,} lots held" if deployed else ""
    print(
        f"Read {len(read.lots):,} closed lots and {len(read.exits):,} exit records{held} of {len(baseline.keys)} strategies once "
        f"from {os.environ['TRADE_LEDGER__TABLE_NAME']} "
        f"({read.index}) in {time.perf_counter() - began:.1f} s"
        + (f"; skipped {read.report.skipped_total} bad items" if read.report.skipped else "")
    )
    for values, reason in refused:
        print(f"Not run: {', '.join(f'{k}={v}' for k, v in zip(grid, values))}: {reason}")
    print(
        f"Backtesting {n} setting(s) over {len(keys)} weeks ({keys[0]}...{keys[-1]}); other settings as configured "
        f"({', '.join(f'{name}={value}' for name, value in base.as_dict().items() if name not in grid)})\n"
    )
    update, close = progress_bar(n, progress)
    began = time.perf_counter()
    try:
        rows = {"close": read.lots, "exit": read.exits, **({"deployed": read.positions} if deployed else {})}
        result = sweep(rows, keys, b, grid, base, progress=update)
    finally:
        close()
    seconds = time.perf_counter() - began
    names = list(grid)
    print(table_text(result.table, names, result.best_row))
    setting = ", ".join(f"{k}={result.best[k]}" for k in names)
    print(
        f"\nBest: {setting}: information ratio {_num(result.best['information_ratio'], '.3f')} ± {_num(result.best['ir_standard_error_hac'], '.3f')} (Newey-West)"
    )
    print(
        f"Deflated Sharpe ratio of the best, {n} setting(s) tried, worth {_num(result.effective_trials, '.1f')} independent ones "
        f"(their active returns are correlated): {_num(result.deflated_ratio, '.3f')} "
        "(the probability that its true information ratio beats the best of as many settings with no skill)"
    )
    print(f"{n} setting(s) in {seconds:.2f} s ({n / seconds:.1f} settings/s)")
    if csv_path:
        result.table.to_csv(csv_path, index=False)
        print(f"wrote {len(result.table)} rows to {csv_path}")
    return 0
