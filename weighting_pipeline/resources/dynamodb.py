"""The DynamoDB resource: one boto3 client factory with bounded retries, for the pipeline.

The client itself is built by the reader package's ``client`` module, which
trading's reader uses directly.
"""

from __future__ import annotations

import threading
from typing import Any

from dagster_aws.utils import ResourceWithBoto3Configuration
from pydantic import Field, PrivateAttr

from weighting_pipeline_reader.client import client_config, make_client


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
