"""Deterministic synthetic ledgers of a given size, for the benchmarks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from weighting_pipeline_devtools.demo_ledger import SyntheticLedger, synthetic_ledger

FIRST_KEY = "2021-01-03"


def week_keys(n_weeks: int, first: str = FIRST_KEY) -> list[str]:
    return [str(d.date()) for d in pd.date_range(first, periods=n_weeks, freq="7D")]


def strategies(n: int) -> list[str]:
    return [f"strategy_{i:04d}.clj" for i in range(n)]


def equal_baseline(names: list[str]) -> pd.Series:
    return pd.Series(np.full(len(names), 1.0 / len(names)), index=names)


def generated(
    n_strategies: int, n_weeks: int, n_lots: int, seed: int = 1, lookback_days: int = 90
) -> tuple[SyntheticLedger, list[str], list[str]]:
    """A real-format ledger of about ``n_lots`` lots spread over every window of ``n_weeks`` weeks."""
    keys = week_keys(n_weeks)
    start = pd.Timestamp(keys[0]) - pd.Timedelta(days=lookback_days - 6)
    end = pd.Timestamp(keys[-1]) + pd.Timedelta(days=8)
    days = (end - start).days
    names = strategies(n_strategies)
    return (
        synthetic_ledger(names, str(start.date()), str(end.date()), n_lots / (n_strategies * days), seed=seed),
        keys,
        names,
    )


def ledger(
    n_strategies: int, n_weeks: int, n_lots: int, seed: int = 1, lookback_days: int = 90
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The fully closed lots of ``generated(...)`` (the core lot format)."""
    generated_ledger, keys, names = generated(n_strategies, n_weeks, n_lots, seed, lookback_days)
    return generated_ledger.lots, keys, names


def seeded_environment(
    stack, folder, synthetic: SyntheticLedger, names: list[str], tag: str, close_date_index: bool = False
) -> tuple[dict[str, str], float, object]:
    """DynamoDB Local, started on ``stack`` (an ``ExitStack``), holding ``synthetic`` in
    the trading system's format, and the variables a run needs to read it: the AWS
    ones (also set in this process, for the clients made here), the two tables
    (``trade-ledger-<tag>``, ``strategy-weights-<tag>``) and an equal-weight baseline
    of ``names`` written in ``folder``. Returns them, the seconds seeding took, and the server.
    """
    import json
    import os
    import time
    from pathlib import Path

    from weighting_pipeline.ops.tables import create_tables
    from weighting_pipeline.resources.dynamodb import DynamoDBResource
    from weighting_pipeline_devtools.demo_ledger import seed_ledger
    from weighting_pipeline_devtools.dynamodb_local import LocalDynamoDB

    db = stack.enter_context(LocalDynamoDB(backend=os.environ.get("WEIGHTING_BENCH_BACKEND", "auto"), quiet=True))
    config = Path(folder) / "strategy.json"
    config.write_text(json.dumps({"files": names, "allocations": {n: 1.0 / len(names) for n in names}}))
    aws = {
        "AWS_ENDPOINT_URL_DYNAMODB": db.endpoint,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }
    env = {
        **aws,
        "TRADE_LEDGER__TABLE_NAME": f"trade-ledger-{tag}",
        "STRATEGY_WEIGHTS__TABLE_NAME": f"strategy-weights-{tag}",
        "STRATEGY_CONFIG__PATH": str(config),
    }
    os.environ.update(aws)
    client = DynamoDBResource().get_client()
    create_tables(client, env["TRADE_LEDGER__TABLE_NAME"], env["STRATEGY_WEIGHTS__TABLE_NAME"], close_date_index)
    t = time.perf_counter()
    seed_ledger(env["TRADE_LEDGER__TABLE_NAME"], synthetic, close_date_index=close_date_index)
    return env, time.perf_counter() - t, db
