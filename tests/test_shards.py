"""The shard protocol both caches share: a failed or interrupted write leaves no temporary, and
a merge replaces only the shards its process holds."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from xlir_tui.models.encoders import EmbeddingCache
from xlir_tui.models.translator import TranslationCache


def _embeddings(folder: Path) -> tuple[Callable[[str], None], Callable[[str], bool]]:
    """(store a text, whether a fresh reader finds it) for the embedding cache."""

    def add(text: str) -> None:
        EmbeddingCache(folder, 2, {"model": "m"}).add([text], np.ones((1, 2), np.float32))

    def found(text: str) -> bool:
        return EmbeddingCache(folder, 2).lookup([text])[1] == []

    return add, found


def _translations(folder: Path) -> tuple[Callable[[str], None], Callable[[str], bool]]:
    """(store a text, whether a fresh reader finds it) for the translation cache."""

    def add(text: str) -> None:
        TranslationCache(folder).add({text: text.upper()})

    def found(text: str) -> bool:
        return TranslationCache(folder).get(text) == text.upper()

    return add, found


CACHES = pytest.mark.parametrize("cache", [_embeddings, _translations], ids=["emb", "mt"])


def _fail_while_writing(monkeypatch: pytest.MonkeyPatch, failure: Callable[[], None]) -> None:
    """Every parquet write leaves half a file, then ``failure`` happens."""

    def half_write(self: pl.DataFrame, path: Path, *args: object, **kwargs: object) -> None:
        Path(path).write_bytes(b"PAR1 half a shard")
        failure()

    monkeypatch.setattr(pl.DataFrame, "write_parquet", half_write)


def _temporaries(folder: Path) -> list[str]:
    return [name for name in os.listdir(folder) if name.endswith(".tmp")]


@CACHES
def test_a_failed_shard_write_leaves_no_temporary(
    cache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "entry"
    add, found = cache(folder)

    def full_disk() -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        _fail_while_writing(m, full_disk)
        add("lost")  # a full cache only costs speed: no error
    assert _temporaries(folder) == [] and not list(folder.glob("*.parquet"))
    assert not found("lost")
    add("kept")  # the folder still works
    assert found("kept") and _temporaries(folder) == []


@CACHES
def test_ctrl_c_while_writing_a_shard_leaves_no_temporary(
    cache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "entry"
    add, _ = cache(folder)

    def ctrl_c() -> None:
        raise KeyboardInterrupt

    _fail_while_writing(monkeypatch, ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        add("text")
    assert _temporaries(folder) == [] and not list(folder.glob("*.parquet"))


_SIGTERM_CHILD = """
import json, os, signal, sys
from pathlib import Path
import numpy as np
import polars as pl
from xlir_tui.models.encoders import EmbeddingCache
from xlir_tui.models.translator import TranslationCache
from xlir_tui.storage.files import Terminated

signal.signal(signal.SIGTERM, signal.SIG_DFL)  # whatever the parent ignores or handles
kind, folder = sys.argv[1], Path(sys.argv[2])

def half_write(self, path, *args, **kwargs):
    Path(path).write_bytes(b"PAR1 half a shard")
    os.kill(os.getpid(), signal.SIGTERM)

pl.DataFrame.write_parquet = half_write
try:
    if kind == "emb":
        EmbeddingCache(folder, 2, {"model": "m"}).add(["text"], np.ones((1, 2), np.float32))
    else:
        TranslationCache(folder).add({"text": "TEXT"})
    print(json.dumps({"stopped": False}))
except Terminated as e:
    print(json.dumps({
        "stopped": True,
        "code": e.code,
        "removed": [str(p) for p in e.removed],
        "left": sorted(os.listdir(folder)),
        "handler_back": signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,
    }))
"""


@pytest.mark.parametrize("kind", ["emb", "mt"])
def test_sigterm_while_writing_a_shard_removes_the_temporary(kind: str, tmp_path: Path) -> None:
    """In a child process of its own (a signal to this one would stop the test run): SIGTERM
    in the middle of a shard's write removes the temporary, says so, stops with status 143 and
    puts the default handler back."""
    import json
    import subprocess
    import sys

    folder = tmp_path / "entry"
    done = subprocess.run(
        [sys.executable, "-c", _SIGTERM_CHILD, kind, str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["stopped"] and result["code"] == 128 + signal.SIGTERM
    (removed,) = result["removed"]
    assert Path(removed).parent == folder and not Path(removed).exists()
    assert not [x for x in result["left"] if x.endswith((".tmp", ".parquet"))], result["left"]
    assert result["handler_back"]


def test_translation_merge_keeps_shards_of_other_processes(tmp_path: Path) -> None:
    folder = tmp_path / "mt"
    mine = TranslationCache(folder)
    assert mine.get("x") is None  # loaded (empty) before the other process writes
    TranslationCache(folder).add({"other": "OTHER"})
    (foreign,) = [p.name for p in folder.glob("*.parquet")]
    for i in range(TranslationCache.MAX_SHARDS + 2):
        mine.add({f"k{i}": f"K{i}"})
    names = {p.name for p in folder.glob("*.parquet")}
    assert foreign in names  # never removed by a merge it was not part of
    assert len(names) < TranslationCache.MAX_SHARDS
    fresh = TranslationCache(folder)
    last = TranslationCache.MAX_SHARDS + 1
    assert [fresh.get(t) for t in ("other", "k0", f"k{last}")] == ["OTHER", "K0", f"K{last}"]
    assert _temporaries(folder) == []
