"""Where xlir-tui keeps its caches, and how it writes files without leaving half of one behind."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import XlirError


def cache_root() -> Path:
    """The cache folder: ``$XLIR_TUI_CACHE``, else ``$XDG_CACHE_HOME/xlir-tui``, else ``~/.cache``.

    One environment variable moves every cache (collections, embeddings, indexes), which is what
    tests and shared machines need.
    """
    explicit = os.environ.get("XLIR_TUI_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "xlir-tui"


def file_digest(path: Path, algorithm: str = "blake2b") -> str:
    """Content hash of a file, streamed so large data files never sit in memory twice."""
    h = hashlib.new(algorithm)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def text_digest(*parts: str) -> str:
    """A short stable hash of some strings (cache keys, fingerprints)."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


@contextlib.contextmanager
def atomic_dir(target: Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling folder that becomes ``target`` only if the block succeeds.

    A crash or Ctrl-C leaves the old ``target`` (or nothing) in place, never a half-written one.
    An existing ``target`` without ``overwrite`` is the user's one-line error, for every writer.
    """
    target = Path(target)
    parent = target.parent if str(target.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=parent))
    try:
        yield tmp
        if target.exists():
            if not overwrite:
                raise XlirError(
                    "output folder exists (pass --overwrite to replace it)", path=target
                )
            old = parent / f".{target.name}.old-{os.getpid()}"
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock beside ``folder``, held while it is checked or built, so two processes
    never build the same cache folder at once."""
    lock_path = folder.parent / f".{folder.name}.lock"
    with lock_path.open("a") as f:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: one process at a time by convention
            yield
            return
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def atomic_write_text(path: Path, text: str) -> None:
    """Write a text file through a temporary name and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically, pretty enough for a person to read a manifest."""
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
