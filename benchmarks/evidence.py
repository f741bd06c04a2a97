"""Evidence on real prices: does the tilt pay on strategies traded on real daily closes?

Data: the daily closes bundled with skfolio (``sp500_dataset``: 20 S&P 500 stocks;
``factors_dataset``: the MTUM, QUAL, SIZE, USMV and VLUE factor ETFs; ``sp500_index``),
read from the package's data files, 2014-01-02 .. 2022-12-28. No download.

The strategies were fixed before any result was looked at. Each trades as trading's
strategies do: every session it enters one lot of $10,000 at the close in the symbol
its rule picks, and sells it whole at the close ``HOLD`` sessions later, so about
ten lots are open at once. The rules use only closes up to the entry session:

- ``buy_and_hold_index``: the S&P 500 index, always;
- ``trend_index``: the index when its close is above its 200-session mean, else USMV;
- ``momentum_stocks``: the stock with the best return over sessions t-126 .. t-21;
- ``low_volatility_stocks``: the stock with the lowest 63-session volatility;
- ``short_term_reversal``: the stock with the worst 5-session return;
- ``factor_momentum``: the factor ETF with the best 63-session return;
- ``buy_and_hold_usmv``, ``buy_and_hold_mtum``, ``buy_and_hold_vlue``, ``buy_and_hold_qual``.

The baseline is equal weights. Each basis runs the default settings over every week
whose 90-day window the data covers, and the backtest's verdict is printed with the
share of weeks the noise check claims a difference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

HOLD = 10
FIRST, LAST = "2014-01-02", "2022-12-28"
STRATEGIES = [
    "buy_and_hold_index.clj",
    "trend_index.clj",
    "momentum_stocks.clj",
    "low_volatility_stocks.clj",
    "short_term_reversal.clj",
    "factor_momentum.clj",
    "buy_and_hold_usmv.clj",
    "buy_and_hold_mtum.clj",
    "buy_and_hold_vlue.clj",
    "buy_and_hold_qual.clj",
]


def closes() -> pd.DataFrame:
    """skfolio's bundled closes on the sessions they share, 2014-01-02 .. 2022-12-28 (dollars)."""
    import importlib.resources

    data = importlib.resources.files("skfolio.datasets") / "data"

    def read(name: str) -> pd.DataFrame:
        with importlib.resources.as_file(data / name) as path:
            return pd.read_csv(path, parse_dates=["Date"], index_col="Date")

    stocks, factors, index = read("sp500_dataset.csv.gz"), read("factors_dataset.csv.gz"), read("sp500_index.csv.gz")
    frame = pd.concat([stocks, factors, index.rename(columns={index.columns[0]: "SPX"})], axis=1, join="inner")
    return frame.loc[FIRST:LAST].dropna()


def picks(prices: pd.DataFrame) -> np.ndarray:
    """(strategies, sessions): the column each strategy buys at each session's close (-1: none yet)."""
    col = {c: i for i, c in enumerate(prices.columns)}
    stocks = [c for c in prices.columns if c not in ("MTUM", "QUAL", "SIZE", "USMV", "VLUE", "SPX")]
    factors = ["MTUM", "QUAL", "SIZE", "USMV", "VLUE"]
    logp = np.log(prices)
    ret = logp.diff()
    spx = prices["SPX"]
    out = np.full((len(STRATEGIES), len(prices)), -1, dtype=np.int64)

    def best(score: pd.DataFrame, names: list[str], highest: bool) -> np.ndarray:
        values = score[names].to_numpy()
        ok = np.isfinite(values).all(axis=1)
        pick = np.where(
            ok,
            (np.nanargmax if highest else np.nanargmin)(
                np.where(np.isfinite(values), values, -np.inf if highest else np.inf), axis=1
            ),
            -1,
        )
        return np.where(pick >= 0, np.array([col[n] for n in names])[np.maximum(pick, 0)], -1)

    out[0] = col["SPX"]
    trend = (spx > spx.rolling(200).mean()).to_numpy()
    out[1] = np.where(spx.rolling(200).mean().notna().to_numpy(), np.where(trend, col["SPX"], col["USMV"]), -1)
    out[2] = best(logp.shift(21) - logp.shift(126), stocks, True)
    out[3] = best(ret.rolling(63).std(), stocks, False)
    out[4] = best(logp - logp.shift(5), stocks, False)
    out[5] = best(logp - logp.shift(63), factors, True)
    for i, name in enumerate(["USMV", "MTUM", "VLUE", "QUAL"], start=6):
        out[i] = col[name]
    return out


