"""(week, strategy) frames <-> (weeks, strategies) matrices."""

from __future__ import annotations

import numpy as np
import pandas as pd


def cells(frame: pd.DataFrame, strategies: list[str] | None = None) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """Weeks and strategies of a frame (first-seen order unless ``strategies``
    is given) and each row's (week, strategy) position. Raises if a row's
    strategy is not in ``strategies`` or a cell is missing or repeated."""
    keys, w = _codes(frame["partition_key"])
    if strategies is None:
        strategies, s = _codes(frame["strategy"])
    else:
        strategies = list(strategies)
        s = _codes(frame["strategy"], strategies)[1]
    if (s < 0).any():
        raise ValueError(f"rows hold strategies outside {strategies}: {sorted(set(frame['strategy'].astype(str)[s < 0]))}")
    flat = w * len(strategies) + s
    if len(frame) != len(keys) * len(strategies) or len(np.unique(flat)) != len(frame):
        raise ValueError("expected exactly one row per (partition_key, strategy)")
    return keys, strategies, w, s


def to_matrix(frame: pd.DataFrame, column: str, shape: tuple[int, int], w: np.ndarray, s: np.ndarray) -> np.ndarray:
    out = np.full(shape, np.nan)
    out[w, s] = frame[column].to_numpy(np.float64)
    return out


def _codes(column: pd.Series, names: list[str] | None = None) -> tuple[list[str], np.ndarray]:
    """Names and per-row positions; categorical columns are mapped by category, not by row."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        cats = [str(c) for c in column.cat.categories]
        codes = column.cat.codes.to_numpy().astype(np.int64)
        if names is None:
            present = np.unique(codes[codes >= 0])
            names = [cats[i] for i in present]
        remap = np.append(pd.Index(names).get_indexer(cats), -1)  # code -1 (missing) stays -1
        return names, remap[codes]
    values = column.astype(str)
    names = list(pd.unique(values)) if names is None else names
    return names, pd.Index(names).get_indexer(values)
