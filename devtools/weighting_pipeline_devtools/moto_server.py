"""moto's server on 127.0.0.1, standing in for the AWS services around the
pipeline (CloudFormation, S3, SNS, SQS, ECS, EC2, Secrets Manager) in tests and in the
local stack, with ``moto_gaps``'s fills for our template applied.

Clients reach it through the standard ``AWS_ENDPOINT_URL`` variable; nothing in
the pipeline knows it is talking to moto.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import urllib.request
from pathlib import Path

from weighting_pipeline_devtools.servers import HOST, LocalServer, free_port, stop_process, wait_for_port

# moto's server, with moto_gaps imported first (by name: moto derives a service from the module's name).
SERVE = "import sys, weighting_pipeline_devtools.moto_gaps; from moto.server import main; sys.exit(main(sys.argv[1:]))"


class LocalAWS(LocalServer):
    """A context manager running moto's server; ``endpoint`` is its URL.

    In this process (threads; the tests) by default, or as its own process with
    ``log`` as its output file (the stack, where it serves several processes).
    """

    def __init__(self, port: int | None = None, log: Path | None = None):
        self.port = port or free_port()
        self.log = log
        self._server = None
        self._proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> LocalAWS:
        if self.log is not None:
            with open(self.log, "ab") as out:
                self._proc = subprocess.Popen(
                    [sys.executable, "-c", SERVE, "-H", HOST, "-p", str(self.port)],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            wait_for_port(self.port, self._proc, what="moto's server")
            return self
        from moto.server import ThreadedMotoServer

        from weighting_pipeline_devtools import moto_gaps  # noqa: F401  (fills moto's gaps on import)

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise

        self._server = ThreadedMotoServer(ip_address=HOST, port=self.port, verbose=False)
        self._server.start()
        wait_for_port(self.port, None, what="moto's server")
        return self

    def stop(self) -> None:
        if self._proc is not None:
            stop_process(self._proc)
            self._proc = None
        if self._server is not None:
            self._server.stop()
            self._server = None

    def manual_ecs_tasks(self) -> None:
        """Keep ECS tasks where they are until told: moto otherwise moves a task
        one state on at every DescribeTasks, which no real cluster does."""
        set_manual_ecs_transitions(self.endpoint)


def set_manual_ecs_transitions(endpoint: str) -> None:
    body = json.dumps({"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1000}}).encode()
    request = urllib.request.Request(f"{endpoint}/moto-api/state-manager/set-transition", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
