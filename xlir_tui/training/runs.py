"""What a trained model's folder says of its run, and which data to train on beside a collection.

Two facts change how a trained model's figures must be read, and every place that offers or
names one says them (:func:`run_tags`):

- a run stopped before its last step (Cancel in the explorer, Ctrl-C, SIGTERM) still leaves a
  usable model, recorded as ``stopped`` in its ``xlir_train.json``: it is not the model the
  settings describe;
- a model trained on the questions being scored answers them from memory: its figures on them
  are not held out. The test is on the files' content (a copy of XQuAD-R elsewhere is still
  XQuAD-R), so it holds for runs started from the command line too.

:func:`training_suggestion` picks the training data the explorer's training dialog starts from:
never the collection being explored.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import XlirError
from ..models.run_files import TRAIN_FILE
from ..storage.files import file_digest

SIBLINGS = {"xquad-r": "mlqa-r", "mlqa-r": "xquad-r"}
"""LAReQA's two collections: training on one and evaluating on the other is the held-out setup
of the study (train on MLQA-R, measure on XQuAD-R; they share no question)."""

__all__ = [
    "SIBLINGS",
    "RunRecord",
    "explored_folder",
    "public_name",
    "run_record",
    "run_tags",
    "shares_data",
    "training_suggestion",
]


@dataclass(frozen=True)
class RunRecord:
    """A trained model's run as its ``xlir_train.json`` records it."""

    steps: int | None
    total_steps: int | None
    stopped: bool
    collections: tuple[str, ...]

    @property
    def progress(self) -> str:
        """``stopped at step 2 of 221`` for a run that did not reach its end, else ``""``."""
        if not self.stopped:
            return ""
        of = f" of {self.total_steps}" if self.total_steps else ""
        return f"stopped at step {self.steps if self.steps is not None else '?'}{of}"


def run_record(model: str | Path) -> RunRecord | None:
    """The run of a trained model folder; None for any other model (an embedded model, a hub
    name, a folder without ``xlir_train.json``) or a record that cannot be read."""
    path = Path(model) / TRAIN_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    settings = data.get("settings") if isinstance(data.get("settings"), dict) else {}
    collections = settings.get("collections") or []
    if isinstance(collections, str):
        collections = [collections]

    def number(key: str) -> int | None:
        value = data.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    return RunRecord(
        steps=number("steps"),
        total_steps=number("total_steps"),
        stopped=data.get("stopped") is True,
        collections=tuple(str(x) for x in collections if isinstance(x, str | Path)),
    )


@functools.lru_cache(maxsize=256)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    """A file's content hash, once per version of the file (its size and time are the key)."""
    return file_digest(Path(path))


def _files(sources: Sequence[str | Path]) -> list[Path]:
    """The data files a list of collection folders and files names (none where it cannot)."""
    from ..data.collections import expand_sources

    try:
        return [p for p in expand_sources(list(sources)) if p.is_file()]
    except (XlirError, OSError):
        return []


def shares_data(training: Sequence[str | Path], explored: Sequence[str | Path]) -> bool:
    """Whether a file of the training data holds what a file of the explored collection holds:
    the same file, or one of the same size and content hash (only files of equal size are
    hashed, so two different collections cost a ``stat`` per file)."""
    seen: dict[int, list[Path]] = {}
    for f in _files(explored):
        seen.setdefault(f.stat().st_size, []).append(f)
    for f in _files(training):
        st = f.stat()
        for other in seen.get(st.st_size, []):
            with contextlib.suppress(OSError):
                if f.resolve() == other.resolve():
                    return True
                o = other.stat()
                if _digest(str(f.resolve()), st.st_size, st.st_mtime_ns) == _digest(
                    str(other.resolve()), o.st_size, o.st_mtime_ns
                ):
                    return True
    return False


def run_tags(model: str | Path, explored: Sequence[str | Path]) -> list[str]:
    """What must be said with a trained model's name: ``stopped at step 2 of 221`` (a run that
    did not reach its end), ``trained on these questions`` (trained on files of the collection
    it is scored on). Empty for a complete, held-out run and for any other model."""
    record = run_record(model)
    if record is None:
        return []
    tags = [record.progress] if record.stopped else []
    if explored and record.collections and shares_data(record.collections, explored):
        tags.append("trained on these questions")
    return tags


def public_name(folder: Path) -> str | None:
    """Which public collection a folder holds: the name its ``data get`` manifest records,
    else its own name when that is a public collection's (``xquad-r``, ``mlqa-r``)."""
    from ..data.sources import MANIFEST_NAME, PUBLIC

    with contextlib.suppress(OSError, ValueError):
        manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
        if isinstance(manifest, dict) and manifest.get("collection") in PUBLIC:
            return str(manifest["collection"])
    name = folder.name.lower()
    return name if name in PUBLIC else None


def training_suggestion(explored: Sequence[str | Path], data: Path = Path("data")) -> Path | None:
    """The collection to train on while ``explored`` (its files) is explored: the other LAReQA
    collection (:data:`SIBLINGS`), found beside the explored one's folder or in ``data`` (where
    ``xlir-tui data get`` puts it). None when there is no such collection at hand: the person
    then names one, since training on the explored questions would make every figure on them
    a memory test."""
    folders = {Path(f).parent for f in explored}
    if len(folders) != 1:
        return None
    folder = folders.pop()
    sibling = SIBLINGS.get(public_name(folder.resolve()) or "")
    if sibling is None:
        return None
    for place in (folder.parent / sibling, data / sibling):
        if place.is_dir() and public_name(place.resolve()) == sibling and _files([place]):
            return place
    return None


def explored_folder(explored: Sequence[str | Path]) -> Path | None:
    """The folder whose collection files are exactly the explored ones (what ``--eval`` can
    name for them), or None when they are a part of a folder or come from several."""
    folders = {Path(f).parent for f in explored}
    if len(folders) != 1:
        return None
    folder = folders.pop()
    found = {p.resolve() for p in _files([folder])}
    return folder if found and found == {Path(f).resolve() for f in explored} else None
