"""What xlir-tui keeps in its cache folder (:func:`~xlir_tui.storage.files.cache_root`), and pruning
it.

The cache holds what can be made again, at a cost: built embedded models, models exported for a
backend, embeddings, the explorer's indexes, parsed collections, translations, and the explorer's
training logs. It grows (an export is 450 MB; every model trained and encoded adds one), so a
person must be able to see it and reclaim it: :func:`inventory` lists every entry by kind with its
size and when it was last used; :func:`remove_entry` removes one.

An entry is recognised by its own record or shape, never by its place alone:

=============== ====================================================================================
kind            recognised by
=============== ====================================================================================
``models``      ``xlir_embedded.json`` (an embedded model built from its wheel)
``exports``     ``xlir_export.json`` (a model exported for a backend)
``embeddings``  ``manifest.json`` of format ``xlir-tui/embeddings``, or (older entries) a folder
                of nothing but ``<hash>.parquet`` shards
``indexes``     ``manifest.json`` of an index format (``xlir-tui/dense-index``, ...)
``collections`` ``manifest.json`` of format ``xlir-tui/collection-cache``
``translations`` a folder of nothing but ``<hash>.parquet`` shards
``train-logs``  the explorer's ``<run>.toml`` settings and ``<run>.log`` output, by run
=============== ====================================================================================

Anything else (a file of the user's, a folder of another tool) is listed as unknown and never
removed. A writer's unfinished temporary (``.NAME.tmp-PID@HOST@...``) is removed only once its
process is gone (:func:`~xlir_tui.storage.files.remove_stale_temporaries`).

Removal never takes what a live process holds: an entry whose lock (``.NAME.lock``, held while a
model is built or exported) is taken, or that was used in the last :data:`IN_USE_S` seconds
(a process may be loading it), stays. An entry is first renamed to a temporary name of this
process, then deleted: a prune that is killed half way leaves no half entry that could be
loaded, only a temporary that the next writer or prune removes.

"Last used" is the time of an entry's folder: the commands that read an entry touch it
(:func:`~xlir_tui.storage.files.mark_used`), and a write into it changes it too.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..storage.files import cache_root, remove_stale_temporaries, temp_name
from ..storage.shards import MANIFEST_NAME, SHARD_NAME, SHARD_TEMP

__all__ = [
    "IN_USE_S",
    "KINDS",
    "Entry",
    "Inventory",
    "inventory",
    "parse_age",
    "remove_entry",
    "select",
]

KINDS = (
    "models",
    "exports",
    "embeddings",
    "indexes",
    "collections",
    "translations",
    "debias",
    "train-logs",
)
"""Every kind of cache entry, each the name of its folder under the cache root."""

IN_USE_S = 300.0
"""An entry used less than this many seconds ago is never removed: a process may be loading it."""

_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-")
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> float:
    """``30d`` -> seconds. Units: ``s``, ``m`` (minutes), ``h``, ``d``, ``w``; a ValueError that
    says the accepted form otherwise."""
    match = _AGE.match(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not an age: give a number and a unit, such as 30d, 12h, 2w "
            "(s, m, h, d, w)"
        )
    return float(match.group(1)) * _AGE_UNITS[match.group(2)]


@dataclass
class Entry:
    """One thing the cache keeps."""

    kind: str
    path: Path
    """The folder (or, for a training log, the settings file; ``files`` lists all)."""
    bytes: int
    last_used: float
    """Seconds since the epoch."""
    what: str
    """What it is, for a person: the model, backend, collection or run it belongs to."""
    outdated: bool = False
    """Made by an older xlir-tui in a form this one never reads again (safe to remove)."""
    files: list[Path] = field(default_factory=list)
    """The paths removed with the entry (its folder, or a run's log files)."""
    model: str = ""
    """The fingerprint of the model an export or embeddings belong to (empty for others)."""

    @property
    def name(self) -> str:
        return self.path.name if self.kind != "train-logs" else self.path.stem

    def to_dict(self, root: Path) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "path": str(self.path),
            "bytes": self.bytes,
            "last_used": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.last_used)),
            "what": self.what,
            "outdated": self.outdated,
        }