def run(bases=("lot", "deployed", "market")) -> list[dict]:
    """The verdict per return basis on the real-price strategies."""
    from benchmarks.calibration import basis_params
    from weighting_pipeline.core import analytics
    from weighting_pipeline.core.attribution import entry_attribution
    from weighting_pipeline.core.backtest import score, weekly_realised_returns
    from weighting_pipeline.core.calendar import current_partition_key, local_day_number
    from weighting_pipeline.core.chain import run_chain
    from weighting_pipeline.core.invariants import tilt_exceeds_noise
    from weighting_pipeline.core.market import Bars
    from weighting_pipeline.core.sweep import weight_keys
    from weighting_pipeline_devtools.holding_ledger import ledger_of_holdings, market_bars

    prices = closes()
    chosen = picks(prices)
    strategy, session = np.nonzero(chosen >= 0)
    ledger = ledger_of_holdings(
        STRATEGIES, prices, strategy, chosen[strategy, session], session, np.full(len(session), HOLD), tag="evidence"
    )
    bars = Bars.from_frames(
        {c: market_bars(prices.index, prices[c].to_numpy()) for c in prices.columns},
        local_day_number(FIRST),
        local_day_number(LAST),
    )
    baseline = pd.Series(1 / len(STRATEGIES), index=STRATEGIES)
    first = str(
        (pd.Timestamp(FIRST) + pd.Timedelta(days=300)).date()
    )  # after the 200-session trend's warm-up and a window
    first = str((pd.Timestamp(first) - pd.Timedelta(days=(pd.Timestamp(first).day_of_week + 1) % 7)).date())
    last = current_partition_key(pd.Timestamp(LAST, tz="America/New_York") - pd.Timedelta(days=14), first)
    keys = [str(d.date()) for d in pd.date_range(first, last, freq="7D")]
    out = []
    for basis in bases:
        rows = ledger.lots if basis == "lot" else ledger.positions
        params = basis_params(basis)
        chain = run_chain(rows, weight_keys(keys), baseline, params, bars=bars if basis == "market" else None)
        realised, closed = weekly_realised_returns(rows, keys, STRATEGIES, basis, bars if basis == "market" else None)
        attribution = None if basis == "market" else entry_attribution(rows, keys, STRATEGIES, basis)
        result = score(chain["dynamic_weights"], keys, baseline, realised, closed, attribution=attribution)[0]
        v = analytics.verdict(result["active"])
        noise = tilt_exceeds_noise(chain["sharpe_ratios"], params.noise_alpha, basis)
        claims = sum(1 for m in noise.measured.values() if m.get("p_value", 1.0) < params.noise_alpha) / len(keys)
        out.append(
            {
                "basis": basis,
                "weeks": len(keys),
                "first": keys[0],
                "last": keys[-1],
                "lots": len(ledger.lot_id),
                "information_ratio": v.information_ratio,
                "se_hac": v.ir_standard_error_hac,
                "t_hac": v.t_statistic_hac,
                "p_positive": v.probability_ir_positive_hac,
                "t_iid": v.t_statistic,
                "growth_tilt": float(analytics.cumulative_growth(result["r_tilt"])[-1]),
                "growth_base": float(analytics.cumulative_growth(result["r_base"])[-1]),
                "mean_turnover": float(np.nanmean(result["turnover"])),
                "noise_claims": claims,
            }
        )
    return out


def compare_policies() -> dict[str, pd.DataFrame]:
    """The trading author's designs (``POLICY``) on one backtest (the sweep, lot basis, 5 bp
    costs), on the real-price strategies and on a no-skill ledger of the same shape
    (random-walk prices, the same holding pattern): ``{ledger: table}``, plus each
    table's effective number of trials and deflated ratio in its ``attrs``."""
    from weighting_pipeline.core.chain import WeightingParams
    from weighting_pipeline.core.sweep import sweep
    from weighting_pipeline_devtools.holding_ledger import holding_ledger, ledger_of_holdings

    prices = closes()
    chosen = picks(prices)
    strategy, session = np.nonzero(chosen >= 0)
    real = ledger_of_holdings(
        STRATEGIES, prices, strategy, chosen[strategy, session], session, np.full(len(session), HOLD), tag="evidence"
    )
    noise = holding_ledger(STRATEGIES, FIRST, LAST, drift=0.0, vol=0.012, hold=(HOLD, HOLD), seed=2014).ledger
    baseline = pd.Series(1 / len(STRATEGIES), index=STRATEGIES)
    keys = [str(d.date()) for d in pd.date_range("2015-01-04", "2022-12-04", freq="7D")]  # a year of history first
    out = {}
    for name, ledger in (("real prices", real), ("no skill", noise)):
        result = sweep(
            ledger.lots, keys, baseline, {"policy": ["seed", "pr2977", "script"]}, WeightingParams(cost_bps=5.0)
        )
        table = result.table.copy()
        table.attrs.update(
            effective_trials=result.effective_trials, deflated_ratio=result.deflated_ratio, best=result.best["policy"]
        )
        out[name] = table
    return out


def policy_table(tables: dict) -> str:
    lines = [
        "| ledger | policy | weeks | information ratio ± SE (Newey-West) | t (Newey-West) | active after 5 bp costs, a year | max drawdown after costs | turnover a week |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, t in tables.items():
        for _, r in t.iterrows():
            lines.append(
                f"| {name} | {r['policy']} | {r['weeks']} | {r['information_ratio']:.2f} ± {r['ir_standard_error_hac']:.2f} | "
                f"{r['t_statistic_hac']:.2f} | {100 * r['active_after_costs']:.2f}% | {100 * r['max_drawdown']:.1f}% | {100 * r['mean_turnover']:.2f}% |"
            )
    notes = [
        f"{name}: best {t.attrs['best']}, deflated Sharpe ratio {t.attrs['deflated_ratio']:.3f} over "
        f"{t.attrs['effective_trials']:.1f} effective trials of 3"
        for name, t in tables.items()
    ]
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {n}" for n in notes)


def table(rows: list[dict]) -> str:
    lines = [
        "| basis | weeks | information ratio ± SE (Newey-West) | t (Newey-West) | P(IR > 0) | t (i.i.d. weeks) | growth of 1: tilt vs baseline | mean turnover | weeks the noise check claims a difference |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['basis']} | {r['weeks']} ({r['first']}..{r['last']}) | {r['information_ratio']:.2f} ± {r['se_hac']:.2f} | "
            f"{r['t_hac']:.2f} | {100 * r['p_positive']:.0f}% | {r['t_iid']:.2f} | {r['growth_tilt']:.3f} vs {r['growth_base']:.3f} | "
            f"{100 * r['mean_turnover']:.1f}% | {100 * r['noise_claims']:.0f}% |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(run()))
    print()
    print(policy_table(compare_policies()))
