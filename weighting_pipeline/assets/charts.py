"""The tilt report's chart, drawn with matplotlib, as PNG bytes for Markdown metadata.

Uses ``matplotlib.figure.Figure`` directly (no pyplot): no global figure state
and no GUI backend, so it draws the same inside a run worker, a test or the CLI.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd

COLOURS = {"tilt": "#1f77b4", "baseline": "#7f7f7f", "naive": "#ff7f0e"}


def tilt_chart(weeks: pd.DatetimeIndex, growth: dict[str, np.ndarray], active: np.ndarray) -> bytes:
    """Cumulative growth of 1 per leg (top) and the weekly active return in % (bottom)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 5.5), dpi=100, layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    for leg, values in growth.items():
        top.plot(weeks, values, label=leg, color=COLOURS.get(leg), linewidth=1.6 if leg == "tilt" else 1.2)
    top.axhline(1.0, color="black", linewidth=0.6)
    top.set_ylabel("growth of 1")
    top.set_title("Weights in force vs baseline vs naive renormalisation, week by week")
    top.legend(loc="upper left", frameon=False)
    top.grid(alpha=0.3)
    bottom.bar(
        weeks,
        100 * np.asarray(active, dtype=float),
        width=5,
        color=np.where(np.asarray(active) >= 0, "#2ca02c", "#d62728"),
    )
    bottom.axhline(0.0, color="black", linewidth=0.6)
    bottom.set_ylabel("active return, % a week")
    bottom.set_xlabel("week (start, Sunday 18:00 New York)")
    bottom.grid(alpha=0.3)
    out = io.BytesIO()
    fig.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


def markdown_image(png: bytes, alt: str) -> str:
    """A Markdown image with the PNG inline (a data URI), which the Dagster UI renders."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"