@dataclass
class Inventory:
    """Everything under the cache root: entries by kind, temporaries, and what is not ours."""

    root: Path
    entries: list[Entry] = field(default_factory=list)
    temporaries: list[tuple[Path, int]] = field(default_factory=list)
    """Writers' unfinished temporaries (removed only once their process is gone)."""
    unknown: list[tuple[Path, int]] = field(default_factory=list)
    """Files and folders xlir-tui did not write: listed, never removed."""

    def by_kind(self) -> list[dict[str, Any]]:
        """Per kind: entries, bytes, outdated entries, the latest use."""
        out = []
        for kind in KINDS:
            mine = [e for e in self.entries if e.kind == kind]
            out.append(
                {
                    "kind": kind,
                    "entries": len(mine),
                    "bytes": sum(e.bytes for e in mine),
                    "outdated": sum(e.outdated for e in mine),
                    "last_used": max((e.last_used for e in mine), default=None),
                }
            )
        return out

    @property
    def total_bytes(self) -> int:
        return (
            sum(e.bytes for e in self.entries)
            + sum(n for _, n in self.temporaries)
            + sum(n for _, n in self.unknown)
        )

    def to_dict(self) -> dict[str, Any]:
        def stamp(t: float | None) -> str | None:
            return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t))

        return {
            "root": str(self.root),
            "bytes": self.total_bytes,
            "kinds": [{**k, "last_used": stamp(k["last_used"])} for k in self.by_kind()],
            "entries": [e.to_dict(self.root) for e in self.entries],
            "temporaries": [{"path": str(p), "bytes": n} for p, n in self.temporaries],
            "unknown": [{"path": str(p), "bytes": n} for p, n in self.unknown],
        }


# ------------------------------------------------------------------------------ reading


def _size(path: Path) -> int:
    """Bytes of a file, or of every file under a folder (links are not followed)."""
    try:
        if path.is_symlink() or not path.is_dir():
            return path.lstat().st_size
    except OSError:
        return 0
    total = 0
    stack = [path]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                for entry in it:
                    with contextlib.suppress(OSError):
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(Path(entry.path))
                        else:
                            total += entry.stat(follow_symlinks=False).st_size
        except OSError:
            continue
    return total


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except OSError:
        return 0.0


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _shard_folder(path: Path) -> bool:
    """A folder of nothing but hash-named parquet shards (and their temporaries)."""
    try:
        names = [p.name for p in path.iterdir()]
    except OSError:
        return False
    shards = [n for n in names if SHARD_NAME.match(n)]
    rest = [n for n in names if not SHARD_NAME.match(n) and not SHARD_TEMP.match(n)]
    return bool(shards) and not rest


