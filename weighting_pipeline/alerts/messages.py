"""The text of each alert: short, plain, one fact per line, a link when known.

Pure functions (no Dagster, no boto3), so every message can be read in a test.
SNS subjects are at most 100 characters of printable ASCII.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from weighting_pipeline.alerts.rules import Change, CheckSummary

SUBJECT_LIMIT = 100


@dataclass(frozen=True)
class Alert:
    subject: str
    body: str


def _subject(text: str) -> str:
    text = "".join(c if 32 <= ord(c) < 127 else "?" for c in text)
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 3] + "..."


def _link(webserver_url: str | None, path: str) -> list[str]:
    return [f"Link: {webserver_url.rstrip('/')}{path}"] if webserver_url else []


def first_line(text: str | None) -> str:
    """The first non-empty line of an error message (the whole traceback stays in Dagster)."""
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return "(no message)"


def run_weeks(tags: Mapping[str, str]) -> str:
    """The weeks a run covered, from Dagster's run tags: ``K``, ``A...B`` or ``-``."""
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    if start and end:
        return start if start == end else f"{start}...{end}"
    return "-"


def run_failure(
    *,
    stage: str,
    job: str,
    weeks: str,
    run_id: str,
    step: str | None,
    error: str | None,
    webserver_url: str | None,
    publishes: bool = True,
    attempts: Sequence[str] = (),
) -> Alert:
    """A run failed, for good. A publishing run published nothing of its weeks beyond what its
    log shows; a diagnostics run (``publishes=False``) changed nothing trading reads.
    ``attempts``: the run ids of every attempt (the original first) when Dagster retried it."""
    consequence = (
        "Trading keeps the last published week or the baseline."
        if publishes
        else "Diagnostics only: the published weights are unaffected."
    )
    retried = [f"Attempts: {', '.join(attempts)}"] if len(attempts) > 1 else []
    lines = [
        f"Run {run_id} failed" + (f" on its last attempt ({len(attempts)} of {len(attempts)})." if retried else "."),
        *retried,
        f"Job: {job}",
        f"Weeks: {weeks}",
        f"Failing step: {step or '(none: the run failed outside a step)'}",
        f"Error: {first_line(error)}",
        consequence,
        *_link(webserver_url, f"/runs/{run_id}"),
    ]
    return Alert(_subject(f"[weighting {stage}] run failed: weeks {weeks}"), "\n".join(lines))


def missed_week(*, stage: str, week: str, week_end: str, hours: float, webserver_url: str | None) -> Alert:
    """No successful dynamic_weights materialisation of the latest complete week by its deadline."""
    lines = [
        f"Week {week} has no published weights {hours:g} h after it ended ({week_end}).",
        "Its run may not have started (the schedule is off), be still queued, or have published nothing "
        "(a failed run alerts on its own; a range run leaves the week to a single-week run).",
        "Trading uses the previous week until its grace period ends, then the baseline.",
        *_link(webserver_url, f"/assets/dynamic_weights?partition={week}"),
    ]
    return Alert(_subject(f"[weighting {stage}] week {week} not published"), "\n".join(lines))


def deadman_not_put(*, stage: str, week: str, error: str) -> Alert:
    """The week was published but its dead-man datapoint could not be put (Runtime=scheduled)."""
    lines = [
        f"Week {week} was published, but its datapoint for the missed-week alarm could not be put: {first_line(error)}",
        "The alarm will say the week was missed when its seven days run out; trading reads the week as usual.",
        "Put it by hand to keep the alarm quiet (docs/runbook.md, A week was not published).",
    ]
    return Alert(_subject(f"[weighting {stage}] week {week}: missed-week alarm not fed"), "\n".join(lines))


def live_week_warnings(
    *, stage: str, week: str, run_id: str, changes: Sequence[Change], webserver_url: str | None
) -> Alert:
    """WARN checks of the week trading reads that started failing, changed cause or cleared."""
    lines = [f"Week {week}, published by run {run_id}, which trading reads now:"]
    for c in changes:
        if c.kind == "cleared":
            lines.append(f"- {c.outcome.check}: cleared (was failing: {c.was})")
        else:
            was = f" (was: {c.was})" if c.kind == "changed" else ""
            lines.append(f"- {c.outcome.check}: {c.kind}{was}: {first_line(c.outcome.description)}")
    lines.append(
        "A check that keeps failing for the same cause is not alerted again until it clears or its cause changes."
    )
    lines += _link(webserver_url, f"/runs/{run_id}")
    what = ", ".join(f"{c.outcome.check.split(':')[-1]} {c.kind}" for c in changes)
    return Alert(_subject(f"[weighting {stage}] week {week}: {what}"), "\n".join(lines))


def backfill_warnings(
    *, stage: str, weeks: str, run_id: str, summary: Sequence[CheckSummary], webserver_url: str | None
) -> Alert:
    """One message for a backfill's WARN failures: per check, the count and the first weeks."""
    lines = [f"Backfill of weeks {weeks} (run {run_id}) finished with warnings:"]
    lines += [f"- {s.check}: {s.failed} of {s.weeks} weeks, first {', '.join(s.first)}" for s in summary]
    lines.append(
        "Each week's checks are in the UI; the live week, if any, alerts by itself when its own run publishes it."
    )
    lines += _link(webserver_url, f"/runs/{run_id}")
    return Alert(
        _subject(f"[weighting {stage}] backfill {weeks}: warnings in {len(summary)} check(s)"), "\n".join(lines)
    )
