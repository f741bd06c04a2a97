"""Deterministic synthetic ledgers of a given size, for the benchmarks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from weighting_pipeline.devtools.demo_ledger import SyntheticLedger, synthetic_ledger

FIRST_KEY = "2021-01-03"


def week_keys(n_weeks: int, first: str = FIRST_KEY) -> list[str]:
    return [str(d.date()) for d in pd.date_range(first, periods=n_weeks, freq="7D")]


def strategies(n: int) -> list[str]:
    return [f"strategy_{i:04d}.clj" for i in range(n)]


def equal_baseline(names: list[str]) -> pd.Series:
    return pd.Series(np.full(len(names), 1.0 / len(names)), index=names)


def generated(n_strategies: int, n_weeks: int, n_lots: int, seed: int = 1, lookback_days: int = 90) -> tuple[SyntheticLedger, list[str], list[str]]:
    """A real-format ledger of about ``n_lots`` lots spread over every window of ``n_weeks`` weeks."""
    keys = week_keys(n_weeks)
    start = pd.Timestamp(keys[0]) - pd.Timedelta(days=lookback_days - 6)
    end = pd.Timestamp(keys[-1]) + pd.Timedelta(days=8)
    days = (end - start).days
    names = strategies(n_strategies)
    return synthetic_ledger(names, str(start.date()), str(end.date()), n_lots / (n_strategies * days), seed=seed), keys, names


def ledger(n_strategies: int, n_weeks: int, n_lots: int, seed: int = 1, lookback_days: int = 90) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The fully closed lots of ``generated(...)`` (the core lot format)."""
    generated_ledger, keys, names = generated(n_strategies, n_weeks, n_lots, seed, lookback_days)
    return generated_ledger.lots, keys, names
