"""translate, translate-test (search, bias-report, the explorer's workspace) from the command line,
with a tiny random M2M100 (its translations are gibberish: these tests check the plumbing)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from conftest import SAMPLE, run_cli
from test_bad_input import assert_one_line_error

from xlir_tui.data.collections import load_collection


@pytest.fixture(scope="module")
def m2m(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from test_translation import _build_models

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _build_models(tmp_path_factory.mktemp("mt-cli"))["m2m100"]


@pytest.fixture
def four_questions(tmp_path: Path) -> Path:
    """sample_data cut to four paragraphs' worth of English and German rows (JSONL)."""
    c = load_collection([str(SAMPLE)])
    keep = sorted(set(c.questions["qid"].to_list()))[:4]
    folder = tmp_path / "small"
    folder.mkdir()
    rel = c.relevance.join(
        c.candidates.select(["id", "text", "context", "lang"]),
        left_on="candidate_id",
        right_on="id",
    )
    rows: dict[str, list[str]] = {}
    for lang in ("en", "de"):
        q = c.questions.filter((c.questions["lang"] == lang) & c.questions["qid"].is_in(keep))
        for qid, qtext, qrow in q.select("qid", "text", "id").iter_rows():
            r = rel.filter((rel["question_id"] == qrow) & (rel["lang"] == lang)).row(0, named=True)
            rows.setdefault(lang, []).append(
                json.dumps(
                    {
                        "qid": qid,
                        "lang": lang,
                        "question": qtext,
                        "passage": r["text"],
                        "context": r["context"],
                    },
                    ensure_ascii=False,
                )
            )
    for lang, lines in rows.items():
        (folder / f"{lang}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_translate_command(
    capsys, m2m: Path, tiny_model: Path, four_questions: Path, tmp_path: Path
) -> None:
    out = tmp_path / "tt"
    args = ["translate", str(four_questions), "--mt", str(m2m), "--to", "fr,zh", "--out", str(out)]
    code, _, err = run_cli([*args, "--max-length", "8"], capsys)
    assert code == 0, err
    summary = json.loads((out / "translate.manifest").read_text())
    assert summary["family"] == "m2m100" and summary["targets"] == ["fr", "zh"]
    assert not list(out.glob("*.part"))
    c = load_collection([str(out)])
    assert c.languages[0] == "en" and set(c.languages) <= {"en", "fr", "zh"}
    # relevance by question id: each English question reaches its answer in every language
    en = c.questions.filter(c.questions["lang"] == "en")
    assert en.height == 4
    for qid in en["qid"]:
        langs = {
            cid.split("/")[0]
            for cid in c.relevance.filter(c.relevance["question_id"] == f"en/{qid}")["candidate_id"]
        }
        assert "en" in langs and langs == set(
            c.questions.filter(c.questions["qid"] == qid)["lang"].to_list()
        )
    # train takes the folder as it is
    code, _, err = run_cli(
        [
            "train",
            str(out),
            "--base",
            str(tiny_model),
            "--steps",
            "1",
            "--batch-size",
            "4",
            "--out",
            str(tmp_path / "run"),
        ],
        capsys,
    )
    assert code == 0, err
    # a finished folder is not overwritten; an unknown language fails before any work
    code, _, err = run_cli(args, capsys)
    assert_one_line_error(code, err, "exists")
    code, _, err = run_cli(
        [
            "translate",
            str(four_questions),
            "--mt",
            str(m2m),
            "--to",
            "xx",
            "--out",
            str(tmp_path / "b"),
        ],
        capsys,
    )
    assert_one_line_error(code, err, "xx")
    assert not (tmp_path / "b").exists()
    code, _, err = run_cli(
        [
            "translate",
            str(four_questions),
            "--mt",
            str(tmp_path / "none"),
            "--to",
            "de",
            "--out",
            str(tmp_path / "c"),
        ],
        capsys,
    )
    assert_one_line_error(code, err, "no such model folder")


