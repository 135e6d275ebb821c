"""Nothing of the user's is lost: ``--overwrite`` replaces only folders this tool wrote (by their
marker), no output goes into or over an input of the same command, and no link is followed into
a folder that is then deleted."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import run_cli
from test_bad_input import assert_one_line_error

from xlir_tui.errors import XlirError
from xlir_tui.storage.files import (
    MARKER_NAME,
    atomic_dir,
    check_apart,
    check_output,
    own_output_kind,
    remove_own_output,
    write_marker,
)

SMALL = ["--batch-size", "8", "--max-seq-length", "32"]


def tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its text: what must come out of a refusal unchanged."""
    return {
        p.relative_to(folder).as_posix(): p.read_text()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture
def thesis(tmp_path: Path) -> Path:
    """A person's folder: notes and a thesis."""
    folder = tmp_path / "thesis"
    (folder / "chapters").mkdir(parents=True)
    (folder / "notes.md").write_text("ideas")
    (folder / "chapters" / "thesis.tex").write_text("\\chapter{One}")
    return folder


@pytest.fixture
def analysis(tmp_path: Path) -> Path:
    """A person's folder that happens to hold a file with one of the tool's names."""
    folder = tmp_path / "analysis"
    folder.mkdir()
    (folder / "events.jsonl").write_text('{"event": "mine"}\n')
    (folder / "analysis.txt").write_text("three weeks of work")
    return folder


def marked_collection(sample_dir: Path, where: Path) -> Path:
    """A collection folder as ``data get`` leaves it: data files and a valid marker."""
    shutil.copytree(sample_dir, where)
    write_marker(where, "data get")
    return where


# ------------------------------------------------------------------------- the exact reports


def test_train_overwrite_keeps_a_thesis_folder(
    capsys, sample_dir: Path, tiny_model: Path, thesis: Path
) -> None:
    before = tree(thesis)
    args = ["train", str(sample_dir), "--base", str(tiny_model), "--steps", "1", *SMALL]
    code, _, err = run_cli([*args, "--out", str(thesis), "--overwrite"], capsys)
    assert_one_line_error(code, err, str(thesis), "did not write", "remove it yourself")
    assert tree(thesis) == before
    code, _, err = run_cli([*args, "--out", str(thesis)], capsys)  # without --overwrite too
    assert_one_line_error(code, err, "did not write")
    assert tree(thesis) == before


@pytest.mark.parametrize("command", ["index", "bias-report"])
def test_a_file_with_one_of_our_names_does_not_make_a_folder_ours(
    capsys, sample_dir: Path, tiny_model: Path, analysis: Path, command: str
) -> None:
    before = tree(analysis)
    code, _, err = run_cli(
        [
            command,
            str(sample_dir),
            "--model",
            str(tiny_model),
            "--out",
            str(analysis),
            "--overwrite",
        ],
        capsys,
    )
    assert_one_line_error(code, err, "did not write", f"no {MARKER_NAME} marker")
    assert tree(analysis) == before


def test_a_report_onto_the_collection_it_reads_is_refused(
    capsys, sample_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    collection = marked_collection(sample_dir, tmp_path / "xquad-r")
    before = tree(collection)
    assert own_output_kind(collection) == "data get"  # replaceable as an output, yet an input
    report = ["bias-report", str(collection), "--model", str(tiny_model)]
    code, _, err = run_cli([*report, "--out", str(collection), "--overwrite"], capsys)
    assert_one_line_error(code, err, f"is {collection}, an input of this command")
    code, _, err = run_cli([*report, "--out", str(collection / "report")], capsys)
    assert_one_line_error(code, err, f"lies inside {collection}, an input")
    # a collection given as files: the folder holding them holds an input
    code, _, err = run_cli(
        [
            "bias-report",
            str(collection / "en.json"),
            str(collection / "de.json"),
            "--model",
            str(tiny_model),
            "--out",
            str(collection),
            "--overwrite",
        ],
        capsys,
    )
    assert_one_line_error(code, err, f"holds {collection / 'en.json'}, an input")
    assert tree(collection) == before and own_output_kind(collection) == "data get"


def test_a_linked_out_is_refused_and_its_target_kept(
    capsys, sample_dir: Path, tiny_model: Path, thesis: Path, tmp_path: Path
) -> None:
    before = tree(thesis)
    link = tmp_path / "link"
    link.symlink_to(thesis, target_is_directory=True)
    runs = {
        "index": ["index", str(sample_dir), "--model", str(tiny_model)],
        "bias-report": ["bias-report", str(sample_dir), "--model", str(tiny_model)],
        "train": ["train", str(sample_dir), "--base", str(tiny_model), "--steps", "1", *SMALL],
    }
    for name, args in runs.items():
        for overwrite in ([], ["--overwrite"]):
            code, _, err = run_cli([*args, "--out", str(link), *overwrite], capsys)
            assert_one_line_error(code, err, "is a symbolic link", str(thesis))
            assert "None" not in err, name
    # even a link to a folder this tool wrote: the link is never written through
    own = tmp_path / "own-index"
    with atomic_dir(own, command="index") as tmp:
        (tmp / "x").write_text("ours")
    link.unlink()
    link.symlink_to(own, target_is_directory=True)
    code, _, err = run_cli([*runs["index"], "--out", str(link), "--overwrite"], capsys)
    assert_one_line_error(code, err, "is a symbolic link")
    assert tree(thesis) == before and (own / "x").read_text() == "ours" and link.is_symlink()


# ---------------------------------------------------------------------- outputs and inputs


def test_outputs_never_go_into_or_over_an_input(
    capsys, sample_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    collection = marked_collection(sample_dir, tmp_path / "data")
    before = tree(collection)
    index = ["index", str(collection), "--model", str(tiny_model)]
    code, _, err = run_cli([*index, "--out", str(collection / "idx")], capsys)
    assert_one_line_error(code, err, "lies inside", "choose another --out")
    code, _, err = run_cli([*index, "--out", str(collection), "--overwrite"], capsys)
    assert_one_line_error(code, err, f"is {collection}, an input")
    train = ["train", str(collection), "--base", str(tiny_model), "--steps", "1", *SMALL]
    code, _, err = run_cli([*train, "--out", str(collection), "--overwrite"], capsys)
    assert_one_line_error(code, err, f"is {collection}, an input")
    # train onto its evaluation collection, and into its base model's folder
    code, _, err = run_cli(
        [*train, "--eval", str(tmp_path), "--out", str(tmp_path / "run2")], capsys
    )
    assert_one_line_error(code, err, f"lies inside {tmp_path}, an input")
    code, _, err = run_cli([*train, "--out", str(tiny_model / "run")], capsys)
    assert_one_line_error(code, err, f"lies inside {tiny_model}, an input")
    # translate onto its source: refused before the translation model is even looked for
    code, _, err = run_cli(
        [
            "translate",
            str(collection),
            "--mt",
            str(tmp_path / "no-such-model"),
            "--to",
            "de",
            "--out",
            str(collection),
            "--overwrite",
        ],
        capsys,
    )
    assert_one_line_error(code, err, f"is {collection}, an input")
    # data get from a folder into itself
    code, _, err = run_cli(
        [
            "data",
            "get",
            "xquad-r",
            "--from",
            str(collection),
            "--to",
            str(collection),
            "--overwrite",
        ],
        capsys,
    )
    assert_one_line_error(code, err, "an input of this command", "choose another --to")
    assert tree(collection) == before


def test_overlap_is_seen_through_links(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "en.json").write_text("{}")
    alias = tmp_path / "alias"
    alias.symlink_to(data, target_is_directory=True)
    for out, why in ((alias, "is"), (alias / "out", "lies inside"), (tmp_path, "holds")):
        with pytest.raises(XlirError, match=f"{why} {data}, an input"):
            check_apart(out, [data])
    with pytest.raises(XlirError, match=f"holds {data / 'en.json'}"):
        check_apart(alias, [data / "en.json"])
    check_apart(tmp_path / "elsewhere", [data, None, tmp_path / "missing"])
    check_apart(tmp_path / "data-2", [data])  # a name that starts like an input's is apart


# ------------------------------------------------------------------------ what is replaced


def test_own_outputs_and_empty_folders_are_replaced(
    capsys, sample_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "idx"
    out.mkdir()  # an empty folder: nothing to lose, but still asks for --overwrite
    index = ["index", str(sample_dir), "--model", str(tiny_model), "--system", "bm25"]
    code, _, err = run_cli([*index, "--out", str(out)], capsys)
    assert_one_line_error(code, err, "output folder exists (pass --overwrite")
    code, _, err = run_cli([*index, "--out", str(out), "--overwrite"], capsys)
    assert code == 0, err
    first = json.loads((out / MARKER_NAME).read_text())
    assert first["tool"] == "xlir-tui" and first["command"] == "index"
    code, _, err = run_cli([*index, "--out", str(out), "--overwrite"], capsys)
    assert code == 0, err
    second = json.loads((out / MARKER_NAME).read_text())
    assert second["id"] != first["id"]  # another output, another id
    # the marker is not part of the index's file table (it says whose, not what)
    manifest = json.loads((out / "manifest.json").read_text())
    assert MARKER_NAME not in manifest["files"]
    assert sorted(os.listdir(tmp_path)) == ["idx"]


def test_a_link_inside_an_own_folder_is_removed_not_followed(tmp_path: Path, thesis: Path) -> None:
    before = tree(thesis)
    own = tmp_path / "report"
    with atomic_dir(own, command="bias-report") as tmp:
        (tmp / "report.json").write_text("{}")
        (tmp / "sub").mkdir()
    (own / "thesis-link").symlink_to(thesis, target_is_directory=True)
    (own / "sub" / "deep-link").symlink_to(thesis, target_is_directory=True)
    with atomic_dir(own, command="bias-report", overwrite=True) as tmp:
        (tmp / "report.json").write_text("{}")
    assert not (own / "thesis-link").exists() and tree(thesis) == before
    (own / "thesis-link").symlink_to(thesis, target_is_directory=True)
    remove_own_output(own)
    assert not own.exists() and tree(thesis) == before
    assert sorted(os.listdir(tmp_path)) == ["thesis"]


def test_remove_own_output_checks_again(tmp_path: Path, thesis: Path, analysis: Path) -> None:
    for folder in (thesis, analysis):
        with pytest.raises(XlirError, match="did not write"):
            remove_own_output(folder)
    link = tmp_path / "link"
    link.symlink_to(thesis, target_is_directory=True)
    with pytest.raises(XlirError, match="symbolic link"):
        remove_own_output(link)
    assert link.is_symlink() and (thesis / "notes.md").exists()
    remove_own_output(tmp_path / "absent")  # nothing there: nothing to do


def test_caches_are_the_tools_own_place(tmp_path: Path) -> None:
    """A cache entry (named by a hash inside the cache folder) is replaced whatever it holds,
    an entry written before markers included; a link there is unlinked, never followed."""
    entry = tmp_path / "cache" / "0123abcd"
    entry.mkdir(parents=True)
    (entry / "manifest.json").write_text("{}")
    with atomic_dir(entry, command="cache", ours=True) as tmp:
        (tmp / "manifest.json").write_text('{"new": true}')
    assert own_output_kind(entry) == "cache"
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "mine.txt").write_text("mine")
    shutil.rmtree(entry)
    entry.symlink_to(keep, target_is_directory=True)
    with atomic_dir(entry, command="cache", ours=True) as tmp:
        (tmp / "manifest.json").write_text("{}")
    assert not entry.is_symlink() and (keep / "mine.txt").read_text() == "mine"


# ---------------------------------------------------------------------------- training runs


def test_a_training_run_is_marked_and_its_marker_survives_resume(
    capsys, sample_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    base = ["train", str(sample_dir), "--base", str(tiny_model), "--out", str(out), *SMALL]
    code, _, err = run_cli([*base, "--steps", "2", "--checkpoint-every", "2"], capsys)
    assert code == 0, err
    marker = json.loads((out / MARKER_NAME).read_text())
    assert marker["command"] == "train"
    assert own_output_kind(out / "checkpoints" / "step-2") == "train"
    code, _, err = run_cli(["train", "--out", str(out), "--resume", "--steps", "3"], capsys)
    assert code == 0, err
    assert json.loads((out / MARKER_NAME).read_text()) == marker
    # the model at the top loads and is fingerprinted without the marker
    from xlir_tui.models.encoders import model_fingerprint

    copy = tmp_path / "copy"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns(MARKER_NAME))
    assert model_fingerprint(copy) == model_fingerprint(out)
    # --overwrite replaces the run: a new marker
    code, _, err = run_cli([*base, "--steps", "1", "--overwrite"], capsys)
    assert code == 0, err
    assert json.loads((out / MARKER_NAME).read_text())["id"] != marker["id"]


def test_a_run_from_before_markers_is_resumed_but_never_replaced(
    capsys, sample_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    base = ["train", str(sample_dir), "--base", str(tiny_model), "--out", str(out), *SMALL]
    code, _, err = run_cli([*base, "--steps", "1", "--checkpoint-every", "1"], capsys)
    assert code == 0, err
    (out / MARKER_NAME).unlink()  # as an earlier release left it
    code, _, err = run_cli([*base, "--steps", "1", "--overwrite"], capsys)
    assert_one_line_error(code, err, "did not write", "remove it yourself")
    assert (out / "events.jsonl").exists()
    code, _, err = run_cli(["train", "--out", str(out), "--resume", "--steps", "2"], capsys)
    assert code == 0, err
    assert not (out / MARKER_NAME).exists()  # resuming does not claim a folder


# ------------------------------------------------------------------------------- translate


def test_translate_output_rules(tmp_path: Path, thesis: Path, sample_dir: Path) -> None:
    from xlir_tui.app.translate import SETTINGS_NAME, SUMMARY_FORMAT, SUMMARY_NAME, check_out

    assert check_out(tmp_path / "new", False) == "new"
    with pytest.raises(XlirError, match="did not write"):
        check_out(thesis, True)
    finished = tmp_path / "finished"
    finished.mkdir()
    (finished / SUMMARY_NAME).write_text("{}")
    (finished / "de.jsonl").write_text("")
    with pytest.raises(XlirError, match="did not write"):  # from before markers
        check_out(finished, True)
    write_marker(finished, "translate")
    with pytest.raises(XlirError, match="output folder exists"):
        check_out(finished, False)
    assert check_out(finished, True) == "replace"
    # an unfinished run from before markers is resumed (nothing is deleted), never replaced
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / SETTINGS_NAME).write_text(json.dumps({"format": f"{SUMMARY_FORMAT}-run"}))
    (unfinished / "de.jsonl.part").write_text("")
    assert check_out(unfinished, False) == "resume"
    with pytest.raises(XlirError, match="did not write"):
        check_out(unfinished, True)
    (unfinished / SETTINGS_NAME).write_text("{}")  # a person's file of that name
    with pytest.raises(XlirError, match="did not write"):
        check_out(unfinished, False)
    with pytest.raises(XlirError, match="an input of this command"):
        check_out(sample_dir, True, [sample_dir / "en.json"])


def test_check_output_refuses_before_any_work(tmp_path: Path, thesis: Path) -> None:
    with pytest.raises(XlirError, match="is a file that xlir-tui did not write"):
        check_output(thesis / "notes.md", overwrite=True)
    with pytest.raises(XlirError, match="holds"):
        check_output(tmp_path, overwrite=True, inputs=[thesis])
