"""A snapshot of what the definitions declare, so any change to them shows in review.

Compared with ``definitions_snapshot.json``. After an intended change, regenerate it with
``UPDATE_DEFINITIONS_SNAPSHOT=1 ./run.sh test fast -k snapshot`` and commit the diff.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import dagster as dg

from weighting_pipeline_tests.conftest import build_definitions

SNAPSHOT = Path(__file__).with_name("definitions_snapshot.json")


def snapshot(defs: dg.Definitions) -> dict:
    """Asset keys, groups, owners, kinds, tags, checks (blocking or not, alerted or not), jobs, schedules and sensors."""
    graph = defs.resolve_asset_graph()
    assets = {}
    for spec in sorted(defs.resolve_all_asset_specs(), key=lambda s: s.key.to_user_string()):
        key = spec.key
        assets[key.to_user_string()] = {
            "group": spec.group_name,
            "owners": sorted(spec.owners),
            "kinds": sorted(spec.kinds),
            "tags": dict(sorted((k, v) for k, v in spec.tags.items() if not k.startswith("dagster/kind/"))),
            "deps": sorted(p.to_user_string() for p in graph.get(key).parent_keys),
            "partitioned": spec.partitions_def is not None,
        }
    checks = {}
    for check_key in sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        spec = graph.get_check_spec(check_key)
        checks[f"{check_key.asset_key.to_user_string()}:{check_key.name}"] = {
            "blocking": spec.blocking,
            **dict(spec.metadata or {}),
        }
    jobs = {
        name: sorted(k.to_user_string() for k in defs.resolve_job_def(name).asset_layer.selected_asset_keys)
        for name in sorted(j.name for j in defs.jobs or [])
    }
    schedules = {}
    for name in sorted(s.name for s in defs.schedules or []):
        s = defs.resolve_schedule_def(name)
        schedules[name] = {
            "cron": s.cron_schedule,
            "timezone": s.execution_timezone,
            "job": s.job_name,
            "default_status": s.default_status.value,
        }
    sensors = {
        s.name: {
            "type": type(s).__name__,
            "default_status": s.default_status.value,
            "minimum_interval_seconds": s.minimum_interval_seconds,
        }
        for s in sorted(defs.sensors or [], key=lambda s: s.name)
    }
    return {"assets": assets, "checks": checks, "jobs": jobs, "schedules": schedules, "sensors": sensors}


def test_the_definitions_match_their_snapshot():
    now = json.dumps(snapshot(build_definitions({"APP__STAGE": "prod"})), indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_DEFINITIONS_SNAPSHOT"):
        SNAPSHOT.write_text(now)
    was = SNAPSHOT.read_text() if SNAPSHOT.exists() else ""
    diff = "".join(
        difflib.unified_diff(was.splitlines(True), now.splitlines(True), str(SNAPSHOT.name), "the definitions now")
    )
    assert not diff, (
        f"the definitions changed; if intended, regenerate {SNAPSHOT.name} (see this file's docstring):\n{diff}"
    )