def test_translate_test_in_bias_report(
    capsys, m2m: Path, tiny_model: Path, four_questions: Path
) -> None:
    code, text, err = run_cli(
        [
            "bias-report",
            str(four_questions),
            "-m",
            str(tiny_model),
            "--translate-query",
            "en",
            "--mt",
            str(m2m),
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    plain, translated = json.loads(text)["systems"]
    assert "translate_query" not in plain
    assert translated["translate_query"] == {"to": "en", "mt": str(m2m)}
    assert "queries translated to en" in translated["label"]
    assert translated["timings"]["translate_s"] >= 0
    # English queries are not translated: their figures are the plain model's
    for setting in ("mono", "multi"):
        assert translated["languages"]["en"][setting] == plain["languages"]["en"][setting]
    assert translated["languages"]["de"] != plain["languages"]["de"]
    code, _, err = run_cli(
        ["bias-report", str(four_questions), "-m", str(tiny_model), "--translate-query", "en"],
        capsys,
    )
    assert_one_line_error(code, err, "--translate-query and --mt go together")
    # a Marian pattern whose de -> en pair does not exist fails before any model encodes
    pattern = str(m2m.parent / "marian" / "opus-mt-{src}-{tgt}")
    code, _, err = run_cli(
        [
            "bias-report",
            str(four_questions),
            "-m",
            str(tiny_model),
            "--translate-query",
            "en",
            "--mt",
            pattern,
        ],
        capsys,
    )
    assert_one_line_error(code, err, "opus-mt-de-en")
    assert "encoded" not in err


def test_translate_test_in_search_and_the_workspace(capsys, m2m: Path, sample_index: Path) -> None:
    args = ["search", str(sample_index), "Wer entdeckte den Schwänzeltanz?", "--json"]
    code, _, err = run_cli([*args, "--translate-query", "en", "--mt", str(m2m)], capsys)
    assert_one_line_error(code, err, "--query-lang")
    code, text, err = run_cli(
        [*args, "--translate-query", "en", "--mt", str(m2m), "--query-lang", "de", "-k", "3"],
        capsys,
    )
    assert code == 0, err
    result = json.loads(text)
    assert result["query"].startswith("Wer entdeckte")
    assert result["translated_query"] != result["query"] and len(result["results"]) == 3
    assert "query translated to en" in err

    from xlir_tui.app.explore import Pane, Workspace
    from xlir_tui.retrieval.specs import SystemSpec, TranslateQuery

    ws = Workspace.open(
        index=str(sample_index),
        spec=SystemSpec(translate_query=TranslateQuery("en", str(m2m))),
        query_lang="de",
    )
    assert ws.names[0].endswith("(via en)")
    free = ws.run([Pane("en"), Pane("de")], text="Wer entdeckte den Schwänzeltanz?")
    assert all(r.note.startswith("searched as: ") for r in free)
    qid = ws.question_ids[0]
    asked = ws.run([Pane("en"), Pane("de")], qid=qid)
    assert asked[0].note == ""  # the English question is already in the pivot language
    assert asked[1].note.startswith("searched as: ")


async def test_the_explorer_translates_typed_queries(m2m: Path, tiny_model: Path) -> None:
    from test_explorer import SIZE, panes, ready, settle

    from xlir_tui.retrieval.specs import SystemSpec, TranslateQuery
    from xlir_tui.tui.app import ExplorerApp

    app = ExplorerApp(
        collection=[str(SAMPLE)],
        spec=SystemSpec("dense", str(tiny_model), translate_query=TranslateQuery("en", str(m2m))),
        langs=["en", "de"],
        query_lang="de",
    )
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press(*"Königin")
        await settle(app, pilot, lambda: all(p.result for p in panes(app)))
        assert all(p.result.note.startswith("searched as: ") for p in panes(app))
        assert panes(app)[0].result.system_name.endswith("(via en)")
