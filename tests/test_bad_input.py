"""Bad input: one line naming the file and the problem, exit status 1, nothing half-written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SAMPLE, run_cli
from test_collections import para, squad, write


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 1
    errors = [x for x in err.splitlines() if x.startswith("xlir-tui: error: ")]
    assert len(errors) == 1, err  # progress notes may precede it; the error is one line
    assert err.rstrip().endswith(errors[0])
    assert "Traceback" not in err
    for n in needles:
        assert n in errors[0], (n, errors[0])


GOOD = squad(
    [para("Paris is in France. Berlin is in Germany.", [("q1", "Where is Berlin?", "Germany")])]
)


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        ('{"data": [', ["en.json", "malformed JSON", "line 1"]),
        ("", ["en.json", "empty file"]),
        (
            json.dumps({"data": [{"paragraphs": [{"qas": []}]}]}),
            ["en.json", "data[0].paragraphs[0]", "missing field 'context'"],
        ),
        (
            json.dumps(
                {
                    "data": [
                        {
                            "paragraphs": [
                                {
                                    "context": "A. B.",
                                    "qas": [
                                        {"id": "q", "question": "?", "answers": [{"text": "A"}]}
                                    ],
                                }
                            ]
                        }
                    ]
                }
            ),
            ["en.json", "answers[0]", "missing field 'answer_start'"],
        ),
        (json.dumps({"version": 1}), ["en.json", "missing field 'data'"]),
        (
            json.dumps(
                {
                    "data": [
                        {
                            "paragraphs": [
                                {
                                    "context": "Short.",
                                    "qas": [
                                        {
                                            "id": "q",
                                            "question": "?",
                                            "answers": [{"text": "x", "answer_start": 99}],
                                        }
                                    ],
                                }
                            ]
                        }
                    ]
                }
            ),
            ["en.json", "answer_start 99 is outside the paragraph"],
        ),
        (
            json.dumps(squad([para("One. Two.", [("q1", "?", "One"), ("q1", "?", "Two")])])),
            ["en.json", "duplicate question id 'q1'"],
        ),
        (json.dumps({"data": []}), ["en.json", "contains no questions"]),
    ],
    ids=[
        "malformed",
        "empty",
        "missing-context",
        "missing-answer-start",
        "no-data",
        "answer-outside-paragraph",
        "duplicate-ids",
        "no-questions",
    ],
)
def test_bad_collection_file(capsys, tmp_path: Path, content: str, needles: list[str]) -> None:
    write(tmp_path / "en.json", content)
    code, _, err = run_cli(["data", "stats", str(tmp_path / "en.json")], capsys)
    assert_one_line_error(code, err, *needles)


def test_answer_outside_every_sentence(capsys, tmp_path: Path) -> None:
    p = para("First one. Second one.", [("q1", "Which?", "Second"), ("q2", "Gap?", "one.")])
    p["sentence_breaks"], p["sentences"] = [[0, 9], [11, 22]], ["First one", "Second one."]
    p["qas"][1]["answers"][0]["answer_start"] = 9
    write(tmp_path / "en.json", squad([p]))
    code, _, err = run_cli(["data", "stats", str(tmp_path), "--strict"], capsys)
    assert_one_line_error(code, err, "en.json", "'q2'", "lies in no sentence")
    # without --strict it is skipped, counted and reported
    code, out, err = run_cli(["data", "stats", str(tmp_path), "--json"], capsys)
    assert code == 0 and json.loads(out)["skipped"] == 1 and "1 question(s) skipped" in err


def test_duplicate_ids_across_files(capsys, tmp_path: Path) -> None:
    write(tmp_path / "a.en.json", GOOD)
    write(tmp_path / "b.en.json", GOOD)
    code, _, err = run_cli(["data", "stats", str(tmp_path)], capsys)
    assert_one_line_error(code, err, "b.en.json", "duplicate question id 'q1'", "also in")


def test_folder_with_no_collection_files(capsys, tmp_path: Path) -> None:
    write(tmp_path / "README.md", "nothing here")
    code, _, err = run_cli(["data", "stats", str(tmp_path)], capsys)
    assert_one_line_error(code, err, str(tmp_path), "no collection files")
    code, _, err = run_cli(["data", "stats", str(tmp_path / "missing")], capsys)
    assert_one_line_error(code, err, "no such file or folder")


def test_jsonl_missing_field(capsys, tmp_path: Path) -> None:
    write(tmp_path / "de.jsonl", json.dumps({"qid": "1", "question": "Wo?"}) + "\n")
    code, _, err = run_cli(["data", "stats", str(tmp_path / "de.jsonl")], capsys)
    assert_one_line_error(code, err, "de.jsonl", "line 1", "'passage'")


def test_model_folder_that_is_not_a_model(capsys, tmp_path: Path, sample_dir: Path) -> None:
    (tmp_path / "notamodel").mkdir()
    write(tmp_path / "notamodel" / "weights.txt", "x")
    out = tmp_path / "idx"
    code, _, err = run_cli(
        ["index", str(sample_dir), "--model", str(tmp_path / "notamodel"), "--out", str(out)],
        capsys,
    )
    assert_one_line_error(code, err, "notamodel", "not a sentence-transformers model")
    assert not out.exists()


def test_corrupt_index(capsys, tmp_path: Path, sample_index: Path) -> None:
    import shutil

    copy = tmp_path / "idx"
    shutil.copytree(sample_index, copy)
    data = (copy / "hnsw.bin").read_bytes()
    (copy / "hnsw.bin").write_bytes(data[:100])
    code, _, err = run_cli(["search", str(copy), "anything"], capsys)
    assert_one_line_error(code, err, str(copy), "hnsw.bin is truncated")
    code, _, err = run_cli(["search", str(tmp_path / "nope"), "anything"], capsys)
    assert_one_line_error(code, err, "no such index folder")


def test_search_bad_values(capsys, sample_index: Path, monkeypatch) -> None:
    def no_model(*args, **kwargs):
        raise AssertionError("a model was loaded before the languages were checked")

    with monkeypatch.context() as m:
        m.setattr("xlir_tui.models.store.Models.encoder_of", no_model)
        code, _, err = run_cli(["search", str(sample_index), "x", "--langs", "en,xx"], capsys)
    assert_one_line_error(code, err, "no candidate in language xx")
    code, _, err = run_cli(["search", str(sample_index), "x", "--lang", "en,xx"], capsys)
    assert_one_line_error(code, err, "no candidate in language xx")
    code, _, err = run_cli(["search", str(sample_index), "   "], capsys)
    assert_one_line_error(code, err, "empty query")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["search", "IDX", "x", "--langs", ""], ["--langs ''", "names no language"]),
        (["search", "IDX", "x", "--langs", " , "], ["--langs ' , '", "names no language"]),
        (["search", "IDX", "x", "--ef", "-5"], ["--ef must be at least 1, got -5"]),
        (["search", "IDX", "x", "--ef", "0"], ["--ef must be at least 1, got 0"]),
        (["bias-report", str(SAMPLE), "--langs", ""], ["--langs ''", "names no language"]),
        (["explore", "--langs", ""], ["--langs ''", "names no language"]),
    ],
    ids=[
        "search-empty",
        "search-commas",
        "ef-negative",
        "ef-zero",
        "report-empty",
        "explore-empty",
    ],
)
def test_values_that_would_be_ignored_are_refused(
    capsys, sample_index: Path, monkeypatch, args: list[str], needles: list[str]
) -> None:
    """An empty --langs would mean every language, a --ef below 1 the index's own beam: both
    were accepted silently. Refused like every range error (-k 0), before any model loads."""

    def no_model(*args, **kwargs):
        raise AssertionError("a model was loaded before the values were checked")

    monkeypatch.setattr("xlir_tui.models.store.Models.encoder_of", no_model)
    args = [str(sample_index) if a == "IDX" else a for a in args]
    code, _, err = run_cli(args, capsys)
    assert_one_line_error(code, err, *needles)


def test_search_with_another_model(capsys, sample_index: Path, tmp_path: Path) -> None:
    from conftest import build_tiny_model

    wide = build_tiny_model(tmp_path / "wide", hidden=48)
    code, _, err = run_cli(["search", str(sample_index), "x", "--model", str(wide)], capsys)
    assert_one_line_error(code, err, "dimension 48")


def test_unknown_public_collection(capsys, tmp_path: Path) -> None:
    code, _, err = run_cli(["data", "get", "squad-x", "--to", str(tmp_path / "o")], capsys)
    assert_one_line_error(code, err, "unknown collection 'squad-x'")


@pytest.mark.parametrize("command", ["index", "bias-report", "search", "explore"])
def test_unknown_backend(capsys, command: str, sample_index: Path, tmp_path: Path) -> None:
    """Every command that encodes names an unknown --backend before loading anything."""
    args = {
        "search": ["search", str(sample_index), "bee"],
        "explore": ["explore"],
        "index": ["index", str(SAMPLE), "--out", str(tmp_path / "ix")],
    }.get(command, [command, str(SAMPLE)])
    code, _, err = run_cli([*args, "--backend", "tensorrt"], capsys)
    assert_one_line_error(code, err, "unknown backend 'tensorrt'", "openvino")
    assert not (tmp_path / "ix").exists()


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["serch", "x"], ["xlir-tui: error: No such command 'serch'", "'search'"]),
        (["search", "--lnags", "de"], ["xlir-tui search: error:", "--lnags", "--langs"]),
        (["train", "sample_data", "--steps", "x"], ["xlir-tui train: error:", "'--steps'"]),
        (["bias-report"], ["xlir-tui bias-report: error: Missing argument"]),
    ],
)
def test_command_line_mistakes_are_one_line(capsys, args: list[str], needles: list[str]) -> None:
    """A mistake in the command line itself: one line naming it and where to look, status 2."""
    code, _, err = run_cli(args, capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert all(n in err for n in needles) and "--help" in err and "╭" not in err
