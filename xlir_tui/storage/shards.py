"""Folders of parquet shards: the one on-disk protocol of the embedding and translation caches.

A cache entry is a folder of parquet shards named by a random id (``<32 hex>.parquet``), each
row keyed by :func:`shard_key` of its text, never pickle. The protocol, written once here for
every cache that grows by appending:

- a new shard is written under a hidden temporary name (``.<id>.parquet.tmp``) and renamed once
  complete, so a reader never sees half a shard; an error, Ctrl-C, SIGTERM or SIGHUP while it is
  written removes the temporary (:func:`~xlir_tui.storage.files.signal_guard`);
- a shard that cannot be read, or holds rows of another shape, is skipped: it only costs
  computing its rows again;
- once a process knows :attr:`ShardFolder.max_shards` shards, its next write is one shard of all
  its rows, and the shards it read or wrote are removed, never one another process wrote
  meanwhile (whose rows this process does not hold);
- an optional ``manifest.json`` says whose rows they are (``xlir-tui cache list`` shows it);
- an OSError while writing is swallowed: a read-only or full cache only costs speed.

Hand-written because no library appends to a parquet dataset from several processes without a
catalogue service (Delta Lake, Iceberg) to keep them apart.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from .files import Terminated, mark_used, signal_guard

__all__ = ["MANIFEST_NAME", "SHARD_NAME", "SHARD_TEMP", "ShardFolder", "shard_key"]

MANIFEST_NAME = "manifest.json"
SHARD_NAME = re.compile(r"^[0-9a-f]{32}\.parquet$")
"""A shard's file name."""
SHARD_TEMP = re.compile(r"^\.[0-9a-f]{32}(\.parquet)?\.tmp$")
"""A shard or manifest being written (``.<id>.tmp`` is how translation shards were written
before both caches shared this module)."""

T = TypeVar("T")


def shard_key(text: str) -> str:
    """The key of a text in a shard: a 128-bit blake2b hash, the same for every cache."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


class ShardFolder:
    """One cache entry's folder of shards: reads them, appends, merges, writes atomically."""

    def __init__(
        self, folder: Path, manifest: dict[str, Any] | None = None, max_shards: int = 16
    ) -> None:
        self.folder = folder
        self.manifest = manifest
        """Written once as ``manifest.json`` before the first shard (None: no manifest)."""
        self.max_shards = max_shards
        self.known: set[str] = set()
        """The shards whose rows this process holds: what a merge may replace."""

    def read(self, parse: Callable[[pl.DataFrame], T | None], **options: Any) -> list[T]:
        """``parse`` of every readable shard (``options`` go to ``pl.read_parquet``), in name
        order; a shard that fails to read or that ``parse`` refuses (None) is skipped. Marks
        the folder used, so pruning by age keeps it."""
        found: list[T] = []
        if not self.folder.is_dir():
            return found
        mark_used(self.folder)
        for shard in sorted(self.folder.glob("*.parquet")):
            try:
                parsed = parse(pl.read_parquet(shard, **options))
            except Exception:
                continue  # a damaged shard only costs computing its rows again
            if parsed is not None:
                found.append(parsed)
                self.known.add(shard.name)
        return found

    def add(self, fresh: Callable[[], pl.DataFrame], merged: Callable[[], pl.DataFrame]) -> None:
        """Write ``fresh()`` as a new shard or, once :attr:`max_shards` are known, ``merged()``
        (every row this process holds) as one shard in place of the known ones."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._write_manifest()
            if len(self.known) >= self.max_shards:
                name = self._write(merged())
                for old in self.known:
                    (self.folder / old).unlink(missing_ok=True)
                self.known = {name}
            else:
                self.known.add(self._write(fresh()))
        except OSError:
            pass  # a read-only cache only costs speed

    def _write(self, frame: pl.DataFrame) -> str:
        name = f"{uuid.uuid4().hex}.parquet"
        self._place(self.folder / name, frame.write_parquet)
        return name

    def _write_manifest(self) -> None:
        path = self.folder / MANIFEST_NAME
        if self.manifest is None or path.exists():
            return
        text = json.dumps(self.manifest, indent=2, ensure_ascii=False) + "\n"
        self._place(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def _place(self, target: Path, write: Callable[[Path], Any]) -> None:
        """``write`` a temporary sibling, then rename it to ``target``; the temporary is removed
        on any error or interruption (a signal says so in its one line)."""
        suffix = ".parquet" if target.suffix == ".parquet" else ""
        tmp = self.folder / f".{uuid.uuid4().hex}{suffix}.tmp"
        with signal_guard():
            try:
                write(tmp)
                tmp.rename(target)
            except BaseException as e:
                if tmp.exists():
                    with contextlib.suppress(OSError):
                        tmp.unlink()
                        if isinstance(e, Terminated):
                            e.removed.append(tmp)
                raise
