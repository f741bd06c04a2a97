"""A fault-injecting HTTP proxy on 127.0.0.1 in front of the local DynamoDB.

Standard library only. Each request is classified as a read (Query, GetItem,
DescribeTable, ...) or a write (PutItem, BatchWriteItem, ...) from its
``X-Amz-Target`` header; with probability ``rates[kind]`` one fault is
injected instead of a clean answer:

* ``http500``: HTTP 500 ``InternalServerError`` (the request never reaches DynamoDB);
* ``throughput``: HTTP 400 ``ProvisionedThroughputExceededException``;
* ``throttling``: HTTP 400 ``ThrottlingException``;
* ``drop``: the request IS applied upstream, then the connection is closed
  halfway through the response body (the client cannot know it succeeded);
* ``latency``: ``latency_s`` of delay, then the real answer (dropped instead if
  the client disconnected meanwhile, as a killed client's request would be);
* ``timeout``: the request is held past the client's read timeout, then the
  connection is closed without an answer (the request never reaches DynamoDB).

Requests are counted per operation, injected faults per (operation, fault).
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

FAULTS = ("http500", "throughput", "throttling", "drop", "latency", "timeout")
WRITES = {"PutItem", "BatchWriteItem", "UpdateItem", "DeleteItem", "TransactWriteItems"}

_ERRORS = {
    "http500": (500, "com.amazonaws.dynamodb.v20120810#InternalServerError"),
    "throughput": (400, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"),
    "throttling": (400, "com.amazon.coral.availability#ThrottlingException"),
}


class FaultProxy:
    """``with FaultProxy(upstream, fault="http500", rates={"read": 0.2, "write": 0.2}) as proxy: proxy.endpoint``."""

    def __init__(
        self,
        upstream: str,
        fault: str | None = None,
        rates: dict[str, float] | None = None,
        seed: int = 0,
        latency_s: float = 0.2,
        hold_s: float = 1.5,
    ):
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {FAULTS}")
        parsed = urlparse(upstream)
        self.upstream = (parsed.hostname, parsed.port)
        self.fault = fault
        self.rates = {"read": 0.0, "write": 0.0, **(rates or {})}
        self.latency_s, self.hold_s = latency_s, hold_s
        self.requests: Counter = Counter()
        self.injected: Counter = Counter()
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _decide(self, operation: str) -> str | None:
        kind = "write" if operation in WRITES else "read"
        with self._lock:
            self.requests[operation] += 1
            if self.fault and self._random.random() < self.rates.get(kind, 0.0):
                self.injected[(operation, self.fault)] += 1
                return self.fault
            return None

    def injected_on(self, *operations: str) -> int:
        return sum(n for (op, _), n in self.injected.items() if op in operations)

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                operation = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
                fault = proxy._decide(operation)
                if fault in _ERRORS:
                    status, error_type = _ERRORS[fault]
                    return self._answer(
                        status, json.dumps({"__type": error_type, "message": "injected by FaultProxy"}).encode(), {}
                    )
                if fault == "timeout":
                    time.sleep(proxy.hold_s)
                    self.close_connection = True
                    return
                if fault == "latency":
                    time.sleep(proxy.latency_s)
                    if self._client_gone():  # a killed client's held request never reaches DynamoDB
                        self.close_connection = True
                        return
                status, payload, headers = self._forward(body)
                if fault == "drop":
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload[: len(payload) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self._answer(status, payload, headers)

            def _client_gone(self) -> bool:
                sock = self.connection
                sock.setblocking(False)
                try:
                    return sock.recv(1, socket.MSG_PEEK) == b""
                except BlockingIOError:
                    return False
                except OSError:
                    return True
                finally:
                    sock.setblocking(True)

            def _forward(self, body: bytes):
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                try:
                    skip = {"host", "content-length", "connection"}
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                    conn.request("POST", self.path, body=body, headers=headers)
                    response = conn.getresponse()
                    payload = response.read()
                    keep = {"content-type", "x-amz-crc32", "x-amzn-requestid"}
                    return response.status, payload, {k: v for k, v in response.getheaders() if k.lower() in keep}
                finally:
                    conn.close()

            def _answer(self, status: int, payload: bytes, headers: dict[str, str]):
                self.send_response(status)
                headers = {"Content-Type": "application/x-amz-json-1.0", **headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
