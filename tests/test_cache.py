"""``xlir-tui cache``: what the cache keeps, by kind, and pruning only what xlir-tui wrote and
no live process holds."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from xlir_tui.app.cache import IN_USE_S, inventory, parse_age, remove_entry, select

DAY = 86400.0


def _age(path: Path, days: float) -> None:
    t = time.time() - days * DAY
    os.utime(path, (t, t))


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sample_dir: Path) -> Path:
    """A cache with one entry of most kinds, written by the real writers where they are cheap,
    and things xlir-tui did not write."""
    root = tmp_path / "cache"
    monkeypatch.setenv("XLIR_TUI_CACHE", str(root))
    from xlir_tui.data.collections import load_collection
    from xlir_tui.models.backends import EXPORT_VERSION
    from xlir_tui.models.encoders import EmbeddingCache

    load_collection(sample_dir)  # collections/<key>
    record = {"model": "m", "backend": "torch", "vectors": 2, "fingerprint": "d" * 32}
    emb = EmbeddingCache(root / "embeddings" / ("a" * 32), 4, record)
    emb.add(["k"], np.ones((1, 4), np.float32))
    old = root / "embeddings" / ("b" * 32)  # an older xlir-tui's: shards, no manifest
    old.mkdir()
    (old / f"{'c' * 32}.parquet").write_bytes(b"x" * 100)
    for version, days in ((EXPORT_VERSION, 40), (EXPORT_VERSION - 1, 1)):
        export = root / "exports" / f"{'d' * 32}-openvino-e{version}"
        export.mkdir(parents=True)
        (export / "openvino_model.bin").write_bytes(b"w" * 1000)
        record = {"backend": "openvino", "fingerprint": "d" * 32, "export_version": version}
        (export / "xlir_export.json").write_text(json.dumps(record))
        (root / "exports" / f".{export.name}.lock").touch()
        _age(export, days)
    logs = root / "train-logs"
    logs.mkdir()
    (logs / "hybrid.toml").write_text("steps = 5\n")
    (logs / "hybrid.log").write_text("step 1\n")
    # not ours: a file at the root, a folder of another shape among the embeddings
    (root / "notes.txt").write_text("mine")
    stranger = root / "embeddings" / "mine"
    stranger.mkdir()
    (stranger / "data.csv").write_text("1,2\n")
    exports = set((root / "exports").iterdir())
    for p in [root, *root.rglob("*")]:
        if p not in exports:  # the exports keep their own ages, 40 and 1 days
            _age(p, 10)
    return root


def test_inventory_by_kind(cache: Path) -> None:
    inv = inventory()
    kinds = {k["kind"]: k for k in inv.by_kind()}
    assert kinds["collections"]["entries"] == 1
    assert kinds["embeddings"]["entries"] == 2 and kinds["embeddings"]["outdated"] == 1
    assert kinds["exports"]["entries"] == 2 and kinds["exports"]["outdated"] == 1
    assert kinds["train-logs"]["entries"] == 1 and kinds["train-logs"]["bytes"] == 17
    assert kinds["models"]["entries"] == 0
    assert {str(p.relative_to(cache)) for p, _ in inv.unknown} == {"notes.txt", "embeddings/mine"}
    exports = [e for e in inv.entries if e.kind == "exports"]
    # named after the model whose vectors share its fingerprint
    assert all(e.bytes >= 1000 and e.what == "openvino export of m" for e in exports)
    emb = next(e for e in inv.entries if e.kind == "embeddings" and not e.outdated)
    assert emb.what.startswith("m, torch")
    assert inv.total_bytes == sum(e.bytes for e in inv.entries) + sum(n for _, n in inv.unknown)


def test_list_command(capsys, cache: Path) -> None:
    code, out, err = run_cli(["cache", "list", "--json"], capsys)
    assert code == 0, err
    listed = json.loads(out)
    assert listed["root"] == str(cache)
    assert {k["kind"] for k in listed["kinds"]} >= {"exports", "embeddings", "train-logs"}
    assert {u["path"] for u in listed["unknown"]} == {
        str(cache / "notes.txt"),
        str(cache / "embeddings" / "mine"),
    }
    code, out, err = run_cli(["cache", "list"], capsys)
    assert code == 0, err
    assert "exports" in out and "embeddings" in out
    assert "not written by xlir-tui (never removed)" in out and "notes.txt" in out
    code, out, _ = run_cli(["cache", "list", "--entries"], capsys)
    assert "openvino export of m" in out and "(outdated)" in out


def test_select_by_kind_age_and_outdated(cache: Path) -> None:
    inv = inventory()
    assert {e.kind for e in select(inv.entries, kinds=["exports"])} == {"exports"}
    old = select(inv.entries, older_than=30 * DAY)
    assert [e.kind for e in old] == ["exports"]  # the 40-day-old export only
    assert all(e.outdated for e in select(inv.entries, outdated=True))
    from xlir_tui.models.backends import EXPORT_VERSION

    (both,) = select(inv.entries, kinds=["exports"], outdated=True)
    assert both.path.name.endswith(f"-e{EXPORT_VERSION - 1}")
    assert parse_age("30d") == 30 * DAY and parse_age("12h") == 12 * 3600
    assert parse_age("2w") == 14 * DAY and parse_age("90m") == 5400
    for bad in ("30", "d", "3x", "-1d", ""):
        with pytest.raises(ValueError, match="is not an age"):
            parse_age(bad)


def test_prune_removes_only_what_matches(capsys, cache: Path) -> None:
    before = {p for p in cache.rglob("*")}
    code, out, err = run_cli(["cache", "prune", "--older-than", "30d", "--dry-run"], capsys)
    assert code == 0, err
    assert "would remove exports/" in err and "would remove 1 of 6 entries" in err
    assert {p for p in cache.rglob("*")} == before  # a dry run removes nothing
    code, out, err = run_cli(["cache", "prune", "--older-than", "30d", "--json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    (gone,) = result["removed"]
    assert gone["kind"] == "exports" and not Path(gone["path"]).exists()
    assert result["bytes"] >= 1000
    code, out, err = run_cli(["cache", "prune", "--outdated"], capsys)
    assert code == 0, err
    assert "removed 2 of 5 entries" in err
    code, out, err = run_cli(["cache", "prune", "--all"], capsys)
    assert code == 0, err
    left = {str(p.relative_to(cache)) for p in cache.rglob("*") if not p.name.endswith(".lock")}
    # what xlir-tui did not write stays, and so do the kind folders
    assert left == {
        "notes.txt",
        "embeddings",
        "embeddings/mine",
        "embeddings/mine/data.csv",
        "exports",
        "collections",
        "train-logs",
    }
    assert not [p for p in cache.rglob(".*tmp-*")]  # nothing half-removed left behind


def test_prune_keeps_what_a_live_process_holds(cache: Path) -> None:
    import fcntl

    inv = inventory()
    export = next(e for e in inv.entries if e.kind == "exports")
    lock = export.path.parent / f".{export.path.name}.lock"
    with lock.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # a build or export in progress holds it
        assert remove_entry(export) == "in use (a process holds its lock)"
    assert export.path.exists()
    assert remove_entry(export) is None and not export.path.exists()
    # used a moment ago (a process may be loading it): kept
    emb = next(e for e in inv.entries if e.kind == "embeddings" and not e.outdated)
    from xlir_tui.storage.files import mark_used

    mark_used(emb.path)
    assert remove_entry(emb).startswith("in use (used")
    assert remove_entry(emb, now=time.time() + IN_USE_S + 1) is None


def test_a_prune_killed_half_way_leaves_a_temporary_the_next_one_removes(cache: Path) -> None:
    from xlir_tui.app.cache import remove_stale
    from xlir_tui.storage.files import remove_stale_temporaries, temp_name

    entry = next(e for e in inventory().entries if e.kind == "collections")
    trash = temp_name(entry.path)
    entry.path.rename(trash)  # renamed, not yet deleted: then the process died
    dead = trash.with_name(trash.name.replace(f"-{os.getpid()}@", "-999999999@"))
    trash.rename(dead)
    inv = inventory()
    assert [p for p, _ in inv.temporaries] == [dead]
    assert not [e for e in inv.entries if e.kind == "collections"]  # never loaded as an entry
    assert remove_stale(inv) == [dead] and not dead.exists()
    # the writers' own rule recognises the same name
    trash = temp_name(cache / "collections" / "x")
    trash.mkdir()
    dead = trash.with_name(trash.name.replace(f"-{os.getpid()}@", "-999999999@"))
    trash.rename(dead)
    assert remove_stale_temporaries(cache / "collections" / "x") == [dead]


def test_bad_selectors_are_one_line_each(capsys, cache: Path) -> None:
    """No selector is a command line that does not say what to do (status 2); a selector's
    value that is not allowed is a bad value (status 1), as in every command."""
    for args, says, status in (
        ([], "say what to prune", 2),
        (["--older-than", "month"], "is not an age", 1),
        (["--kind", "exports,weights"], "unknown --kind weights", 1),
    ):
        code, out, err = run_cli(["cache", "prune", *args], capsys)
        assert code == status and says in err and len(err.strip().splitlines()) == 1, err
        assert out == ""


def test_readers_mark_their_entry_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sample_dir: Path
) -> None:
    monkeypatch.setenv("XLIR_TUI_CACHE", str(tmp_path / "c"))
    from xlir_tui.data.collections import load_collection

    load_collection(sample_dir)
    (entry,) = (tmp_path / "c" / "collections").iterdir()
    _age(entry, 60)
    load_collection(sample_dir)
    assert time.time() - entry.stat().st_mtime < 60
    from xlir_tui.models.encoders import EmbeddingCache

    emb = EmbeddingCache(tmp_path / "c" / "embeddings" / ("e" * 32), 2)
    emb.add(["a"], np.ones((1, 2), np.float32))
    _age(emb.folder, 60)
    EmbeddingCache(emb.folder, 2).lookup(["a"])
    assert time.time() - emb.folder.stat().st_mtime < 60


def test_remedy_fits_are_entries_and_other_files_beside_them_are_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A remedy's fit in the cache (its description and its arrays) is one entry of kind
    ``debias``; a JSON file of another shape beside it is not the tool's and is never pruned."""
    from xlir_tui.retrieval.debias_fit import FIT_FORMAT

    root = tmp_path / "cache"
    monkeypatch.setenv("XLIR_TUI_CACHE", str(root))
    fits = root / "debias"
    fits.mkdir(parents=True)
    meta = {"format": FIT_FORMAT, "method": "center", "model": {"fingerprint": "f" * 32}}
    (fits / f"{'a' * 32}.json").write_text(json.dumps(meta))
    (fits / f"{'a' * 32}.safetensors").write_bytes(b"s" * 500)
    (fits / "mine.json").write_text(json.dumps({"format": "something else"}))
    inv = inventory(root)
    entries = [e for e in inv.entries if e.kind == "debias"]
    assert len(entries) == 1 and entries[0].what == "center fit"
    assert entries[0].model == "f" * 32 and len(entries[0].files) == 2
    assert entries[0].bytes >= 500
    assert fits / "mine.json" in [p for p, _ in inv.unknown]
