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
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
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
        week = obj["partition_key"].astype(pd.CategoricalDtype(keys))
        if week.isna().any():
            unexpected = sorted(set(obj.loc[week.isna().to_numpy(), "partition_key"].astype(str)))
            raise ValueError(f"{context.asset_key.to_user_string()}: output holds weeks outside the run: {unexpected}")
        # One pandas -> Arrow conversion for the whole range, then zero-copy slices per week.
        codes = week.cat.codes.to_numpy()
        rest = obj.drop(columns="partition_key")
        if np.any(np.diff(codes) < 0):
            order = np.argsort(codes, kind="stable")
            codes, rest = codes[order], rest.iloc[order]
        position = obj.columns.get_loc("partition_key")
        table = pa.Table.from_pandas(rest, preserve_index=False)
        bounds = np.searchsorted(codes, np.arange(len(keys) + 1))
        for i, key in enumerate(keys):
            part = table.slice(bounds[i], bounds[i + 1] - bounds[i])
            path = self._path(context.asset_key, key)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
            pq.write_table(part.add_column(position, "partition_key", pa.array([key] * part.num_rows, pa.string())), tmp)
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
        tables = [pq.read_table(p) for p in paths]
        position = tables[0].schema.get_field_index("partition_key")
        frame = pa.concat_tables([t.drop_columns("partition_key") for t in tables], promote_options="default").to_pandas()
        week = np.repeat(np.arange(len(keys)), [t.num_rows for t in tables])
        frame.insert(position, "partition_key", pd.Categorical.from_codes(week, categories=keys))
        return frame
