"""The weights table (Strategy, Sharpe, Baseline, Dynamic, Change), for the UI and the terminal."""

from __future__ import annotations

import math

import pandas as pd

HEADER = ["Strategy", "Sharpe", "Baseline", "Dynamic", "Change"]


def weights_rows(week: pd.DataFrame) -> list[list[str]]:
    """Rows for one week of a weights frame, plus a total row. Percentages of capital;
    Change is in percentage points."""
    rows = []
    for r in week.itertuples():
        sharpe = "-" if not math.isfinite(r.sharpe) else f"{r.sharpe:.2f}"
        rows.append([str(r.strategy), sharpe, f"{100 * r.baseline:.2f}%", f"{100 * r.weight:.2f}%", f"{100 * (r.weight - r.baseline):+.2f}"])
    rows.append(["total", "", f"{100 * week['baseline'].sum():.2f}%", f"{100 * week['weight'].sum():.2f}%", ""])
    return rows


def markdown(week: pd.DataFrame) -> str:
    rows = weights_rows(week)
    lines = ["| " + " | ".join(HEADER) + " |", "|---|---:|---:|---:|---:|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def text(week: pd.DataFrame) -> str:
    rows = [HEADER] + weights_rows(week)
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    fmt = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    return "\n".join([fmt(rows[0]), rule] + [fmt(r) for r in rows[1:-1]] + [rule, fmt(rows[-1])])
