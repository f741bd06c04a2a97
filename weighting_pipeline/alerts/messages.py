"""The text of each alert: short, plain, one fact per line, a link when known.

Pure functions (no Dagster, no boto3), so every message can be read in a test.
SNS subjects are at most 100 characters of printable ASCII.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

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


def run_failure(*, stage: str, job: str, weeks: str, run_id: str, step: str | None, error: str | None,
                webserver_url: str | None, publishes: bool = True) -> Alert:
    """A run failed. A publishing run published nothing of its weeks beyond what its log
    shows; a diagnostics run (``publishes=False``) changed nothing trading reads."""
    consequence = ("Trading keeps the last published week or the baseline." if publishes
                   else "Diagnostics only: the published weights are unaffected.")
    lines = [
        f"Run {run_id} failed.",
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


def warn_checks(*, stage: str, run_id: str, failures: Sequence[tuple[str, str, str]], webserver_url: str | None) -> Alert:
    """WARN checks that failed on published weeks: ``failures`` is (week, check, description)."""
    weeks = sorted({w for w, _, _ in failures})
    lines = [f"Published with warnings (run {run_id}):"]
    lines += [f"- week {w}: {check}: {first_line(text)}" for w, check, text in failures]
    lines += _link(webserver_url, f"/runs/{run_id}")
    span = weeks[0] if len(weeks) == 1 else f"{weeks[0]}...{weeks[-1]} ({len(weeks)} weeks)"
    checks = ", ".join(sorted({c for _, c, _ in failures}))
    return Alert(_subject(f"[weighting {stage}] {checks}: week {span}"), "\n".join(lines))
