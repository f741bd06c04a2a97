"""Intermediate assets as one Parquet file per (asset, week).

Range-aware: an output covering many weeks is a frame with a ``partition_key``
column and is split into one file per week; loading a range reads and
concatenates the weeks asked for. Files are written to a temporary name and
renamed, so a crash never leaves a half-written week, and two runs writing the
same week leave one of the two whole files.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Optional

import dagster as dg
import pandas as pd
from pydantic import Field, PrivateAttr


class PartitionedParquetIOManager(dg.ConfigurableIOManager):
    """Stores partitioned DataFrames under ``<base_path>/<asset>/<week>.parquet``."""

    base_path: Optional[str] = Field(
        default=None, description="Root folder; defaults to <DAGSTER_HOME storage>/weighting_pipeline."
    )

    _resolved_root: Optional[Path] = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if self.base_path:
            self._resolved_root = Path(self.base_path)
        elif context.instance is not None:
            self._resolved_root = Path(context.instance.storage_directory()) / "weighting_pipeline"

    def _root(self) -> Path:
        if self._resolved_root is None:
            raise RuntimeError("PartitionedParquetIOManager needs base_path when run without a Dagster instance")
        return self._resolved_root

    def _path(self, asset_key: dg.AssetKey, partition_key: str) -> Path:
        return self._root().joinpath(*asset_key.path, f"{partition_key}.parquet")

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        keys = list(context.asset_partition_keys)
        produced = set(obj["partition_key"].astype(str).unique())
        unexpected = sorted(produced - set(keys))
        if unexpected:
            raise ValueError(f"{context.asset_key.to_user_string()}: output holds weeks outside the run: {unexpected}")
        groups = {str(k): g for k, g in obj.groupby(obj["partition_key"].astype(str), sort=False, observed=True)}
        for key in keys:
            part = groups.get(key, obj.iloc[0:0])
            path = self._path(context.asset_key, key)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
            part.assign(partition_key=key).reset_index(drop=True).to_parquet(tmp, index=False)
            os.replace(tmp, path)

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        keys = list(context.asset_partition_keys)
        paths = [self._path(context.asset_key, k) for k in keys]
        missing = [k for k, p in zip(keys, paths) if not p.exists()]
        if missing:
            raise FileNotFoundError(
                f"{context.asset_key.to_user_string()} has no stored data for weeks {missing} "
                f"under {self._root()}; materialize them first"
            )
        frames = [pd.read_parquet(p) for p in paths]
        frame = pd.concat(frames, ignore_index=True)
        frame["partition_key"] = pd.Categorical(frame["partition_key"].astype(str), categories=keys)
        return frame
