"""(week, strategy) frames <-> (weeks, strategies) matrices."""

from __future__ import annotations

import numpy as np
import pandas as pd


def cells(
    frame: pd.DataFrame, strategies: list[str] | None = None
) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """Weeks and strategies of a frame (first-seen order unless ``strategies``
    is given) and each row's (week, strategy) position. Raises if a row's
    strategy is not in ``strategies`` or a cell is missing or repeated."""
    keys, w = positions(frame["partition_key"])
    strategies, s = positions(frame["strategy"], None if strategies is None else list(strategies))
    if (s < 0).any():
        raise ValueError(
            f"rows hold strategies outside {strategies}: {sorted(set(frame['strategy'].astype(str)[s < 0]))}"
        )
    n_cells = len(keys) * len(strategies)
    # A bincount, not np.unique: linear, and this runs on every stage of a range.
    if len(frame) != n_cells or (n_cells and np.bincount(w * len(strategies) + s, minlength=n_cells).max() != 1):
        raise ValueError("expected exactly one row per (partition_key, strategy)")
    return keys, strategies, w, s


def to_matrix(frame: pd.DataFrame, column: str, shape: tuple[int, int], w: np.ndarray, s: np.ndarray) -> np.ndarray:
    out = np.full(shape, np.nan)
    out[w, s] = frame[column].to_numpy(np.float64)
    return out


def positions(column: pd.Series, names: list[str] | None = None) -> tuple[list[str], np.ndarray]:
    """Each row's position in ``names`` (-1 if absent), as int64, with ``names``.

    Without ``names``, the names present are used (category order for a
    categorical column, first-seen order otherwise). A categorical column is
    mapped through its few categories instead of row by row.
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        cats = [str(c) for c in column.cat.categories]
        codes = column.cat.codes.to_numpy().astype(np.int64)
        if names is None:
            present = np.flatnonzero(np.bincount(codes[codes >= 0], minlength=len(cats)))
            names = [cats[i] for i in present]
        remap = np.append(pd.Index(names).get_indexer(cats), -1)  # code -1 (missing) stays -1
        return names, remap[codes]
    values = column.astype(str)
    names = list(pd.unique(values)) if names is None else names
    return names, pd.Index(names).get_indexer(values).astype(np.int64)


def runs(starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each run ``i`` of integers ``starts[i], ..., starts[i] + lengths[i] - 1``, all runs
    concatenated in order: (the run each value belongs to, the values). Lengths must be >= 0."""
    lengths = np.asarray(lengths, dtype=np.int64)
    owner = np.repeat(np.arange(len(lengths)), lengths)
    values = (
        np.repeat(np.asarray(starts, dtype=np.int64), lengths)
        + np.arange(int(lengths.sum()))
        - np.repeat(np.cumsum(lengths) - lengths, lengths)
    )
    return owner, values
