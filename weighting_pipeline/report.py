"""Tables for people: Markdown for the Dagster UI, plain text for the terminal.

The weights table (Strategy, Sharpe, Baseline, Dynamic, Change) is the one a
user comes for; ``markdown_table`` renders every other table the assets show.
"""

from __future__ import annotations

import math
from typing import Sequence

import pandas as pd

HEADER = ["Strategy", "Sharpe", "Baseline", "Dynamic", "Change"]
_WEIGHTS_ALIGN = "lrrrr"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]], align: str | None = None) -> str:
    """A GitHub-flavoured Markdown table. ``align`` has one letter per column,
    ``l`` or ``r`` (default: all left). Cells are rendered with ``str``."""
    align = align or "l" * len(header)
    rule = "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"
    lines = ["| " + " | ".join(header) + " |", rule]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


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
    """The weights table of one week, as Markdown."""
    return markdown_table(HEADER, weights_rows(week), _WEIGHTS_ALIGN)


def text(week: pd.DataFrame) -> str:
    """The weights table of one week, as aligned plain text."""
    rows = [HEADER] + weights_rows(week)
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    fmt = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    return "\n".join([fmt(rows[0]), rule] + [fmt(r) for r in rows[1:-1]] + [rule, fmt(rows[-1])])
