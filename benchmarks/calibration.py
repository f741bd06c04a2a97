"""Calibration of the evidence: over many seeds of no-skill and skilled ledgers shaped
like trading's (``devtools.holding_ledger``: 16 strategies, one lot a session each,
held 5-20 sessions, random-walk prices), the backtest's verdict per return basis.

Printed per basis and ledger kind: the mean and spread of the Newey-West
t-statistic of the weekly active return (0 and 1 under no skill if calibrated),
how often |t| exceeds 1.96 and 2.5, how often the information ratio exceeds 1.96
of its Newey-West standard errors, and the share of weeks in which the noise check
claims a difference. The same runs with the i.i.d. t-statistic and the old
attribution (each week's weights times its booked P&L) are the baseline; on the
``market`` basis (bars from the same random walks) the week's own sessions are
the attribution, so its "old" column is the same backtest with the i.i.d. t.
"""

from __future__ import annotations

import numpy as np

SKILL_DRIFT = 0.003  # per session: half the strategies drift up, half down


def basis_params(basis: str):
    """The seed's parameters on return basis ``basis`` (``lot``, ``deployed`` or ``market``)."""
    from weighting_pipeline.core.chain import WeightingParams

    return {
        "lot": WeightingParams(),
        "deployed": WeightingParams(pnl_date="exit", return_basis="deployed"),
        "market": WeightingParams(return_basis="market"),
    }[basis]


def _one(seed: int, skill: bool, basis: str, n_weeks: int) -> dict:
    import pandas as pd

    from weighting_pipeline.core import analytics
    from weighting_pipeline.core.attribution import entry_attribution
    from weighting_pipeline.core.backtest import score, weekly_realised_returns
    from weighting_pipeline.core.calendar import local_day_number
    from weighting_pipeline.core.chain import run_chain
    from weighting_pipeline.core.invariants import tilt_exceeds_noise
    from weighting_pipeline.core.market import Bars
    from weighting_pipeline.core.sweep import weight_keys
    from weighting_pipeline_devtools.holding_ledger import holding_ledger

    names = [f"s{i:02d}.clj" for i in range(16)]
    baseline = pd.Series(1 / 16, index=names)
    drift = np.where(np.arange(16) % 2 == 0, SKILL_DRIFT, -SKILL_DRIFT) if skill else 0.0
    simulated = holding_ledger(names, "2023-09-01", "2025-12-31", drift=drift, seed=seed)
    ledger = simulated.ledger
    rows = ledger.lots if basis == "lot" else ledger.positions
    params = basis_params(basis)
    keys = [str(d.date()) for d in pd.date_range("2024-01-07", periods=n_weeks, freq="7D")]
    bars = None
    if basis == "market":
        bars = Bars.from_frames(
            {s: simulated.bars(s) for s in simulated.symbols},
            local_day_number("2023-09-01"),
            local_day_number("2025-12-31"),
        )
    out = run_chain(rows, weight_keys(keys), baseline, params, bars=bars)
    realised, closed = weekly_realised_returns(rows, keys, names, params.return_basis, bars)
    attribution = None if basis == "market" else entry_attribution(rows, keys, names, params.return_basis)
    attributed = score(out["dynamic_weights"], keys, baseline, realised, closed, attribution=attribution)[0]["active"]
    old = score(out["dynamic_weights"], keys, baseline, realised, closed)[0]["active"]
    v, v_old = analytics.verdict(attributed), analytics.verdict(old)
    noise = tilt_exceeds_noise(out["sharpe_ratios"], params.noise_alpha, params.return_basis)
    return {
        "t_hac": v.t_statistic_hac,
        "z_hac": v.information_ratio / v.ir_standard_error_hac,
        "t_iid_old": v_old.t_statistic,
        "claims": sum(1 for m in noise.measured.values() if m.get("p_value", 1) < params.noise_alpha) / n_weeks,
    }


def run(seeds: int = 100, n_weeks: int = 70, bases=("lot", "deployed", "market")) -> list[dict]:
    """One row per (basis, skill): the distribution of the statistics over ``seeds`` seeds."""
    out = []
    for basis in bases:
        for skill in (False, True):
            runs = [_one(1000 * skill + seed, skill, basis, n_weeks) for seed in range(seeds)]
            t = np.array([r["t_hac"] for r in runs])
            z = np.array([r["z_hac"] for r in runs])
            old = np.array([r["t_iid_old"] for r in runs])
            out.append(
                {
                    "basis": basis,
                    "skill": skill,
                    "seeds": seeds,
                    "weeks": n_weeks,
                    "t_mean": float(t.mean()),
                    "t_sd": float(t.std(ddof=1)),
                    "t_over_1_96": float(np.mean(np.abs(t) > 1.96)),
                    "t_over_2_5": float(np.mean(np.abs(t) > 2.5)),
                    "z_over_1_96": float(np.mean(np.abs(z) > 1.96)),
                    "old_t_mean": float(old.mean()),
                    "old_t_over_1_96": float(np.mean(np.abs(old) > 1.96)),
                    "noise_claims": float(np.mean([r["claims"] for r in runs])),
                }
            )
    return out
