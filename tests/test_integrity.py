"""An index folder is searched only as it was written: every file's content is checked against
the manifest's hash on every load, and a refusal says which file changed and how to rebuild."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import run_cli
from test_bad_input import assert_one_line_error

from xlir_tui.errors import IndexFormatError, ModelError
from xlir_tui.models.store import Models
from xlir_tui.retrieval import dense as index_module
from xlir_tui.retrieval.dense import DenseIndex
from xlir_tui.retrieval.lexical import LexicalIndex
from xlir_tui.retrieval.systems import check_index_folder, load_system


def flip_a_byte(path: Path, at: int = -5) -> None:
    """Change one byte in place: the size stays, only the content hash tells."""
    raw = bytearray(path.read_bytes())
    raw[at] ^= 0xFF
    size = len(raw)
    path.write_bytes(bytes(raw))
    assert path.stat().st_size == size


@pytest.fixture
def dense_copy(sample_index: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "idx"
    shutil.copytree(sample_index, copy)
    return copy


@pytest.mark.parametrize(
    "name", ["vectors.npy", "hnsw.bin", "candidates.parquet", "relevance.parquet"]
)
def test_a_changed_file_of_the_same_size_is_refused(dense_copy: Path, name: str) -> None:
    DenseIndex.load(dense_copy)  # whole: loads
    flip_a_byte(dense_copy / name, at=len((dense_copy / name).read_bytes()) // 2)
    with pytest.raises(IndexFormatError) as e:
        DenseIndex.load(dense_copy)
    line = str(e.value)
    assert "\n" not in line and line.startswith(f"{dense_copy}: {name} has changed")
    assert f"--out {dense_copy} --overwrite" in line and "rebuild it: xlir-tui index " in line
    manifest = json.loads((dense_copy / "manifest.json").read_text())
    assert f"--model {manifest['model']['model']}" in line


def test_search_refuses_a_changed_index_before_any_model_loads(
    capsys, dense_copy: Path, monkeypatch
) -> None:
    def no_model(*args, **kwargs):
        raise AssertionError("a model was loaded for a changed index")

    monkeypatch.setattr(Models, "encoder_of", no_model)
    flip_a_byte(dense_copy / "vectors.npy")
    code, _, err = run_cli(["search", str(dense_copy), "where is Paris"], capsys)
    assert_one_line_error(code, err, "vectors.npy has changed", "rebuild it: xlir-tui index")


def test_each_file_is_hashed_once_per_command(dense_copy: Path, monkeypatch) -> None:
    hashed: list[str] = []
    real = index_module.content_hash

    def counted(path: Path, *args, **kwargs) -> str:
        hashed.append(Path(path).name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(index_module, "content_hash", counted)
    index_module._verified.clear()
    check_index_folder(dense_copy)  # what search does before the model loads ...
    DenseIndex.load(dense_copy)  # ... and the load itself
    assert sorted(hashed) == sorted(set(hashed)) and "vectors.npy" in hashed
    # a change made afterwards (a new modification time) is seen on the next load
    flip_a_byte(dense_copy / "vectors.npy")
    os.utime(dense_copy / "vectors.npy", ns=(1_000_000_000, 1_000_000_000))
    with pytest.raises(IndexFormatError, match="vectors.npy has changed"):
        DenseIndex.load(dense_copy)


def test_a_manifest_from_before_xxh3_is_checked_with_its_blake2b(dense_copy: Path) -> None:
    from xlir_tui.storage.files import file_digest

    path = dense_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    for name, entry in manifest["files"].items():
        assert set(entry) == {"bytes", "xxh3_128"}
        del entry["xxh3_128"]
        entry["blake2b"] = file_digest(dense_copy / name)
    path.write_text(json.dumps(manifest))
    DenseIndex.load(dense_copy)
    flip_a_byte(dense_copy / "vectors.npy")
    with pytest.raises(IndexFormatError, match="vectors.npy has changed"):
        DenseIndex.load(dense_copy)


def test_a_manifest_without_a_hash_is_refused(dense_copy: Path) -> None:
    path = dense_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    del manifest["files"]["vectors.npy"]["xxh3_128"]
    path.write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match="vectors.npy has changed"):
        DenseIndex.load(dense_copy)
    manifest["files"] = ["not", "a", "table"]
    path.write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match="file table is not a table"):
        DenseIndex.load(dense_copy)


def test_lexical_index_files_are_checked(capsys, sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "bm25"
    code, _, err = run_cli(
        ["index", str(sample_dir), "--system", "bm25", "--out", str(out)], capsys
    )
    assert code == 0, err
    LexicalIndex.load(out)
    manifest = json.loads((out / "manifest.json").read_text())
    name = max(manifest["files"], key=lambda n: manifest["files"][n]["bytes"])
    flip_a_byte(out / name, at=manifest["files"][name]["bytes"] // 2)
    with pytest.raises(IndexFormatError) as e:
        LexicalIndex.load(out)
    assert f"{name} has changed" in str(e.value) and "--system bm25" in str(e.value)
    code, _, err = run_cli(["search", str(out), "Eier"], capsys)
    assert_one_line_error(code, err, f"{name} has changed")


def test_a_fusion_part_is_checked_and_rebuilt_with_its_fusion(
    capsys, sample_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "fused"
    code, _, err = run_cli(
        [
            "index",
            str(sample_dir),
            "--system",
            "fusion",
            "--fuse",
            "dense,chargram",
            "--model",
            str(tiny_model),
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0, err
    load_system(out, Models())
    flip_a_byte(out / "dense" / "vectors.npy")
    for attempt in (lambda: check_index_folder(out), lambda: load_system(out, Models())):
        with pytest.raises(IndexFormatError) as e:
            attempt()
        line = str(e.value)
        assert line.startswith(f"{out / 'dense'}: vectors.npy has changed")
        assert f"--system fusion --fuse dense,chargram --model {tiny_model}" in line
        assert f"--out {out} --overwrite" in line


# ------------------------------------------------------------------ another model, named once


def test_another_build_of_the_same_model_is_named_once(sample_index: Path, tiny_encoder) -> None:
    idx = DenseIndex.load(sample_index)
    other = replace(tiny_encoder, fingerprint="f" * 32)
    with pytest.raises(ModelError) as e:
        idx.check_encoder(other)
    line = str(e.value)
    assert line.count(tiny_encoder.name) == 1 + line.count(f"--model {tiny_encoder.name}")
    assert "the same name, other files" in line and "ffffffffffff" in line
    assert idx.manifest["model"]["fingerprint"][:12] in line


def test_another_model_is_named_beside_the_indexs(sample_index: Path, tiny_encoder) -> None:
    idx = DenseIndex.load(sample_index)
    other = replace(
        tiny_encoder, spec="some-other-model", display="some-other-model", fingerprint="f" * 32
    )
    with pytest.raises(ModelError) as e:
        idx.check_encoder(other)
    line = str(e.value)
    assert line.startswith("model some-other-model is not the model the index was built with, ")
    assert line.count("some-other-model") == 1 and tiny_encoder.name in line
