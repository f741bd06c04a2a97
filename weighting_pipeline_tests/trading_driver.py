"""Runs trading's own code in trading's venv and prints what it did, as JSON (run by
``test_trading_coordinator.py``; standard library, boto3 and trading's dependencies only).

    python trading_driver.py coordinator <trading root>   # lambda_handler once: its response and what it dispatched
    python trading_driver.py settings <trading root>      # Settings().strategy for the APP__STAGE in the environment

Trading's Lambda client is the only thing stubbed: a real botocore client with a
``Stubber`` answering ``Invoke``, handed to trading's ``StrategyInvoker`` in place of
``boto3.client("lambda")``. Everything else (Settings, the reader, DynamoDB) is real.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from types import SimpleNamespace


def on_path(root: str) -> None:
    # As trading's Lambda sees them: the function's folder and the shared layer at the top of the path.
    sys.path[:0] = [os.path.join(root, "functions", "strategy_orchestrator"), os.path.join(root, "layers", "shared")]


def coordinator(root: str) -> dict:
    on_path(root)
    import boto3
    import lambda_handler
    import strategy_invoker
    from botocore.stub import Stubber

    warnings: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            warnings.append(record.getMessage())

    logging.getLogger("weighting_pipeline_reader").addHandler(Keep(level=logging.WARNING))
    lambda_client = boto3.client("lambda", region_name="us-east-1")
    sent: list[dict] = []
    lambda_client.meta.events.register(
        "provide-client-params.lambda.Invoke", lambda params, **_: sent.append(dict(params))
    )
    stub = Stubber(lambda_client)
    for _ in range(256):
        stub.add_response("invoke", {"StatusCode": 202})
    stub.activate()
    strategy_invoker.boto3 = SimpleNamespace(
        client=lambda service, **kw: lambda_client if service == "lambda" else boto3.client(service, **kw)
    )
    began = time.monotonic()
    response = lambda_handler.lambda_handler({"correlation_id": "weighting-pipeline-test"}, None)
    seconds = time.monotonic() - began
    return {
        "response": response,
        "seconds": seconds,
        "function_names": sorted({p["FunctionName"] for p in sent}),
        "invocation_types": sorted({p["InvocationType"] for p in sent}),
        "payloads": [json.loads(p["Payload"]) for p in sent],
        "reader_warnings": warnings,
    }


def settings(root: str) -> dict:
    on_path(root)
    from the_alchemiser.shared.config.config import Settings

    strategy = Settings().strategy
    return {"files": list(strategy.dsl_files), "allocations": dict(strategy.dsl_allocations)}


if __name__ == "__main__":
    mode, root = sys.argv[1], sys.argv[2]
    result = coordinator(root) if mode == "coordinator" else settings(root)
    print("RESULT " + json.dumps(result, default=str))
