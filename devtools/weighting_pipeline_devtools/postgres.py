"""A throwaway PostgreSQL server on 127.0.0.1, from Debian's ``postgresql`` package.

It is Dagster's production storage in the rehearsal (``./run.sh stack``) and in
the tests. PostgreSQL refuses to run as root, so as root the server runs as the
``postgres`` user, in a folder of its own that ``postgres`` owns (a folder
inside a root-only temp dir would not be enterable by it).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from weighting_pipeline_devtools.servers import HOST, LocalServer, free_port

INSTALL_HINT = (
    "install Debian's PostgreSQL: apt-get install -y postgresql (the tests and ./run.sh stack need its server binaries)"
)
DB_NAME = "dagster"
USER = "dagster"


def find_bin_dir() -> Path:
    """The folder holding initdb and pg_ctl (the newest installed major version)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parent.parent.name))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    raise RuntimeError(f"No PostgreSQL server found: {INSTALL_HINT}")


class LocalPostgres(LocalServer):
    """A context manager running PostgreSQL with trust auth for user ``dagster``;
    ``url`` is its SQLAlchemy URL (psycopg2 driver)."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.bin = find_bin_dir()
        self.root: Path | None = None
        self._as_root = os.geteuid() == 0

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{USER}@{HOST}:{self.port}/{DB_NAME}"

    def env(self) -> dict[str, str]:
        """The ``DAGSTER_PG_*`` variables deploy/dagster.yaml reads."""
        return {
            "DAGSTER_PG_HOST": HOST,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": USER,
            "DAGSTER_PG_PASSWORD": "",
            "DAGSTER_PG_DB": DB_NAME,
        }

    def _run(self, *cmd: str) -> None:
        full = ["runuser", "-u", "postgres", "--", *cmd] if self._as_root else list(cmd)
        done = subprocess.run(full, capture_output=True, text=True)
        if done.returncode != 0:
            log = (
                (self.root / "server.log").read_text(errors="replace")[-2000:]
                if self.root and (self.root / "server.log").exists()
                else ""
            )
            raise RuntimeError(f"{' '.join(cmd[:2])} failed ({done.returncode}): {done.stderr.strip()[-2000:]} {log}")

    def start(self) -> LocalPostgres:
        self.root = Path(tempfile.mkdtemp(prefix="weighting-postgres-"))
        if self._as_root:
            os.chmod(self.root, 0o755)
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        data, sockets = self.root / "data", self.root / "sockets"
        self._run("mkdir", "-p", str(sockets))
        self._run(str(self.bin / "initdb"), "-D", str(data), "--auth=trust", "-U", USER, "--encoding=UTF8", "--no-sync")
        options = f"-p {self.port} -k {sockets} -c listen_addresses={HOST} -c fsync=off -c max_connections=200"
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        self._run(str(self.bin / "createdb"), "-h", HOST, "-p", str(self.port), "-U", USER, DB_NAME)
        return self

    def create_database(self, name: str) -> dict[str, str]:
        """A new, empty database; the ``DAGSTER_PG_*`` variables that select it."""
        self._run(str(self.bin / "createdb"), "-h", HOST, "-p", str(self.port), "-U", USER, name)
        return {**self.env(), "DAGSTER_PG_DB": name}

    def stop(self) -> None:
        if self.root is None:
            return
        if (self.root / "data" / "postmaster.pid").exists():
            try:
                self._run(
                    str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "-t", "30", "stop"
                )
            except RuntimeError:
                pass  # already gone
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None
