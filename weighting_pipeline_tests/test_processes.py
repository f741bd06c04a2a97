"""How the development commands stop what they started (devtools.processes)."""

import os
import signal
import time
from pathlib import Path

from weighting_pipeline.devtools.processes import end_group, group_members, run_until_stopped


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_what_a_child_leaves_in_its_group_is_stopped_when_it_exits(tmp_path):
    """`dagster dev` can exit before a server it started; that server used to outlive `ui` (seen in CI)."""
    pid_file = tmp_path / "left.pid"
    code = run_until_stopped(["sh", "-c", f"sleep 300 & echo $! > {pid_file}; exit 3"])
    assert code == 3
    left = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(left) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(left)


def test_end_group_gives_a_grace_period_then_kills(tmp_path):
    import subprocess

    child = subprocess.Popen(["sh", "-c", "trap '' TERM; sleep 300"], start_new_session=True)
    try:
        deadline = time.monotonic() + 5
        while len(group_members(child.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert child.pid in group_members(child.pid)
        os.killpg(child.pid, signal.SIGTERM)  # the shell ignores it; sleep dies
        started = time.monotonic()
        end_group(child.pid, grace=0.5)
        assert time.monotonic() - started >= 0.5
        assert child.wait(timeout=5) == -signal.SIGKILL
        assert group_members(child.pid) == []
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
