"""How the development commands stop what they started (devtools.processes)."""

import os
import signal
import subprocess
import sys
import time

import pytest

from weighting_pipeline_devtools.processes import end_group, group_members, is_alive, run_until_stopped


def test_what_a_child_leaves_in_its_group_is_stopped_when_it_exits(tmp_path):
    """`dagster dev` can exit before a server it started; that server used to outlive `ui` (seen in CI)."""
    pid_file = tmp_path / "left.pid"
    code = run_until_stopped(["sh", "-c", f"sleep 300 & echo $! > {pid_file}; exit 3"])
    assert code == 3
    left = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while is_alive(left) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not is_alive(left)


def test_end_group_gives_a_grace_period_then_kills(tmp_path):
    child = subprocess.Popen(["sh", "-c", "trap '' TERM; sleep 300"], start_new_session=True)
    try:
        deadline = time.monotonic() + 5
        while len(group_members(child.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert child.pid in group_members(child.pid)
        os.killpg(child.pid, signal.SIGTERM)  # ignored by both: sleep inherits the shell's trap ''
        started = time.monotonic()
        end_group(child.pid, grace=0.5)
        assert time.monotonic() - started >= 0.5
        assert child.wait(timeout=5) == -signal.SIGKILL
        assert group_members(child.pid) == []
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_end_group_returns_only_once_what_it_killed_is_gone():
    """A killed process that holds much memory takes a moment to free it; end_group returned
    before then, and a check for "nothing left" right after it saw the process (seen in CI)."""
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "held = b'x' * (1 << 30); print('ready', flush=True); time.sleep(300)"
    )
    child = subprocess.Popen([sys.executable, "-c", code], start_new_session=True, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        left = end_group(child.pid, grace=0.1)
        assert group_members(child.pid) == []
        assert left == []
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=["SIGTERM", "SIGHUP", "SIGINT"])
def test_each_termination_signal_runs_the_clean_up_even_when_sigint_was_ignored_at_start(tmp_path, sig):
    """The clean-up (``finally``) runs and the exit code says which signal, for a closed terminal
    (SIGHUP) as for SIGTERM, and for Ctrl-C in a process started with SIGINT ignored."""
    marker = tmp_path / "cleaned"
    code = (
        "import signal, sys, time\n"
        "from weighting_pipeline_devtools.processes import exit_on_termination_signals\n"
        "exit_on_termination_signals()\n"
        "try:\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(60)\n"
        "finally:\n"
        f"    open({str(marker)!r}, 'w').write('yes')\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        child.send_signal(sig)
        assert child.wait(timeout=20) == 128 + sig
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert marker.read_text() == "yes"
