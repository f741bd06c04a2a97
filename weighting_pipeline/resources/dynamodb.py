"""The DynamoDB resource: one boto3 client factory with bounded retries."""

from __future__ import annotations

import os
import threading
import zlib
from typing import Any

import boto3
from botocore.config import Config
from dagster_aws.utils import ResourceWithBoto3Configuration
from pydantic import Field, PrivateAttr


def client_config(max_attempts: int, connect_timeout: float, read_timeout: float, pool: int = 16) -> Config:
    """botocore config: standard retry mode (exponential backoff with jitter,
    throttling-aware), bounded attempts, and socket timeouts in seconds."""
    return Config(
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_pool_connections=pool,
    )


class ResponseIntegrityError(RuntimeError):
    """A DynamoDB response body did not match its CRC32 header, even after retries."""


def check_crc32(http_response, model, **_) -> None:
    """botocore ``after-call`` hook: refuse a response whose body fails DynamoDB's CRC32.

    A connection cut mid-response leaves a truncated body. botocore's standard
    retry mode retries it, but once attempts run out it hands back whatever
    parsed (a broken JSON body parses to ``{"message": ...}``), which would read
    as an empty Query page or a clean write. Legacy mode raised here; so do we.
    """
    expected = http_response.headers.get("x-amz-crc32")
    if expected is None or not http_response.content:
        return
    actual = zlib.crc32(http_response.content) & 0xFFFFFFFF
    if actual != int(expected):
        raise ResponseIntegrityError(
            f"An error occurred when calling the {model.name} operation: the response body failed its CRC32 check "
            f"(expected {expected}, got {actual}) after all retries; the connection was probably cut mid-response"
        )


def make_client(
    config: Config,
    *,
    region_name: str | None = None,
    endpoint_url: str | None = None,
    profile_name: str | None = None,
    use_ssl: bool = True,
    verify: bool | None = None,
    aws_access_key_id: str | None = None,
    aws_secret_access_key: str | None = None,
    aws_session_token: str | None = None,
):
    """A DynamoDB client from the standard AWS chain.

    ``AWS_REGION`` is honoured as well as ``AWS_DEFAULT_REGION`` (botocore
    reads only the latter); ``AWS_ENDPOINT_URL_DYNAMODB`` is read by boto3
    itself when ``endpoint_url`` is None. Credentials come from the default
    chain unless given explicitly.
    """
    region = region_name or os.environ.get("AWS_REGION") or None
    session = boto3.session.Session(profile_name=profile_name, region_name=region)
    kwargs = {"endpoint_url": endpoint_url or None, "use_ssl": use_ssl, "config": config}
    if verify is not None:
        kwargs["verify"] = verify
    if aws_access_key_id and aws_secret_access_key:
        kwargs.update(
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token or None,
        )
    client = session.client("dynamodb", **kwargs)
    client.meta.events.register("after-call.dynamodb", check_crc32)
    return client


class DynamoDBResource(ResourceWithBoto3Configuration):
    """DynamoDB via boto3. Leave fields unset to use the standard AWS env vars
    (``AWS_REGION``, ``AWS_ENDPOINT_URL_DYNAMODB``) and credential chain."""

    connect_timeout: float = Field(default=2.0, description="Seconds to wait for a TCP connection.")
    read_timeout: float = Field(default=10.0, description="Seconds to wait for a response.")
    max_pool_connections: int = Field(default=16, description="HTTP connections the client may hold open.")

    _client: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    def get_client(self):
        """The resource's low-level DynamoDB client, created once (building one parses
        botocore's service model); clients are thread-safe, so it is shared."""
        with self._lock:
            if self._client is None:
                self._client = self.new_client()
            return self._client

    def new_client(self):
        """A fresh client, for callers that register their own botocore event hooks on it."""
        return make_client(
            client_config(self.max_attempts, self.connect_timeout, self.read_timeout, self.max_pool_connections),
            region_name=self.region_name,
            endpoint_url=self.endpoint_url,
            profile_name=self.profile_name,
            use_ssl=self.use_ssl,
            verify=self.verify,
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
            aws_session_token=self.aws_session_token,
        )
