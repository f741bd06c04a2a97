"""STRATEGY_CONFIG__PATH=s3://bucket/key: production reads the baseline trading deploys."""

import hashlib
import uuid

import boto3
import dagster as dg
import pytest

from weighting_pipeline.core.baseline import BaselineConfigError, packaged_config_path
from weighting_pipeline.resources.baseline_source import read_baseline
from weighting_pipeline_tests.conftest import run_chain_in_dagster
from weighting_pipeline_tests.stored_weeks import stored_weeks

WEEK = "2026-03-01"


@pytest.fixture
def bucket(aws):
    name = f"trading-config-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=name)
    return s3, name


def test_a_versioned_object_is_read_and_its_version_kept(bucket):
    s3, name = bucket
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    data = packaged_config_path("prod").read_bytes()
    put = s3.put_object(Bucket=name, Key="config/strategy.prod.json", Body=data)
    baseline = read_baseline(f"s3://{name}/config/strategy.prod.json")
    assert baseline.version == f"VersionId {put['VersionId']}"
    assert baseline.sha256 == hashlib.sha256(data).hexdigest() and baseline.file_name == "strategy.prod.json"
    assert len(baseline.keys) == 16 and baseline.stems["holy_grail"] == "ftlt/holy_grail.clj"


def test_an_unversioned_object_is_identified_by_its_etag(bucket):
    s3, name = bucket
    put = s3.put_object(Bucket=name, Key="strategy.json", Body=packaged_config_path("prod").read_bytes())
    assert read_baseline(f"s3://{name}/strategy.json").version == f"ETag {put['ETag'].strip(chr(34))}"


@pytest.mark.parametrize(
    "uri, problem",
    [
        ("s3://{bucket}/missing.json", "baseline config object not found"),
        ("s3://{bucket}", "expected s3://<bucket>/<key>"),
        ("s3://{bucket}/broken.json", "not valid JSON"),
    ],
)
def test_a_bad_location_fails_naming_it(bucket, uri, problem):
    s3, name = bucket
    s3.put_object(Bucket=name, Key="broken.json", Body=b"{not json")
    uri = uri.format(bucket=name)
    with pytest.raises(BaselineConfigError) as err:
        read_baseline(uri)
    assert uri in str(err.value) and problem in str(err.value)


def test_a_week_computed_from_an_s3_baseline_records_where_it_came_from(ledger, tables, instance, bucket):
    s3, name = bucket
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    data = packaged_config_path("prod").read_bytes()
    version = s3.put_object(Bucket=name, Key="strategy.prod.json", Body=data)["VersionId"]
    uri = f"s3://{name}/strategy.prod.json"
    result = run_chain_in_dagster(
        instance, partition_key=WEEK, environ={"APP__STAGE": "prod", "STRATEGY_CONFIG__PATH": uri}
    )
    assert result.success
    item = stored_weeks(tables, [WEEK])[WEEK]
    assert (item["baseline_uri"], item["baseline_version"]) == (uri, f"VersionId {version}")
    assert item["baseline_sha256"] == hashlib.sha256(data).hexdigest() and item["baseline_file"] == "strategy.prod.json"
    meta = instance.get_latest_materialization_event(dg.AssetKey("dynamic_weights")).asset_materialization.metadata
    assert meta["baseline_uri"].value == uri and meta["baseline_version"].value == f"VersionId {version}"