def _recognise(kind: str, path: Path) -> tuple[str, bool, str] | None:
    """``(what, outdated, model fingerprint)`` when ``path`` is an entry of ``kind`` that
    xlir-tui wrote (the fingerprint empty where it does not apply)."""
    if path.is_symlink() or not path.is_dir():
        return None
    if kind == "models":
        record = _json(path / "xlir_embedded.json")
        if not isinstance(record, dict) or "name" not in record:
            return None
        from ..models.embedded import e5_folder

        return f"{record['name']} ({record.get('package', '?')})", path != e5_folder(), ""
    if kind == "exports":
        record = _json(path / "xlir_export.json")
        if not isinstance(record, dict) or "backend" not in record:
            return None
        from ..models.backends import EXPORT_VERSION

        old = record.get("export_version") != EXPORT_VERSION
        fingerprint = str(record.get("fingerprint", ""))
        return f"{record['backend']} export of model {fingerprint or '?'}", old, fingerprint
    if kind == "embeddings":
        from ..models.encoders import VECTORS_VERSION, EmbeddingCache

        manifest = _json(path / MANIFEST_NAME)
        if isinstance(manifest, dict) and manifest.get("format") == EmbeddingCache.FORMAT:
            backend = str(manifest.get("backend", "?")).split("/")[0]
            prompt = manifest.get("prompt") or ""
            what = f"{manifest.get('model', '?')}, {backend}" + (
                f", prompt {prompt.strip()!r}" if prompt.strip() else ""
            )
            outdated = manifest.get("vectors") != VECTORS_VERSION
            return what, outdated, str(manifest.get("fingerprint", ""))
        if (path / MANIFEST_NAME).exists() or not _shard_folder(path):
            return None
        return "vectors of an older xlir-tui (padded batches)", True, ""
    if kind == "indexes":
        manifest = _json(path / "manifest.json")
        fmt = manifest.get("format") if isinstance(manifest, dict) else None
        if not (isinstance(fmt, str) and fmt.startswith("xlir-tui/") and fmt.endswith("-index")):
            return None
        model = manifest.get("model", {})
        name = model.get("model", "?") if isinstance(model, dict) else "?"
        collection = manifest.get("collection", {})
        cname = collection.get("name", "?") if isinstance(collection, dict) else "?"
        return f"{fmt.removeprefix('xlir-tui/')} of {cname} with {name}", False, ""
    if kind == "collections":
        manifest = _json(path / "manifest.json")
        if not isinstance(manifest, dict) or not (
            manifest.get("format") == "xlir-tui/collection-cache"
            or ("loader_version" in manifest and "fingerprint" in manifest)
        ):
            return None
        from ..data.collections import LOADER_VERSION

        return "a parsed collection", manifest.get("loader_version") != LOADER_VERSION, ""
    if kind == "translations":
        return ("translations", False, "") if _shard_folder(path) else None
    return None


def _temporary(name: str) -> str | None:
    """The target an unfinished temporary belongs to (``.NAME.tmp-...``), else None."""
    match = _TEMP.match(name)
    return match.group("name") if match else None


def _scan_kind(kind: str, folder: Path, inv: Inventory) -> None:
    try:
        children = sorted(folder.iterdir())
    except OSError:
        return
    if kind == "train-logs":
        runs: dict[str, list[Path]] = {}
        for p in children:
            if p.is_file() and not p.is_symlink() and p.suffix in (".toml", ".log"):
                runs.setdefault(p.stem, []).append(p)
            elif _temporary(p.name) is not None:
                inv.temporaries.append((p, _size(p)))
            else:
                inv.unknown.append((p, _size(p)))
        for stem, files in runs.items():
            main = next((f for f in files if f.suffix == ".toml"), files[0])
            inv.entries.append(
                Entry(
                    kind,
                    main,
                    sum(_size(f) for f in files),
                    max(_mtime(f) for f in files),
                    f"training run {stem} started from the explorer",
                    files=sorted(files),
                )
            )
        return
    if kind == "debias":
        _scan_fits(folder, children, inv)
        return
    for p in children:
        if p.name.startswith(".") and p.name.endswith(".lock") and p.is_file():
            continue  # a build lock: kept with its entry, a few bytes
        if _temporary(p.name) is not None:
            inv.temporaries.append((p, _size(p)))
            continue
        known = _recognise(kind, p)
        if known is None:
            inv.unknown.append((p, _size(p)))
            continue
        what, outdated, model = known
        inv.entries.append(Entry(kind, p, _size(p), _mtime(p), what, outdated, [p], model))


def _scan_fits(folder: Path, children: list[Path], inv: Inventory) -> None:
    """The remedies' fits (``debias/KEY.json`` + ``KEY.safetensors``,
    xlir_tui/retrieval/debias_fits.py): an entry is the pair, recognised by its description's
    format."""
    from ..retrieval.debias_fit import FIT_FORMAT

    pairs: dict[str, list[Path]] = {}
    for p in children:
        if p.is_file() and not p.is_symlink() and p.suffix in (".json", ".safetensors"):
            pairs.setdefault(p.stem, []).append(p)
        elif _temporary(p.name) is not None or p.name.startswith(".fit-"):
            inv.temporaries.append((p, _size(p)))
        else:
            inv.unknown.append((p, _size(p)))
    for stem, files in pairs.items():
        meta = _json(folder / f"{stem}.json")
        if not isinstance(meta, dict) or meta.get("format") != FIT_FORMAT:
            inv.unknown.extend((f, _size(f)) for f in files)
            continue
        model = meta.get("model") if isinstance(meta.get("model"), dict) else {}
        inv.entries.append(
            Entry(
                "debias",
                folder / f"{stem}.json",
                sum(_size(f) for f in files),
                max(_mtime(f) for f in files),
                f"{meta.get('method', '?')} fit",
                files=sorted(files),
                model=str(model.get("fingerprint", "")),
            )
        )


