"""Where the publication log (``publication.log``) is kept: a local folder or an S3 prefix.

The weights IO manager appends to it and reads it back as ``dynamic_weights``'
input (``PublishedWeeks``); ``dynamic_weights`` reads the weeks it compares with;
``weighting-pipeline unpublish`` appends its rollbacks. Entries are small JSON
objects written whole (``parquet_io_manager.store_whole``) and never changed, so
the log needs no lock. In production it lives under ``publications/`` of the
data bucket, which no lifecycle rule expires: the backtest reads it for as long
as history is kept.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pyarrow.fs as pafs
from pydantic import Field, PrivateAttr

from weighting_pipeline.publication.log import Entry, EntryRef, WeekRecord, fold
from weighting_pipeline.resources.parquet_io_manager import each_object, open_base_path, store_whole

BASE_PATH_ENV = "PUBLICATION_LOG__BASE_PATH"
DEFAULT_FOLDER = "publication_log"  # under the Dagster instance's storage directory


class PublicationLog(dg.ConfigurableResource):
    """The publication log's store. Without ``base_path`` it is the folder
    ``publication_log`` of the Dagster instance's storage directory."""

    base_path: str | None = Field(
        default=None,
        description=f"Local folder or s3://bucket/prefix ({BASE_PATH_ENV}); never expire it.",
    )

    _fs: pafs.FileSystem | None = PrivateAttr(default=None)
    _root: str | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self.open(context.instance)

    def open(self, instance: dg.DagsterInstance | None = None) -> PublicationLog:
        """Resolve where the log is (``instance`` gives the default folder); returns self."""
        if self.base_path:
            self._fs, self._root = open_base_path(self.base_path, BASE_PATH_ENV)
        elif instance is not None:
            self._fs, self._root = open_base_path(str(Path(instance.storage_directory()) / DEFAULT_FOLDER))
        return self

    @property
    def location(self) -> str:
        """The log's root as a user would name it (a folder, or s3://bucket/prefix)."""
        root = self._opened()[1]
        return root if isinstance(self._fs, pafs.LocalFileSystem) else f"s3://{root}"

    def _opened(self) -> tuple[pafs.FileSystem, str]:
        if self._fs is None or self._root is None:
            raise RuntimeError(f"the publication log has no place: set {BASE_PATH_ENV} or run with a Dagster instance")
        return self._fs, self._root

    def append(self, entries: Iterable[Entry]) -> None:
        """Write each entry as its own object (a whole-object write each)."""
        fs, root = self._opened()
        each_object(fs, lambda e: store_whole(fs, f"{root}/{e.ref.name}", e.to_json()), entries)

    def refs(self) -> list[EntryRef]:
        """Every entry's ref, from one listing of the log (files that are not entries are ignored)."""
        fs, root = self._opened()
        infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
        found = (EntryRef.parse(i.path[len(root) + 1 :]) for i in infos if i.type == pafs.FileType.File)
        return [r for r in found if r is not None]

    def read(self, refs: Iterable[EntryRef]) -> dict[EntryRef, Entry]:
        """The entries named by ``refs``, each read once."""
        fs, root = self._opened()

        def load(ref: EntryRef) -> Entry:
            with fs.open_input_stream(f"{root}/{ref.name}") as f:
                return Entry.from_json(ref, f.read())

        wanted = sorted(set(refs))
        return dict(zip(wanted, each_object(fs, load, wanted)))

    def weeks(self) -> PublishedWeeks:
        """What the log holds now, from one listing."""
        return PublishedWeeks(self, fold(self.refs()))


def publication_log_from_env(environ: Mapping[str, str] | None = None) -> PublicationLog:
    """The log at ``PUBLICATION_LOG__BASE_PATH``, or (unset) in the Dagster instance's storage."""
    environ = os.environ if environ is None else environ
    return PublicationLog(base_path=(environ.get(BASE_PATH_ENV) or "").strip() or None)


@dataclass(frozen=True)
class PublishedWeeks:
    """``dynamic_weights`` as an input: week -> what the log says of it (``WeekRecord``),
    and the entries behind it, read when asked for."""

    log: PublicationLog
    records: dict[str, WeekRecord] = field(default_factory=dict)
    read: dict[EntryRef, Entry] = field(default_factory=dict, repr=False)  # entries already read

    def record(self, week: str) -> WeekRecord:
        """What the log says of ``week`` (never computed: no state)."""
        return self.records.get(week, WeekRecord(None, None, None))

    def published(self, weeks: Iterable[str]) -> dict[str, Entry]:
        """Week -> its newest publication, for the weeks of ``weeks`` published at least once."""
        return self._entries({w: self.record(w).published for w in weeks})

    def latest(self, weeks: Iterable[str]) -> dict[str, Entry]:
        """Week -> its newest entry with weights (published or not), for the weeks that have one."""
        return self._entries({w: self.record(w).latest for w in weeks})

    def _entries(self, refs: dict[str, EntryRef | None]) -> dict[str, Entry]:
        """Week -> the entry its ref names, each entry read from the store once per view."""
        wanted = {r for r in refs.values() if r is not None and r not in self.read}
        self.read.update(self.log.read(wanted))
        return {w: self.read[r] for w, r in refs.items() if r is not None}
