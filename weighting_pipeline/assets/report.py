"""Tables for people: Markdown for the Dagster UI, plain text for the terminal.

The weights table (Strategy, Sharpe, the score if another, Baseline, Dynamic,
Change) is the one a user comes for; its header says which score the multipliers
mapped. ``markdown_table`` renders every other table the assets show.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

SCORE_TITLES = {"sharpe": "Sharpe", "sortino": "Sortino", "calmar": "Calmar"}


def header(score: str = "sharpe") -> list[str]:
    """The weights table's header: the score the multipliers mapped is marked "(score)"."""
    if score == "sharpe":
        return ["Strategy", "Sharpe (score)", "Baseline", "Dynamic", "Change"]
    return ["Strategy", "Sharpe", f"{SCORE_TITLES.get(score, score)} (score)", "Baseline", "Dynamic", "Change"]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]], align: str | None = None) -> str:
    """A GitHub-flavoured Markdown table. ``align`` has one letter per column,
    ``l`` or ``r`` (default: all left). Cells are rendered with ``str``."""
    align = align or "l" * len(header)
    rule = "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"
    lines = ["| " + " | ".join(header) + " |", rule]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def weights_rows(week: pd.DataFrame, score: str = "sharpe") -> list[list[str]]:
    """Rows for one week of a weights frame, plus a total row (columns as ``header(score)``).
    Percentages of capital; Change is in percentage points."""
    rows = []
    fmt = lambda x: "-" if not math.isfinite(x) else f"{x:.2f}"  # noqa: E731
    for r in week.itertuples():
        ratios = [fmt(r.sharpe)] + ([] if score == "sharpe" else [fmt(r.score)])
        rows.append(
            [
                str(r.strategy),
                *ratios,
                f"{100 * r.baseline:.2f}%",
                f"{100 * r.weight:.2f}%",
                f"{100 * (r.weight - r.baseline):+.2f}",
            ]
        )
    blanks = [""] * (1 if score == "sharpe" else 2)
    rows.append(["total", *blanks, f"{100 * week['baseline'].sum():.2f}%", f"{100 * week['weight'].sum():.2f}%", ""])
    return rows


def markdown(week: pd.DataFrame, score: str = "sharpe") -> str:
    """The weights table of one week, as Markdown."""
    head = header(score)
    return markdown_table(head, weights_rows(week, score), "l" + "r" * (len(head) - 1))


def text(week: pd.DataFrame, score: str = "sharpe") -> str:
    """The weights table of one week, as aligned plain text."""
    head = header(score)
    rows = [head] + weights_rows(week, score)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]

    def fmt(r: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))

    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    return "\n".join([fmt(rows[0]), rule] + [fmt(r) for r in rows[1:-1]] + [rule, fmt(rows[-1])])


def _num(x: float, fmt: str) -> str:
    return "-" if not math.isfinite(x) else format(x, fmt)


def verdict_line(
    summary: dict, keys: Sequence[str], after_costs=None, cost_bps: float = 0.0, return_basis: str = "lot"
) -> str:
    """One sentence: the information ratio with its standard error and the growth of
    tilt vs baseline (``summary`` from ``core.analytics.tilt_summary``), with
    ``cost_bps`` > 0 the information ratio after costs (``after_costs``, a
    ``core.analytics.Verdict``), and what the returns are per (``BASIS_LABELS``)."""
    a, t, b = summary["active"], summary["tilt"], summary["baseline"]
    span = f"{keys[0]}..{keys[-1]}" if len(keys) > 1 else keys[0]
    costs = ""
    if cost_bps and after_costs is not None:
        costs = (
            f"; after costs of {cost_bps:g} bp of capital traded: information ratio {_num(after_costs.information_ratio, '.2f')} "
            f"± {_num(after_costs.ir_standard_error_hac, '.2f')}"
        )
    return (
        f"Tilt vs baseline over {len(keys)} weeks ({span}): information ratio {_num(a['information_ratio'], '.2f')} "
        f"± {_num(a['ir_standard_error_hac'], '.2f')} (Newey-West SE), t {_num(a['t_statistic_hac'], '.2f')}, "
        f"P(IR > 0) {_num(100 * a['probability_ir_positive_hac'], '.0f')}% ({_significance(a['t_statistic_hac'])}); "
        f"growth of 1: tilt {_num(t['cumulative_growth'], '.4f')} vs baseline {_num(b['cumulative_growth'], '.4f')}{costs}; "
        f"{BASIS_LABELS[return_basis]}"
    )


