"""The trading system's daily bars in S3, for ``RETURN_BASIS=market``.

Trading's ``MarketDataStore`` keeps one Parquet file per symbol,
``s3://<MARKET_DATA_BUCKET>/<SYMBOL>/daily.parquet`` (columns ``timestamp`` UTC,
``open``, ``high``, ``low``, ``close``, ``volume``). This resource reads the files
a run needs, each symbol once per run, with boto3's standard credential chain and
endpoint variables (``AWS_ENDPOINT_URL_S3`` in tests), and remembers each file's
ETag so a week can say which bars it was computed from.
"""

from __future__ import annotations

import io

import dagster as dg
import pandas as pd
from dagster_aws.utils import ResourceWithBoto3Configuration, construct_boto_client_retry_config
from pydantic import PrivateAttr

from weighting_pipeline.core.market import Bars, MarketDataError, bars_key

BUCKET_ENV = "MARKET_DATA_BUCKET"
BARS_BUCKET, BARS_READ = "market_data_bucket", "bars_read"  # metadata entries naming the bars a week read


class MarketData(ResourceWithBoto3Configuration):
    """Daily bars from trading's market-data bucket (``MARKET_DATA_BUCKET``)."""

    bucket: str | None = None

    _frames: dict = PrivateAttr(default_factory=dict)
    _etags: dict = PrivateAttr(default_factory=dict)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Each run reads the bars afresh: trading rewrites a file when it adjusts history.
        self._frames, self._etags = {}, {}

    def _client(self):
        import boto3

        session = boto3.session.Session(profile_name=self.profile_name, region_name=self.region_name)
        return session.client(
            "s3",
            endpoint_url=self.endpoint_url,
            use_ssl=self.use_ssl,
            verify=self.verify,
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
            aws_session_token=self.aws_session_token,
            config=construct_boto_client_retry_config(self.max_attempts),
        )

    def require_bucket(self) -> str:
        if not self.bucket:
            raise MarketDataError(
                f"RETURN_BASIS=market reads trading's daily bars, but {BUCKET_ENV} is not set "
                "(the bucket trading's MarketDataStore writes <SYMBOL>/daily.parquet to)"
            )
        return self.bucket

    def bars(self, symbols: list[str], first_day: int, last_day: int) -> Bars:
        """The closes of ``symbols`` on the sessions of ``first_day .. last_day`` (day
        numbers). A symbol without a file is left out (the kernel names it if a held
        lot needs it); any other failure to read is an error naming the key."""
        bucket = self.require_bucket()
        client = None
        for symbol in symbols:
            if symbol in self._frames:
                continue
            key = bars_key(symbol)
            client = client or self._client()
            try:
                response = client.get_object(Bucket=bucket, Key=key)
            except client.exceptions.NoSuchKey:
                self._frames[symbol] = None
                continue
            except Exception as exc:  # noqa: BLE001 (named, then re-raised with the key)
                raise MarketDataError(f"could not read s3://{bucket}/{key}: {exc}") from exc
            try:
                frame = pd.read_parquet(io.BytesIO(response["Body"].read()), columns=["timestamp", "close"])
            except Exception as exc:  # noqa: BLE001
                raise MarketDataError(
                    f"s3://{bucket}/{key} is not a daily-bars Parquet file with timestamp and close: {exc}"
                ) from exc
            self._frames[symbol] = frame
            self._etags[key] = str(response.get("ETag", "")).strip('"')
        return Bars.from_frames({s: f for s in symbols if (f := self._frames.get(s)) is not None}, first_day, last_day)

    def read(self) -> dict[str, str]:
        """What this run read: each bars key and its ETag."""
        return dict(sorted(self._etags.items()))


def market_data_from_env(environ) -> MarketData:
    """The resource for a deployment: the bucket from ``MARKET_DATA_BUCKET``, the rest from
    boto3's standard variables."""
    return MarketData(bucket=(environ.get(BUCKET_ENV) or "").strip() or None)


def bars_metadata(resource: MarketData, symbols: list[str] | None = None) -> dict:
    """Metadata naming the bars read (bucket, and each file's ETag): all this run read, or
    those of ``symbols`` (a week's)."""
    read = resource.read()
    if symbols is not None:
        wanted = {bars_key(s) for s in symbols}
        read = {k: v for k, v in read.items() if k in wanted}
    return {BARS_BUCKET: resource.bucket or "", BARS_READ: dg.MetadataValue.json(read)}
