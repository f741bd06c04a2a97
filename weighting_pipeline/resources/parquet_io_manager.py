"""Intermediate assets as one Parquet file per (asset, computation, week), on disk or on S3.

Each file lives under ``<base_path>/<asset>/<computation key>/<week>.parquet``. The
computation key (``computation_key``) hashes the run's resolved parameters, the
baseline's SHA-256 and the asset's code version, so a run never reads an upstream
computed under other settings, another baseline or other code: it finds no file
under its own key and fails, saying so and to materialise from ``closed_lots``.

Range-aware: an output covering many weeks is a frame with a ``partition_key``
column and is split into one file per week; loading a range reads and
concatenates the weeks asked for. Each week is serialised in memory first and
then stored in one step: on disk through a temporary name and a rename, on S3
as one object (a PUT is atomic). So a crash never leaves a half-written week,
and two runs writing the same week leave one of the two whole files.
"""

import hashlib
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from pydantic import Field, PrivateAttr

from weighting_pipeline.settings import WeightingSettings

# Reads and writes of a long range on S3 are latency-bound: overlap them.
_REMOTE_THREADS = 16
COMPUTATION_KEY_LENGTH = 12  # hex digits of SHA-256: 48 bits, for a handful of settings per asset
ROOT_ASSET = "closed_lots"  # the chain's first asset: what to materialise from after a change