def _significance(t: float) -> str:
    """Plain words for a Newey-West t-statistic of the weekly active return."""
    if not math.isfinite(t):
        return "too few weeks to judge"
    return "the difference is beyond noise" if abs(t) >= 2 else "noise: no evidence the tilt differs from the baseline"


# What every return shown is measured on (core.backtest.weekly_realised_returns), by RETURN_BASIS:
# said wherever returns are.
BASIS_LABELS = {
    "lot": "returns per average lot notional (realised P&L over the mean entry notional of the lots booked), not per unit of capital",
    "deployed": (
        "returns per deployed notional (each day's realised P&L over the entry notional the strategies held that day, "
        "summed over the week), not per unit of total capital"
    ),
    "market": (
        "returns marked to market from trading's daily closes (each session's P&L on every held position over the "
        "value at work, summed over the week's sessions), not per unit of total capital"
    ),
}
TABLE_TITLES = {
    "lot": "Returns per average lot notional",
    "deployed": "Returns per deployed notional",
    "market": "Returns marked to market",
}


LEG_ROWS = [
    ("cumulative_growth", "Growth of 1", ".4f", 1),
    ("annual_return", "Annual return", ".2f", 100),
    ("annual_volatility", "Annual volatility", ".2f", 100),
    ("sharpe_ratio", "Sharpe ratio", ".2f", 1),
    ("max_drawdown", "Maximum drawdown", ".2f", 100),
    ("calmar_ratio", "Calmar ratio", ".2f", 1),
]
ACTIVE_ROWS = [
    ("information_ratio", "Information ratio", ".3f", 1),
    ("ir_standard_error_hac", "SE, Newey-West (serial correlation)", ".3f", 1),
    ("ir_standard_error", "SE, Mertens/Opdyke (i.i.d. weeks)", ".3f", 1),
    ("ir_standard_error_iid", "SE, Lo (i.i.d.)", ".3f", 1),
    ("probability_ir_positive_hac", "P(IR > 0), Newey-West", ".1f", 100),
    ("probability_ir_positive", "P(IR > 0), PSR (i.i.d. weeks)", ".1f", 100),
    ("tracking_error", "Tracking error, % a year", ".2f", 100),
    ("hit_rate", "Hit rate, % of weeks", ".1f", 100),
    ("t_statistic_hac", "t-statistic of mean active, Newey-West", ".2f", 1),
    ("t_statistic", "t-statistic of mean active, i.i.d. weeks", ".2f", 1),
    ("mean_turnover", "Mean turnover, %", ".2f", 100),
    ("mean_active_share", "Mean active share, %", ".2f", 100),
    ("mean_rank_ic", "Mean rank IC", ".3f", 1),
    ("rank_ic_t_statistic", "t-statistic of rank IC", ".2f", 1),
]


def verdict_tables(summary: dict, return_basis: str = "lot") -> str:
    """The verdict's numbers as two Markdown tables: per leg (titled by the return
    basis), and of the active return. Rows in % say so; drawdowns are negative."""
    legs = ["tilt", "baseline", "naive"]
    per_leg = markdown_table(
        [TABLE_TITLES[return_basis], *legs],
        [
            [label + (", %" if scale == 100 else ""), *(_num(scale * summary[leg][key], fmt) for leg in legs)]
            for key, label, fmt, scale in LEG_ROWS
        ],
        "l" + "r" * len(legs),
    )
    after = summary.get("active_after_costs", {})
    active = markdown_table(
        ["Active return (tilt - baseline)", "before costs", "after costs"],
        [
            [label, _num(scale * summary["active"][key], fmt), _num(scale * after.get(key, math.nan), fmt)]
            for key, label, fmt, scale in ACTIVE_ROWS
        ],
        "lrr",
    )
    return per_leg + "\n\n" + active
