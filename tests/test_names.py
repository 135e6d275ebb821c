"""A model has one name for a person (reports, messages), and reports keep the order of
``--langs``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli
from test_reproducible import _report


def test_languages_in_the_order_of_langs(
    capsys, sample_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    report = _report(capsys, sample_dir, tiny_model, tmp_path / "r", "zh,en,de")
    assert report["languages"] == ["zh", "en", "de"]
    assert list(report["systems"][0]["languages"]) == ["zh", "en", "de"]
    svg = (tmp_path / "r" / "heatmap.svg").read_text()
    assert svg.index(">zh<") < svg.index(">en<") < svg.index(">de<")
    code, out, err = run_cli(
        [
            "bias-report",
            str(sample_dir),
            "-m",
            str(tiny_model),
            "--langs",
            "zh,en,de",
            "--backend",
            "torch",
        ],
        capsys,
    )
    assert code == 0, err
    lines = out[out.index("mAP by query language") :].splitlines()
    at = next(i for i, line in enumerate(lines) if "q \\ pool" in line)
    header = lines[at]
    assert header.index("zh") < header.index("en") < header.index("de")
    rows = [line.strip("│ ").split("│")[0].strip() for line in lines[at + 2 : at + 5]]
    assert rows == ["zh", "en", "de"]
    # without --langs: the collection's own (sorted) order
    from xlir_tui.data.collections import load_collection

    assert load_collection(sample_dir).languages == sorted(load_collection(sample_dir).languages)


def test_display_name_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from xlir_tui.models.encoders import display_name

    (tmp_path / "runs" / "hybrid").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert display_name("default") == display_name("multilingual-e5-small")
    assert display_name("default") == "multilingual-e5-small"
    assert display_name("sentence-transformers/LaBSE") == "sentence-transformers/LaBSE"
    for typed in ("runs/hybrid", "./runs/hybrid", "runs/hybrid/", str(tmp_path / "runs/hybrid")):
        assert display_name(typed) == "runs/hybrid", typed
    outside = tmp_path.parent / "elsewhere" / "model"
    assert display_name(str(outside)) == str(outside)
    assert display_name("../elsewhere/model") == "../elsewhere/model"
    assert display_name(str(tmp_path)) == "."


def test_reports_and_messages_use_the_display_name(
    capsys, monkeypatch: pytest.MonkeyPatch, sample_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    import shutil

    shutil.copytree(tiny_model, tmp_path / "runs" / "tiny")
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(
        [
            "bias-report",
            str(sample_dir),
            "-m",
            "./runs/tiny/",
            "--backend",
            "torch",
            "--langs",
            "en,de",
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    (system,) = json.loads(out)["systems"]
    assert system["label"] == "runs/tiny"
    assert system["model"]["model"] == str((tmp_path / "runs" / "tiny").resolve())  # exact path
    assert "loading model runs/tiny ..." in err
    assert str(tmp_path) not in err  # the short name only, in every line


def test_a_loading_stage_names_its_system_once() -> None:
    from xlir_tui.app.explore import stage_label

    assert stage_label("loading model runs/hybrid", "runs/hybrid") == "loading model runs/hybrid"
    assert stage_label("encoding candidates", "runs/hybrid") == (
        "encoding candidates for runs/hybrid"
    )
