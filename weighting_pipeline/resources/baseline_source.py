"""Where the pipeline reads its baseline: a local file, or the object trading deploys in S3.

``STRATEGY_CONFIG__PATH=s3://bucket/key`` lets production read the very file
trading runs on, instead of a copy that drifts. The object is fetched with
boto3's standard credential chain and region (``AWS_REGION``, the task role),
and its S3 version (``VersionId`` on a versioned bucket, else the ``ETag``)
goes into each week's provenance beside the file's SHA-256. The trading
reader never comes here: it reads its own local file.
"""

from __future__ import annotations

from weighting_pipeline.core.baseline import Baseline, BaselineConfigError, baseline_from_bytes, load_baseline

S3 = "s3://"


def read_baseline(location: str) -> Baseline:
    """The validated baseline at ``location``: a local path or ``s3://bucket/key``.
    Errors name the location and the problem."""
    if location.startswith(S3):
        return _from_s3(location)
    return load_baseline(location)


def _from_s3(uri: str) -> Baseline:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, key = uri[len(S3) :].partition("/")
    if not bucket or not key:
        raise BaselineConfigError(f"STRATEGY_CONFIG__PATH={uri!r}: expected s3://<bucket>/<key>")
    try:
        got = boto3.client("s3").get_object(Bucket=bucket, Key=key)
        data = got["Body"].read()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        problem = (
            "baseline config object not found"
            if error.get("Code") in ("NoSuchKey", "NoSuchBucket", "404")
            else "cannot read baseline config"
        )
        raise BaselineConfigError(f"{uri}: {problem} ({error.get('Code')}: {error.get('Message')})") from None
    except BotoCoreError as exc:
        raise BaselineConfigError(f"{uri}: cannot reach S3 ({exc})") from None
    version_id, etag = got.get("VersionId"), got.get("ETag", "").strip('"')
    version = f"VersionId {version_id}" if version_id and version_id != "null" else f"ETag {etag}"
    return baseline_from_bytes(data, uri, version)