def inventory(root: Path | None = None) -> Inventory:
    """Every entry of the cache at ``root`` (default: :func:`cache_root`), recognised by kind."""
    root = Path(root) if root is not None else cache_root()
    inv = Inventory(root)
    try:
        children = sorted(root.iterdir())
    except OSError:
        return inv  # no cache yet: nothing kept
    for p in children:
        if p.name in KINDS and p.is_dir() and not p.is_symlink():
            _scan_kind(p.name, p, inv)
        else:
            inv.unknown.append((p, _size(p)))
    _name_exported_models(inv)
    return inv


def _name_exported_models(inv: Inventory) -> None:
    """Say which model an export belongs to where an embeddings record knows its fingerprint
    (an export's own record holds the fingerprint only)."""
    names = {
        e.model: e.what.split(",")[0] for e in inv.entries if e.kind == "embeddings" and e.model
    }
    for e in inv.entries:
        if e.kind == "exports" and e.model in names:
            e.what = e.what.replace(f"model {e.model}", names[e.model])


def select(
    entries: Sequence[Entry],
    *,
    kinds: Sequence[str] | None = None,
    older_than: float | None = None,
    outdated: bool = False,
    now: float | None = None,
) -> list[Entry]:
    """The entries that match every selector given: of one of ``kinds``, unused for more than
    ``older_than`` seconds, made by an older xlir-tui (``outdated``)."""
    now = time.time() if now is None else now
    chosen = []
    for e in entries:
        if kinds is not None and e.kind not in kinds:
            continue
        if older_than is not None and now - e.last_used < older_than:
            continue
        if outdated and not e.outdated:
            continue
        chosen.append(e)
    return chosen


# ------------------------------------------------------------------------------ removing


@contextlib.contextmanager
def _lock_if_free(lock: Path) -> Iterator[bool]:
    """Hold ``lock`` (an existing ``.NAME.lock``) without waiting; yield whether it is ours.

    A missing lock file is free (nothing builds that entry now); it is never created, so a
    prune leaves no file behind.
    """
    try:
        fd = os.open(lock, os.O_RDWR)
    except FileNotFoundError:
        yield True
        return
    except OSError:
        yield False
        return
    try:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield True
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def remove_entry(entry: Entry, *, now: float | None = None) -> str | None:
    """Remove ``entry``; None when removed, else why it stays (held by a live process)."""
    now = time.time() if now is None else now
    for p in entry.files:
        age = now - _mtime(p)
        if age < IN_USE_S:
            return f"in use (used {max(age, 0):.0f} s ago)"
    lock = entry.path.parent / f".{entry.path.name}.lock"
    trashed: list[Path] = []
    with _lock_if_free(lock) as free:
        if not free:
            return "in use (a process holds its lock)"
        for p in entry.files:
            # a temporary of this process, as atomic_dir names them: a prune killed between the
            # rename and the deletion leaves what the next writer of p (or the next prune) removes
            trash = temp_name(p)
            try:
                p.rename(trash)
            except FileNotFoundError:
                continue  # gone meanwhile
            except OSError as e:
                return f"cannot remove: {e.strerror or e}"
            trashed.append(trash)
    for trash in trashed:
        if trash.is_dir() and not trash.is_symlink():
            shutil.rmtree(trash, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                trash.unlink()
    return None


def remove_stale(inv: Inventory) -> list[Path]:
    """Remove the temporaries whose writer is gone; return them."""
    removed: list[Path] = []
    for path, _ in inv.temporaries:
        target = _temporary(path.name)
        if target is not None:
            removed += [
                p for p in remove_stale_temporaries(path.parent / target) if p not in removed
            ]
    return removed
