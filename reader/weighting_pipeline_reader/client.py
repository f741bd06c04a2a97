"""DynamoDB clients from the standard AWS chain, with bounded retries and an integrity check.

The reader builds its client here; the pipeline's ``DynamoDBResource`` wraps
the same functions, so both ends talk to DynamoDB the same way.
"""

from __future__ import annotations

import os
import zlib

import boto3
from botocore.config import Config


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