def computation_key(parameters: dict, baseline_sha256: str, code_version: str) -> str:
    """What an intermediate was computed with, as a short hex digest: the first
    ``COMPUTATION_KEY_LENGTH`` hex digits of SHA-256 over the parameters (JSON, sorted
    keys), the baseline file's SHA-256 and the asset's code version."""
    text = json.dumps(
        {"parameters": parameters, "baseline_sha256": baseline_sha256, "code_version": code_version},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(text.encode()).hexdigest()[:COMPUTATION_KEY_LENGTH]


def open_base_path(base_path: str, setting: str = "INTERMEDIATES__BASE_PATH") -> tuple[pafs.FileSystem, str]:
    """The filesystem and root path for a local folder or an ``s3://bucket/prefix`` URI
    (``setting`` names where it came from, in the error if it cannot be opened).

    S3 uses the standard AWS credential chain and region, and the endpoint in
    ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` when set (pyarrow reads them).
    """
    if "://" in base_path:
        try:
            return pafs.FileSystem.from_uri(base_path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise ValueError(f"{setting}={base_path!r} cannot be opened: {exc}") from None
    root = Path(base_path).expanduser().resolve()
    return pafs.LocalFileSystem(), root.as_posix()


def each_object(fs: pafs.FileSystem, fn, items) -> list:
    """``[fn(item) for item in items]``, overlapped on ``_REMOTE_THREADS`` threads when ``fs``
    is remote (S3 reads and writes are latency-bound), in order on local disk."""
    items = list(items)
    if not isinstance(fs, pafs.LocalFileSystem) and len(items) > 1:
        with ThreadPoolExecutor(_REMOTE_THREADS) as pool:
            return list(pool.map(fn, items))
    return [fn(item) for item in items]


def store_whole(fs: pafs.FileSystem, path: str, data) -> None:
    """Write ``data`` (bytes or an Arrow buffer) to ``path`` in one step: on S3 one PUT
    (atomic), on disk a temporary name and a rename (atomic on POSIX), so a reader
    never sees part of a file."""
    if not isinstance(fs, pafs.LocalFileSystem):
        with fs.open_output_stream(path) as out:
            out.write(data)
        return
    folder, name = path.rsplit("/", 1)
    fs.create_dir(folder, recursive=True)
    tmp = f"{folder}/.{name}.{uuid.uuid4().hex}.tmp"
    with fs.open_output_stream(tmp) as out:
        out.write(data)
    fs.move(tmp, path)


class PartitionedParquetIOManager(dg.ConfigurableIOManager):
    """Stores partitioned DataFrames under ``<base_path>/<asset>/<computation key>/<week>.parquet``.

    ``settings`` must be the run's own settings resource (the top-level ``settings``,
    given as ``WeightingSettings.configure_at_launch(...)`` so that run config on it
    reaches this manager too); ``code_versions`` maps each asset's name to its code version.
    """

    base_path: str | None = Field(
        default=None,
        description="Local folder or s3://bucket/prefix; defaults to <DAGSTER_HOME storage>/weighting_pipeline.",
    )
    settings: WeightingSettings
    code_versions: dict[str, str] = Field(
        default_factory=dict, description="Asset name -> code version, part of each file's computation key."
    )

    _fs: pafs.FileSystem | None = PrivateAttr(default=None)
    _resolved_root: str | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if self.base_path:
            self._fs, self._resolved_root = open_base_path(self.base_path)
        elif context.instance is not None:
            self._fs, self._resolved_root = open_base_path(
                str(Path(context.instance.storage_directory()) / "weighting_pipeline")
            )

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

    def computation_key(self, asset_key: dg.AssetKey) -> str:
        """This run's computation key for ``asset_key`` (see ``computation_key``)."""
        name = asset_key.to_user_string()
        if name not in self.code_versions:
            raise KeyError(f"intermediate_io_manager has no code version for asset {name!r}; add it to code_versions")
        return computation_key(
            self.settings.params().as_dict(), self.settings.baseline().sha256, self.code_versions[name]
        )

    def _folder(self, asset_key: dg.AssetKey) -> str:
        return "/".join([self._root(), *asset_key.path])

    def _path(self, asset_key: dg.AssetKey, partition_key: str, key: str) -> str:
        return f"{self._folder(asset_key)}/{key}/{partition_key}.parquet"

    def _stored_elsewhere(self, asset_key: dg.AssetKey, weeks: list[str]) -> dict[str, list[str]]:
        """Week -> the other computation keys it is stored under, for the weeks in ``weeks`` that have any."""
        entries = self._fs.get_file_info(pafs.FileSelector(self._folder(asset_key), allow_not_found=True))
        mine = self.computation_key(asset_key)
        keys = sorted(e.base_name for e in entries if e.type == pafs.FileType.Directory and e.base_name != mine)
        found: dict[str, list[str]] = {}
        for key in keys:
            infos = self._fs.get_file_info([self._path(asset_key, w, key) for w in weeks])
            for week, info in zip(weeks, infos):
                if info.type == pafs.FileType.File:
                    found.setdefault(week, []).append(key)
        return found

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

        key = self.computation_key(context.asset_key)

        def store(i: int) -> None:
            part = table.slice(bounds[i], bounds[i + 1] - bounds[i])
            part = part.add_column(position, "partition_key", pa.array([keys[i]] * part.num_rows, pa.string()))
            buffer = pa.BufferOutputStream()
            pq.write_table(part, buffer)
            store_whole(self._fs, self._path(context.asset_key, keys[i], key), buffer.getvalue())

        each_object(self._fs, store, range(len(keys)))
        context.add_output_metadata(
            {"computation_key": key, "stored_under": "/".join([self._where(), *context.asset_key.path, key])}
        )

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        """The weeks asked for, concatenated. An input declared with metadata
        ``allow_missing=True`` gets only the weeks that are stored (possibly none:
        a frame with just ``partition_key``); otherwise a missing week is an error.
        A week stored only under another computation key counts as missing: it was
        computed with other settings, baseline or code. The error then names the
        keys and says to materialise from ``closed_lots``."""
        keys = list(context.asset_partition_keys) if context.has_asset_partitions else []
        key = self.computation_key(context.asset_key) if keys else ""
        paths = [self._path(context.asset_key, k, key) for k in keys]
        infos = self._fs.get_file_info(paths) if paths else []
        missing = [k for k, info in zip(keys, infos) if info.type != pafs.FileType.File]
        if missing and (context.definition_metadata or {}).get("allow_missing"):
            keys = [k for k in keys if k not in missing]
            paths = [self._path(context.asset_key, k, key) for k in keys]
            missing = []
        if not keys:
            return pd.DataFrame({"partition_key": pd.Categorical([], categories=[])})
        if missing:
            raise self._missing_error(context.asset_key, key, missing)
        tables = each_object(self._fs, lambda p: pq.read_table(p, filesystem=self._fs), paths)
        position = tables[0].schema.get_field_index("partition_key")
        frame = pa.concat_tables(
            [t.drop_columns("partition_key") for t in tables], promote_options="default"
        ).to_pandas()
        week = np.repeat(np.arange(len(keys)), [t.num_rows for t in tables])
        frame.insert(position, "partition_key", pd.Categorical.from_codes(week, categories=keys))
        return frame

    def _missing_error(self, asset_key: dg.AssetKey, key: str, missing: list[str]) -> FileNotFoundError:
        name = asset_key.to_user_string()
        elsewhere = self._stored_elsewhere(asset_key, missing)
        if not elsewhere:
            return FileNotFoundError(
                f"{name} has no stored data for weeks {missing} under {self._where()}; materialize them first"
            )
        stale = sorted(elsewhere)
        others = sorted({k for ks in elsewhere.values() for k in ks})
        return FileNotFoundError(
            f"{name} for weeks {stale} was computed under other settings, another baseline or other code "
            f"(stored under {', '.join(others)}; this run needs {key}: baseline sha256 {self.settings.baseline().sha256[:12]}, "
            f"code version {self.code_versions[name]}, parameters {self.settings.params().as_dict()}); "
            f"materialize these weeks from {ROOT_ASSET} with this run's settings"
        )
