"""Intermediate assets as one Parquet file per (asset, week), on disk or on S3.

Range-aware: an output covering many weeks is a frame with a ``partition_key``
column and is split into one file per week; loading a range reads and
concatenates the weeks asked for. Each week is serialised in memory first and
then stored in one step: on disk through a temporary name and a rename, on S3
as one object (a PUT is atomic). So a crash never leaves a half-written week,
and two runs writing the same week leave one of the two whole files.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from pydantic import Field, PrivateAttr

# Reads and writes of a long range on S3 are latency-bound: overlap them.
_REMOTE_THREADS = 16


def open_base_path(base_path: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem and root path for a local folder or an ``s3://bucket/prefix`` URI.

    S3 uses the standard AWS credential chain and region, and the endpoint in
    ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` when set (pyarrow reads them).
    """
    if "://" in base_path:
        try:
            return pafs.FileSystem.from_uri(base_path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise ValueError(f"INTERMEDIATES__BASE_PATH={base_path!r} cannot be opened: {exc}") from None
    root = Path(base_path).expanduser().resolve()
    return pafs.LocalFileSystem(), root.as_posix()


class PartitionedParquetIOManager(dg.ConfigurableIOManager):
    """Stores partitioned DataFrames under ``<base_path>/<asset>/<week>.parquet``."""

    base_path: Optional[str] = Field(
        default=None,
        description="Local folder or s3://bucket/prefix; defaults to <DAGSTER_HOME storage>/weighting_pipeline.",
    )

    _fs: Optional[pafs.FileSystem] = PrivateAttr(default=None)
    _resolved_root: Optional[str] = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if self.base_path:
            self._fs, self._resolved_root = open_base_path(self.base_path)
        elif context.instance is not None:
            self._fs, self._resolved_root = open_base_path(str(Path(context.instance.storage_directory()) / "weighting_pipeline"))

    @property
    def _remote(self) -> bool:
        return not isinstance(self._fs, pafs.LocalFileSystem)

    def _root(self) -> str:
        if self._resolved_root is None:
            raise RuntimeError("PartitionedParquetIOManager needs base_path when run without a Dagster instance")
        return self._resolved_root

    def _where(self) -> str:
        root = self._root()
        return f"s3://{root}" if self._remote else root

    def _path(self, asset_key: dg.AssetKey, partition_key: str) -> str:
        return "/".join([self._root(), *asset_key.path, f"{partition_key}.parquet"])

    def _store(self, path: str, data: pa.Buffer) -> None:
        if self._remote:
            with self._fs.open_output_stream(path) as out:
                out.write(data)
            return
        folder, name = path.rsplit("/", 1)
        self._fs.create_dir(folder, recursive=True)
        tmp = f"{folder}/.{name}.{uuid.uuid4().hex}.tmp"
        with self._fs.open_output_stream(tmp) as out:
            out.write(data)
        self._fs.move(tmp, path)  # a rename: atomic on POSIX

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

        def store(i: int) -> None:
            part = table.slice(bounds[i], bounds[i + 1] - bounds[i])
            part = part.add_column(position, "partition_key", pa.array([keys[i]] * part.num_rows, pa.string()))
            buffer = pa.BufferOutputStream()
            pq.write_table(part, buffer)
            self._store(self._path(context.asset_key, keys[i]), buffer.getvalue())

        self._each(store, range(len(keys)))

    def _each(self, fn, items) -> list:
        if self._remote and len(items) > 1:
            with ThreadPoolExecutor(_REMOTE_THREADS) as pool:
                return list(pool.map(fn, items))
        return [fn(item) for item in items]

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        """The weeks asked for, concatenated. An input declared with metadata
        ``allow_missing=True`` gets only the weeks that are stored (possibly none:
        a frame with just ``partition_key``); otherwise a missing week is an error."""
        keys = list(context.asset_partition_keys) if context.has_asset_partitions else []
        paths = [self._path(context.asset_key, k) for k in keys]
        infos = self._fs.get_file_info(paths) if paths else []
        missing = [k for k, info in zip(keys, infos) if info.type != pafs.FileType.File]
        if missing and (context.definition_metadata or {}).get("allow_missing"):
            keys = [k for k in keys if k not in missing]
            paths = [self._path(context.asset_key, k) for k in keys]
            missing = []
        if not keys:
            return pd.DataFrame({"partition_key": pd.Categorical([], categories=[])})
        if missing:
            raise FileNotFoundError(
                f"{context.asset_key.to_user_string()} has no stored data for weeks {missing} "
                f"under {self._where()}; materialize them first"
            )
        tables = self._each(lambda p: pq.read_table(p, filesystem=self._fs), paths)
        position = tables[0].schema.get_field_index("partition_key")
        frame = pa.concat_tables([t.drop_columns("partition_key") for t in tables], promote_options="default").to_pandas()
        week = np.repeat(np.arange(len(keys)), [t.num_rows for t in tables])
        frame.insert(position, "partition_key", pd.Categorical.from_codes(week, categories=keys))
        return frame
