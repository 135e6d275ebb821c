"""``xlir-tui bias-report`` as a person uses it: terminal, JSON, exports, several models."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from conftest import build_tiny_model, run_cli
from test_bad_input import assert_one_line_error


@pytest.fixture(scope="module")
def second_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("m2") / "tiny-b", seed=7)


@pytest.mark.slow
def test_json_shape(capsys, sample_dir: Path, tiny_model: Path) -> None:
    code, out, err = run_cli(
        ["bias-report", str(sample_dir), "--model", str(tiny_model), "--json", "--peer"], capsys
    )
    assert code == 0, err
    report = json.loads(out)  # stdout is only JSON; progress went to stderr
    assert report["collection"] == "sample_data"
    assert report["settings"] == {"mono": 10, "cross": 90, "multi": 1}
    (m,) = report["systems"]
    assert m["label"] == str(tiny_model)
    s = m["summary"]
    assert set(s["mono"]) >= {"map", "r@1"} and set(s["cross"]) >= {"map", "r@1"}
    assert set(s["multi"]) >= {"map", "r@10", "rank_distance"}
    assert len(m["pairs"]) == 100
    en = m["languages"]["en"]
    assert set(en["multi"]) >= {
        "top_k_shares",
        "same_language_share",
        "expected_same_language_share",
        "peer",
        "rank_distance",
    }
    assert sum(en["multi"]["top_k_shares"].values()) == pytest.approx(1.0)
    assert 0 <= en["unk_rate"] <= 1


@pytest.mark.slow
def test_terminal_report_compares_models(
    capsys, sample_dir: Path, tiny_model: Path, second_model: Path
) -> None:
    code, out, err = run_cli(
        [
            "bias-report",
            str(sample_dir),
            "-m",
            str(tiny_model),
            "-m",
            str(second_model),
            "--langs",
            "en,de,zh",
        ],
        capsys,
    )
    assert code == 0, err
    assert "Summary" in out and "★" in out
    assert "mAP by query language" in out and "Language bias" in out
    assert out.count("★") >= 7  # one mark per summary row


def test_out_folder(
    capsys, sample_dir: Path, tiny_model: Path, second_model: Path, tmp_path: Path
) -> None:
    out_dir = tmp_path / "report"
    code, _, err = run_cli(
        [
            "bias-report",
            str(sample_dir),
            "-m",
            str(tiny_model),
            "--out",
            str(out_dir),
            "--run-depth",
            "5",
            "--langs",
            "en,th",
        ],
        capsys,
    )
    assert code == 0, err
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == [
        ".xlir-tui-output",  # the output marker: the folder is this tool's
        "heatmap.svg",
        "pairs.csv",
        "pairs.parquet",
        "qrels.txt",
        "queries.parquet",
        "report.json",
        "run.multi.txt",
    ]
    report = json.loads((out_dir / "report.json").read_text())
    assert report["systems"][0]["files"] == {"run_multi": "run.multi.txt", "heatmap": "heatmap.svg"}
    pairs = pl.read_parquet(out_dir / "pairs.parquet")
    assert pairs.height == 4 and set(pairs["setting"]) == {"mono", "cross"}
    assert pl.read_csv(out_dir / "pairs.csv").height == 4
    run = (out_dir / "run.multi.txt").read_text().splitlines()
    assert len(run) == 5 * report["questions"]
    assert run[0].split()[1] == "Q0" and run[0].split()[3] == "1"
    assert (out_dir / "heatmap.svg").read_text().startswith("<svg")
    # several models: one run and one heatmap each
    out2 = tmp_path / "two"
    code, _, err = run_cli(
        [
            "bias-report",
            str(sample_dir),
            "-m",
            str(tiny_model),
            "-m",
            str(second_model),
            "--out",
            str(out2),
            "--langs",
            "en,de",
        ],
        capsys,
    )
    assert code == 0, err
    assert len(list(out2.glob("run.multi.*.txt"))) == 2
    assert len(list(out2.glob("heatmap.*.svg"))) == 2
    code, _, err = run_cli(
        ["bias-report", str(sample_dir), "-m", str(tiny_model), "--out", str(out2)], capsys
    )
    assert_one_line_error(code, err, "output folder exists")


def test_ann_states_the_difference(capsys, sample_dir: Path, tiny_model: Path) -> None:
    code, out, err = run_cli(
        ["bias-report", str(sample_dir), "-m", str(tiny_model), "--ann", "--json"], capsys
    )
    assert code == 0, err
    ann = json.loads(out)["systems"][0]["ann"]
    assert set(ann) == {"ef", "depth", "multi", "difference"}
    assert abs(ann["difference"]["map"]) < 0.05
    code, out, err = run_cli(
        ["bias-report", str(sample_dir), "-m", str(tiny_model), "--ann"], capsys
    )
    assert code == 0 and "from exact" in out


def test_one_language_says_so(capsys, sample_dir: Path, tiny_model: Path) -> None:
    code, out, err = run_cli(
        ["bias-report", str(sample_dir), "-m", str(tiny_model), "--langs", "en", "--json"], capsys
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["systems"][0]["summary"]["cross"] is None
    assert report["systems"][0]["summary"]["multi"] is None
    assert "cross and multi settings are absent" in report["notes"][0]
    assert "absent" in err


@pytest.mark.slow
def test_bad_input(
    capsys, sample_dir: Path, tiny_model: Path, sample_index: Path, tmp_path: Path
) -> None:
    code, _, err = run_cli(
        ["bias-report", str(sample_dir), "-m", str(tiny_model), "--langs", "en,xx"], capsys
    )
    assert_one_line_error(code, err, "unknown language xx")
    wide = build_tiny_model(tmp_path / "wide", hidden=48)
    code, _, err = run_cli(
        ["bias-report", str(sample_dir), "-m", str(wide), "--ann", "--index", str(sample_index)],
        capsys,
    )
    assert_one_line_error(code, err, "dimension 48")
    code, _, err = run_cli(
        [
            "bias-report",
            str(sample_dir),
            "-m",
            str(tiny_model),
            "--ann",
            "--index",
            str(sample_index),
            "--langs",
            "en,de",
        ],
        capsys,
    )
    assert_one_line_error(code, err, "holds other candidates")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "en.json").write_text('{"data": []}')
    code, _, err = run_cli(["bias-report", str(empty), "-m", str(tiny_model)], capsys)
    assert_one_line_error(code, err, "contains no questions")
    code, _, err = run_cli(
        ["bias-report", str(sample_dir), "-m", str(tiny_model), "-k", "0"], capsys
    )
    assert_one_line_error(code, err, "-k must be at least 1")


def test_lexical_systems_and_fusion(
    capsys, sample_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    code, out, err = run_cli(
        [
            "bias-report",
            str(sample_dir),
            "-m",
            str(tiny_model),
            "--system",
            "bm25",
            "--system",
            "chargram",
            "--system",
            "fusion",
            "--system",
            "dense",
            "--langs",
            "en,de,zh",
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    models = json.loads(out)["systems"]
    assert [m["system"] for m in models] == ["bm25", "chargram", "fusion", "dense"]
    by = {m["system"]: m["summary"] for m in models}
    # within a language, character n-grams find the answer sentence far more often than not
    assert by["chargram"]["mono"]["map"] > 0.8 and by["bm25"]["mono"]["map"] > 0.8
    assert models[2]["label"].startswith("fusion(") and "chargram" in models[2]["label"]
    assert models[2]["fusion"] == {
        "parts": ["dense", "chargram"],
        "method": "rrf",
        "weights": [0.5, 0.5],
    }
    # a fusion that gives all weight to one part ranks as that part alone (interpolation keeps
    # each query's order), and a three-way fusion records its weights
    code, out, err = run_cli(
        [
            "bias-report",
            str(sample_dir),
            "-m",
            str(tiny_model),
            "--system",
            "chargram",
            "--system",
            "fusion",
            "--fuse",
            "chargram,bm25,dense",
            "--fusion-method",
            "interpolate",
            "--fusion-weight",
            "1,0,0",
            "--langs",
            "en,de,zh",
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    chargram, fused = json.loads(out)["systems"]
    assert fused["fusion"]["parts"] == ["chargram", "bm25", "dense"]
    for setting, figures in chargram["summary"].items():
        assert fused["summary"][setting] == pytest.approx(figures, rel=1e-9), setting
    code, _, err = run_cli(["bias-report", str(sample_dir), "--system", "tfidf"], capsys)
    assert_one_line_error(code, err, "unknown --system tfidf")
    code, _, err = run_cli(
        [
            "bias-report",
            str(sample_dir),
            "-m",
            str(tiny_model),
            "--system",
            "fusion",
            "--fusion-method",
            "max",
        ],
        capsys,
    )
    assert_one_line_error(code, err, "unknown fusion method 'max'")
    out_dir = tmp_path / "lex"
    code, _, err = run_cli(
        [
            "bias-report",
            str(sample_dir),
            "--system",
            "bm25",
            "--system",
            "chargram",
            "--langs",
            "en,th",
            "--out",
            str(out_dir),
        ],
        capsys,
    )
    assert code == 0, err
    assert {p.name for p in out_dir.glob("run.multi.*.txt")} == {
        "run.multi.bm25.txt",
        "run.multi.chargram.txt",
    }
