"""Starting DynamoDB Local: through LoopbackDynamoDBLocal.java (bound to 127.0.0.1, what
``LocalDynamoDB`` does) against the jar's own ``main`` (every interface), alternately in
one process, each timed from the command to the first accepted connection."""

from __future__ import annotations

import statistics
import subprocess
import time

from weighting_pipeline_devtools.dynamodb_local import find_java, install_dynamodb_local, loopback_command
from weighting_pipeline_devtools.servers import free_port, stop_process, wait_for_port


def _start_seconds(cmd: list[str], port: int, cwd: str) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
    try:
        wait_for_port(port, proc, what="DynamoDB Local")
        return time.perf_counter() - started
    finally:
        stop_process(proc)


def run(repeats: int = 7) -> dict:
    """Median seconds to a listening DynamoDB Local each way, and their ratio."""
    java, lib = find_java(), install_dynamodb_local()
    if java is None:
        raise RuntimeError("this benchmark needs a Java runtime (17+)")
    ways = {
        "jar": lambda port: [
            java,
            f"-Djava.library.path={lib / 'DynamoDBLocal_lib'}",
            "-jar",
            str(lib / "DynamoDBLocal.jar"),
            "-sharedDb",
            "-disableTelemetry",
            "-port",
            str(port),
            "-inMemory",
        ],
        "launcher": lambda port: loopback_command(java, lib, port, ["-inMemory"]),
    }
    timings: dict[str, list[float]] = {way: [] for way in ways}
    for _ in range(repeats):
        for way, cmd in ways.items():
            port = free_port()
            timings[way].append(_start_seconds(cmd(port), port, str(lib)))
    medians = {way: statistics.median(ts) for way, ts in timings.items()}
    return {
        "repeats": repeats,
        "jar_median_s": medians["jar"],
        "median_s": medians["launcher"],
        "min_s": min(timings["launcher"]),
        "max_s": max(timings["launcher"]),
        "ratio_vs_jar": medians["launcher"] / medians["jar"],
    }
