"""The Dagster internals this project needs, in one place, because no public API offers them.

* ``PartitionKeyFilter``: the only way to ask the event log for the latest check
  execution of one partition (``check_statuses`` in ``history``), one query per week.
* ``TargetMaterialization``: ties an ``AssetCheckEvaluation`` to the partition's
  materialization, so a check reported for a week of a backfill range is recorded
  against that week (``assets/checks.py``).

``weighting_pipeline_tests/test_dagster_internals.py`` imports each and fails
naming the one a Dagster upgrade moved; fix the import here, nowhere else.
"""

from __future__ import annotations

from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData as TargetMaterialization,
)
from dagster._core.event_api import PartitionKeyFilter

__all__ = ["PartitionKeyFilter", "TargetMaterialization"]
