"""The straightforward reference: every week, every strategy, one Python loop.

It shares no code with the vectorised core: windows come from ``zoneinfo``
and ``datetime``, statistics from the ``statistics`` module, and the bounded
renormalisation from an active-set loop (clip, rescale the free strategies,
repeat), which reaches the exact answer in at most S rounds. Tests compare the
core against it; the benchmarks time the core against it.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_left
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

NY = ZoneInfo("America/New_York")


def week_window(key: str, lookback_days: int) -> tuple[datetime, datetime]:
    start = date.fromisoformat(key)
    end_day = start + timedelta(days=7)
    end = datetime.combine(end_day, time(18), NY)
    window_start = datetime.combine(end_day - timedelta(days=lookback_days), time(18), NY)
    return window_start, end


def loop_deployed(held):
    """``notional(strategy, since, until)`` for ``return_basis=deployed``: the sum over
    the strategy's lots entered before ``until`` of entry_price times the quantity
    held at ``since`` (the whole entry quantity if entered at or after it).

    ``held`` is an iterable of (strategy, entry_timestamp, entry_qty, entry_price,
    [(exit_timestamp, exit_qty), ...]) tuples, every time aware.
    """
    by_strategy = defaultdict(list)
    for strategy, entered, qty, price, exits in held:
        by_strategy[strategy].append((entered, qty, price, exits))

    def notional(strategy, since, until):
        total = 0.0
        for entered, qty, price, exits in by_strategy.get(strategy, []):
            if entered >= until:
                continue
            left = qty if entered >= since else qty - sum(q for t, q in exits if t < since)
            if left > 1e-9 * qty:
                total += price * left
        return total

    return notional


def loop_weights(
    lots,
    keys,
    baseline: dict[str, float],
    *,
    lookback_days=90,
    risk_free_rate=0.045,
    min_lots=5,
    min_days=5,
    min_multiplier=0.5,
    max_multiplier=2.0,
    periods=252,
    pnl_date="close",
    deployed=None,
):
    """``{key: {strategy: {"sharpe", "skip_reason", "multiplier", "weight"}}}``.

    ``lots`` is an iterable of (strategy, fully_closed_at datetime (aware),
    entry_qty, entry_price, realized_pnl) tuples; for ``pnl_date="exit"``, of
    (strategy, exit_timestamp, entry_qty, entry_price, exit realized_pnl,
    lot_id) tuples, one per exit record, and a lot counts once per window.
    ``deployed`` (``loop_deployed``): divide each date's P&L by the notional
    deployed over the part of that date inside the window, not by the average lot.
    """
    by_strategy = defaultdict(list)
    for i, (strategy, closed, qty, price, pnl, *lot) in enumerate(lots):
        by_strategy[strategy].append((closed, qty, price, pnl, lot[0] if pnl_date == "exit" else i))
    for rows in by_strategy.values():
        rows.sort(key=lambda r: r[0])
    closes = {s: [r[0] for r in rows] for s, rows in by_strategy.items()}

    out = {}
    for key in keys:
        window_start, end = week_window(key, lookback_days)
        sharpe, reason = {}, {}
        for strategy in baseline:
            rows = by_strategy.get(strategy, [])
            lo = bisect_left(closes.get(strategy, []), window_start)
            hi = bisect_left(closes.get(strategy, []), end)
            window = rows[lo:hi]
            pnl_by_date = defaultdict(float)
            for closed, _, _, pnl, _ in window:
                pnl_by_date[closed.astimezone(NY).date()] += pnl
            positions = {lot: q * p for _, q, p, _, lot in window}  # each lot once
            n = len(positions)
            avg = sum(positions.values()) / n if n else float("nan")
            if n == 0:
                reason[strategy] = "no closed lots in window" if pnl_date == "close" else "no exits in window"
            elif n < min_lots:
                reason[strategy] = f"fewer than {min_lots} lots: {n}"
            elif len(pnl_by_date) < min_days:
                reason[strategy] = f"fewer than {min_days} {pnl_date} dates: {len(pnl_by_date)}"
            elif not avg > 0:
                reason[strategy] = "non-positive average position value"
            else:
                if deployed is None:
                    rets = [pnl_by_date[d] / avg for d in sorted(pnl_by_date)]
                else:

                    def part(d, window_start=window_start, end=end):  # the date's part inside the window
                        midnight = datetime.combine(d, time(0), NY)
                        return max(midnight, window_start), min(
                            datetime.combine(d + timedelta(days=1), time(0), NY), end
                        )

                    rets = [pnl_by_date[d] / deployed(strategy, *part(d)) for d in sorted(pnl_by_date)]
                if max(rets) == min(rets):
                    reason[strategy] = "zero volatility"
                else:
                    mean, std = statistics.fmean(rets), statistics.stdev(rets)
                    sharpe[strategy] = (mean * periods - risk_free_rate) / (std * math.sqrt(periods))
                    reason[strategy] = ""
        mult = {s: 1.0 for s in baseline}
        if len(sharpe) >= 2 and max(sharpe.values()) > min(sharpe.values()):
            smin, smax = min(sharpe.values()), max(sharpe.values())
            for s, v in sharpe.items():
                mult[s] = min_multiplier + (v - smin) / (smax - smin) * (max_multiplier - min_multiplier)
        weights = active_set_weights(baseline, mult, min_multiplier, max_multiplier)
        out[key] = {
            s: {
                "sharpe": sharpe.get(s, float("nan")),
                "skip_reason": reason[s],
                "multiplier": mult[s],
                "weight": weights[s],
            }
            for s in baseline
        }
    return out


def active_set_weights(baseline, mult, lo, hi):
    """Clip-and-rescale until no free strategy breaks its band."""
    fixed: dict[str, float] = {}
    while True:
        free = [s for s in baseline if s not in fixed]
        budget = 1.0 - sum(fixed.values())
        total = sum(baseline[s] * mult[s] for s in free)
        k = budget / total if total > 0 else 0.0
        w = {s: k * baseline[s] * mult[s] for s in free}
        over = [s for s in free if w[s] > hi * baseline[s]]
        under = [s for s in free if w[s] < lo * baseline[s]]
        if not over and not under:
            return {**fixed, **w}
        # Only the side that is violated most can be fixed safely this round.
        if over and (
            not under or sum(w[s] - hi * baseline[s] for s in over) >= sum(lo * baseline[s] - w[s] for s in under)
        ):
            fixed.update({s: hi * baseline[s] for s in over})
        else:
            fixed.update({s: lo * baseline[s] for s in under})
