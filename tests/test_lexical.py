"""Lexical retrievers and fusion: tokenisation for every script, scoring, saving, fusing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from xlir_tui.errors import IndexFormatError, XlirError
from xlir_tui.retrieval.lexical import BM25Retriever, CharGramRetriever, fuse, tokenize


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("The Eiffel Tower, in Paris!", ["the", "eiffel", "tower", "in", "paris"]),
        ("北京是首都", ["北京", "京是", "是首", "首都"]),
        ("กรุงเทพ", ["กร", "รุ", "ุง", "งเ", "เท", "ทพ"]),
        ("Die Straße", ["die", "strasse"]),
        ("東京タワー 333m", ["東京", "京タ", "タワ", "ワー", "333m"]),
        ("ما هذا؟", ["ما", "هذا"]),
        ("中", ["中"]),
        ("   ", []),
    ],
)
def test_tokenize(text: str, tokens: list[str]) -> None:
    assert tokenize(text) == tokens


TEXTS = [
    "Paris is the capital of France.",
    "Berlin ist die Hauptstadt Deutschlands.",
    "北京是中国的首都。",
    "Rome is the capital of Italy.",
    "東京は日本の首都です。",
]


@pytest.mark.parametrize("cls", [BM25Retriever, CharGramRetriever])
def test_retrievers_find_and_round_trip(cls, tmp_path: Path) -> None:
    r = cls.build(TEXTS)
    s = r.scores(["capital of France", "中国的首都", "zzzz qqqq"])
    assert s.shape == (3, len(TEXTS))
    assert s[0].argmax() == 0 and s[1].argmax() == 2
    assert not s[2].any() or cls is CharGramRetriever  # no known token: nothing scores
    r.save(tmp_path / "idx")
    again = cls.load(tmp_path / "idx")
    np.testing.assert_allclose(again.scores(["capital of France"]), s[:1], rtol=1e-5)
    assert not list((tmp_path / "idx").glob("*.pkl"))


def test_damaged_files_are_refused(tmp_path: Path) -> None:
    CharGramRetriever.build(TEXTS).save(tmp_path / "c")
    (tmp_path / "c" / "chargram.idf.npy").write_bytes(b"broken")
    with pytest.raises(IndexFormatError, match="corrupt character n-gram index"):
        CharGramRetriever.load(tmp_path / "c")
    with pytest.raises(IndexFormatError, match="corrupt BM25 index"):
        BM25Retriever.load(tmp_path / "missing")


def test_fusion() -> None:
    a = np.array([[3.0, 2.0, 1.0]], dtype=np.float32)
    b = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    rrf = fuse([a, b], "rrf", rrf_k=60)
    # a ranks (1, 2, 3), b ranks (3, 2, 1)
    np.testing.assert_allclose(rrf[0], [1 / 61 + 1 / 63, 2 / 62, 1 / 63 + 1 / 61], rtol=1e-6)
    lin = fuse([a, b], "interpolate", weights=[0.75, 0.25])
    np.testing.assert_allclose(lin[0], [0.75, 0.75 * 0.5 + 0.25 * 0.5, 0.25], rtol=1e-6)
    flat = fuse([np.ones((1, 3), np.float32), b], "interpolate")
    np.testing.assert_allclose(flat[0], [0.0, 0.5, 1.0])
    with pytest.raises(XlirError, match="two or more"):
        fuse([a])
    with pytest.raises(XlirError, match="unknown fusion method"):
        fuse([a, b], "max")
    with pytest.raises(XlirError, match="one non-negative weight"):
        fuse([a, b], weights=[1.0])


@pytest.mark.shared_data
def test_chargram_on_xquad_r_through_the_report_metrics(shared_data: Path) -> None:
    """Lexical scores go through the same metrics as embeddings: strong mono, weak cross."""
    from xlir_tui.data.collections import load_collection
    from xlir_tui.evaluation.evaluate import relevance_rows
    from xlir_tui.evaluation.metrics import rank_scored, summarize
    from xlir_tui.retrieval.ranking import trec_tie_key

    c = load_collection(shared_data / "xquad-r").restrict(["en", "de", "ru"])
    r = CharGramRetriever.build(c.candidates["text"].to_list())
    questions = c.questions["text"].to_list()
    langs = c.languages
    code = {x: i for i, x in enumerate(langs)}
    rel_q, rel_c = relevance_rows(c)
    ranked = rank_scored(
        lambda lo, hi: r.scores(questions[lo:hi]),
        len(questions),
        np.array([code[x] for x in c.questions["lang"]]),
        np.array([code[x] for x in c.candidates["lang"]]),
        rel_q,
        rel_c,
        langs,
        trec_tie_key(c.candidates["id"].to_list()),
    )
    s = summarize(ranked)["summary"]
    assert s["mono"]["map"] > 0.6  # character n-grams are strong within a language
    assert s["cross"]["map"] < s["mono"]["map"] / 2  # and cannot cross languages well


@pytest.mark.parametrize("system", ["bm25", "chargram"])
def test_lexical_index_and_search_cli(
    capsys, sample_dir: Path, tmp_path: Path, system: str
) -> None:
    import json

    from conftest import run_cli
    from test_bad_input import assert_one_line_error

    out = tmp_path / system
    code, _, err = run_cli(
        ["index", str(sample_dir), "--system", system, "--out", str(out)], capsys
    )
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["system"] == system and manifest["files"]
    assert not list(out.rglob("*.pkl"))
    code, text, err = run_cli(
        ["search", str(out), "Bienenkönigin Eier", "--langs", "de,fr", "-k", "3", "--json"], capsys
    )
    assert code == 0, err
    result = json.loads(text)
    assert result["results"] and {r["lang"] for r in result["results"]} <= {"de", "fr"}
    assert "Königin" in result["results"][0]["text"]
    # a query in a script no document uses: an empty result with a note, not an error
    code, text, err = run_cli(["search", str(out), "ᚠᚢᚦ", "--json"], capsys)
    assert code == 0 and json.loads(text)["results"] == [] and "note" in json.loads(text)
    code, _, err = run_cli(["search", str(out), "Eier", "--langs", "xx"], capsys)
    assert_one_line_error(code, err, "no candidate in language xx")
    code, _, err = run_cli(["search", str(out), "  "], capsys)
    assert_one_line_error(code, err, "empty query")
    victim = next(
        p
        for p in sorted(out.rglob("*"))
        if p.is_file()
        and p.name not in ("manifest.json", ".xlir-tui-output")
        and p.stat().st_size > 100
    )
    victim.write_bytes(victim.read_bytes()[:50])
    code, _, err = run_cli(["search", str(out), "Eier"], capsys)
    assert_one_line_error(code, err, "truncated or changed")


def test_fusion_spec_parse() -> None:
    from xlir_tui.retrieval.specs import FusionSpec

    assert FusionSpec.parse() == FusionSpec(("dense", "chargram"), "rrf", (0.5, 0.5))
    spec = FusionSpec.parse("dense,bm25,chargram", "interpolate", "0.6")
    assert spec.weights == (0.6, 0.2, 0.2) and spec.method == "interpolate"
    assert FusionSpec.parse("bm25,chargram", weight="0.3,0.9").weights == (0.3, 0.9)
    assert FusionSpec.from_dict(spec.to_dict()) == spec
    assert spec.label("default") == "fusion(default+bm25+chargram, interpolate, 0.6/0.2/0.2)"
    for parts, method, weight, message in [
        ("dense,tfidf", "rrf", None, "--fuse tfidf"),
        ("chargram", "rrf", None, "two or more different"),
        ("bm25,bm25", "rrf", None, "two or more different"),
        ("bm25,chargram", "max", None, "unknown fusion method 'max'"),
        ("bm25,chargram", "rrf", "1.5", "between 0 and 1"),
        ("bm25,chargram", "rrf", "a", "not a number"),
        ("bm25,chargram", "rrf", "0.1,0.2,0.3", "3 weights for 2"),
    ]:
        with pytest.raises(XlirError, match=message):
            FusionSpec.parse(parts, method, weight)


def test_fusion_index_and_search_cli(
    capsys, sample_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    import json

    from conftest import run_cli
    from test_bad_input import assert_one_line_error

    from xlir_tui.data.collections import load_collection
    from xlir_tui.retrieval.specs import FusionSpec
    from xlir_tui.retrieval.systems import load_system

    out = tmp_path / "fused"
    args = ["index", str(sample_dir), "--system", "fusion", "--out", str(out)]
    code, _, err = run_cli([*args, "--fuse", "chargram,bm25", "--fusion-weight", "0.7"], capsys)
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["system"] == "fusion"
    assert manifest["fusion"] == {
        "parts": ["chargram", "bm25"],
        "method": "rrf",
        "weights": [0.7, 0.3],
    }
    assert (out / "chargram" / "manifest.json").exists() and (
        out / "bm25" / "manifest.json"
    ).exists()
    assert not list(out.rglob("*.pkl"))
    query = "Bienenkönigin Eier"
    code, text, err = run_cli(
        ["search", str(out), query, "--langs", "de,fr", "-k", "5", "--json"], capsys
    )
    assert code == 0, err
    hits = json.loads(text)["results"]
    # the fused ranking is the fusion of the two retrievers' own scores over the de+fr pool
    c = load_collection([str(sample_dir)])
    texts = c.candidates["text"].to_list()
    scores = FusionSpec.parse("chargram,bm25", "rrf", "0.7").combine(
        [r.build(texts).scores([query]) for r in (CharGramRetriever, BM25Retriever)]
    )[0]
    rows = np.flatnonzero(c.candidates["lang"].is_in(["de", "fr"]).to_numpy())
    best = rows[np.lexsort((rows, -scores[rows]))][:5]
    assert [h["id"] for h in hits] == c.candidates["id"].gather(best).to_list()
    assert {h["lang"] for h in hits} <= {"de", "fr"} and "Königin" in hits[0]["text"]
    # with the dense model as a part: the index holds a dense index beside the lexical one
    out2 = tmp_path / "fused2"
    code, _, err = run_cli(
        ["index", str(sample_dir), "--system", "fusion", "-m", str(tiny_model), "--out", str(out2)],
        capsys,
    )
    assert code == 0, err
    loaded = load_system(out2)
    assert list(loaded.parts) == ["dense", "chargram"] and loaded.dense is not None
    code, text, err = run_cli(["search", str(out2), "honey bees", "-k", "3", "--json"], capsys)
    assert code == 0 and len(json.loads(text)["results"]) == 3, err
    # the explorer opens the same folder (explore --index): one slot fusing both parts
    from xlir_tui.app.explore import Pane, Workspace

    ws = Workspace.open(index=str(out2))
    assert ws.names[0] == f"fusion({tiny_model.name}+chargram, rrf, 0.5/0.5)"
    (result,) = ws.run([Pane("de")], text="Königin Eier")
    assert len(result.hits) == 10 and {h.lang for h in result.hits} == {"de"}
    # bad input: unknown fused system, an existing folder, a damaged part
    code, _, err = run_cli([*args[:-1], str(tmp_path / "x"), "--fuse", "dense,tfidf"], capsys)
    assert_one_line_error(code, err, "--fuse tfidf")
    assert not (tmp_path / "x").exists()
    code, _, err = run_cli(args, capsys)
    assert_one_line_error(code, err, "output folder exists")
    victim = max((out / "bm25").rglob("*.parquet"), key=lambda p: p.stat().st_size)
    victim.write_bytes(victim.read_bytes()[:50])
    code, _, err = run_cli(["search", str(out), "Eier"], capsys)
    assert_one_line_error(code, err, "truncated or changed")
