"""Children that outlive a Ctrl-C: how the development commands stop what they started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def exit_on_termination_signals(signals=(signal.SIGINT, signal.SIGTERM, signal.SIGHUP)) -> None:
    """End this process on Ctrl-C, SIGTERM and SIGHUP (a closed terminal) by raising, so
    the ``with`` blocks and ``finally`` clauses stop every server it started.
    Python's default for SIGTERM and SIGHUP is to die on the spot, leaving DynamoDB Local
    running; and a process started with SIGINT ignored (a background job, ``nohup``)
    inherits that, so Ctrl-C would do nothing. Once one arrives, later ones are ignored,
    so they cannot cut the clean-up short."""

    def leave(signum, _frame):
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        raise SystemExit(128 + signum)

    for sig in signals:
        signal.signal(sig, leave)


def run_until_stopped(cmd: list[str], **kwargs) -> int:
    """Run a long-lived child (``dagster dev``) until it ends or we are told to stop.

    The child gets its own process group, so a terminal's Ctrl-C or hang-up
    reaches only us and we stop it exactly once: one SIGTERM (which
    ``dagster dev`` handles like Ctrl-C, shutting its webserver and daemon
    down), then its whole group is killed if it is not gone within 60 s.
    Once it has gone, what is left of its group gets a few seconds and is then
    killed: ``dagster dev`` can exit before a code server it started has.
    """
    child = subprocess.Popen(cmd, start_new_session=True, **kwargs)
    try:
        return child.wait()
    except KeyboardInterrupt:
        return 130
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # shutting down: a second Ctrl-C must not cut it short
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        end_group(child.pid)
        child.wait()


def _stat(pid: int | str) -> tuple[str, int] | None:
    """(state, process group) of a process, from /proc; None once it is gone."""
    try:
        state, _ppid, group = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[:3]
    except (OSError, ValueError):
        return None
    return state, int(group)


def is_alive(pid: int) -> bool:
    """Whether ``pid`` is running (a zombie, exited but not reaped, is not)."""
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes in process group ``pgid``, from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(entry.name)) is not None and stat[1] == pgid and stat[0] != "Z":
            members.append(int(entry.name))
    return members


def end_group(pgid: int, grace: float = 5.0, settle: float = 10.0) -> list[int]:
    """Wait up to ``grace`` seconds for process group ``pgid`` to empty, then SIGKILL what is
    left and wait up to ``settle`` seconds for it to be gone.

    A killed process is not gone at once: one holding much memory takes a while to free it,
    and a loaded machine may not schedule it for a moment. Returning before then let a caller
    that checks "nothing left" see it (seen in CI). Returns the members still alive after
    ``settle`` (normally none), so a caller can name them.
    """
    deadline = time.monotonic() + grace
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if not group_members(pgid):
        return []
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return []
    deadline = time.monotonic() + settle
    while (left := group_members(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def stop_groups(children: list[subprocess.Popen], grace: float = 20.0) -> None:
    """Stop children started with ``start_new_session=True``, newest first: SIGTERM to each
    one's process group, up to ``grace`` seconds in all for them to exit, then SIGKILL what
    is left of each group (``end_group``) and reap every child."""
    for child in reversed(children):
        if child.poll() is None:
            try:
                os.killpg(child.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace
    for child in reversed(children):
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        end_group(child.pid, grace=0)
        child.wait()


def materialize_command(selection: str, *args: str) -> list[str]:
    """Dagster's CLI materialising ``selection`` of this project's definitions (``args``: its
    partition options), in this interpreter."""
    return [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "weighting_pipeline.definitions",
            "--select", selection, *args]  # fmt: skip
