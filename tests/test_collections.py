"""Collections: loaders, LAReQA relevance, caching, and the sample data."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import polars as pl
import pytest

from xlir_tui.data.collections import lang_from_filename, load_collection
from xlir_tui.errors import DataError, XlirError


def squad(paragraphs: list[dict]) -> dict:
    return {"version": "test", "data": [{"title": "t", "paragraphs": paragraphs}]}


def para(context: str, qas: list[tuple[str, str, str]], breaks: bool = True) -> dict:
    """A paragraph; ``qas`` are (id, question, answer text) with the answer found in context."""
    p: dict = {
        "context": context,
        "qas": [
            {"id": qid, "question": q, "answers": [{"text": a, "answer_start": context.index(a)}]}
            for qid, q, a in qas
        ],
    }
    if breaks:
        from xlir_tui.data.segment import sentence_spans

        spans = sentence_spans(context)
        p["sentence_breaks"] = [list(s) for s in spans]
        p["sentences"] = [context[s:e] for s, e in spans]
    return p


def write(path: Path, doc: dict | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        doc if isinstance(doc, str) else json.dumps(doc, ensure_ascii=False), encoding="utf-8"
    )
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """Three languages; q2 exists only in en and de (as in MLQA-R)."""
    write(
        tmp_path / "en.json",
        squad(
            [
                para(
                    "Paris is in France. Berlin is in Germany.",
                    [("q1", "Where is Berlin?", "Germany"), ("q2", "Where is Paris?", "France")],
                ),
            ]
        ),
    )
    write(
        tmp_path / "de.json",
        squad(
            [
                para(
                    "Paris liegt in Frankreich. Berlin liegt in Deutschland.",
                    [
                        ("q1", "Wo liegt Berlin?", "Deutschland"),
                        ("q2", "Wo liegt Paris?", "Frankreich"),
                    ],
                ),
            ]
        ),
    )
    write(
        tmp_path / "zh.json",
        squad(
            [
                para("巴黎在法国。柏林在德国。", [("q1", "柏林在哪里？", "德国")]),
            ]
        ),
    )
    return tmp_path


def test_relevance_is_lareqa(tiny: Path) -> None:
    c = load_collection(tiny)
    rel = {(q, cand) for q, cand in c.relevance.iter_rows()}
    assert rel == {
        ("en/q1", "en/0/1"),
        ("en/q1", "de/0/1"),
        ("en/q1", "zh/0/1"),
        ("de/q1", "en/0/1"),
        ("de/q1", "de/0/1"),
        ("de/q1", "zh/0/1"),
        ("zh/q1", "en/0/1"),
        ("zh/q1", "de/0/1"),
        ("zh/q1", "zh/0/1"),
        ("en/q2", "en/0/0"),
        ("en/q2", "de/0/0"),
        ("de/q2", "en/0/0"),
        ("de/q2", "de/0/0"),
    }
    assert c.candidates.filter(pl.col("id") == "zh/0/1")["text"].item() == "柏林在德国。"
    assert c.languages == ["de", "en", "zh"]
    stats = c.stats()
    assert stats["questions"] == 5 and stats["candidates"] == 6 and stats["qids"] == 2
    assert stats["languages"]["zh"] == {
        "questions": 1,
        "candidates": 2,
        "paragraphs": 1,
        "relevant_pairs": 3,
        "skipped": 0,
    }


def test_plain_squad_is_segmented(tmp_path: Path) -> None:
    """Without sentence breaks the loader segments the paragraph itself, zh included."""
    write(
        tmp_path / "zh.json",
        squad(
            [
                para(
                    "巴黎在法国。柏林在德国。罗马在意大利。",
                    [("q1", "罗马在哪里？", "意大利")],
                    breaks=False,
                )
            ]
        ),
    )
    write(
        tmp_path / "hi.json",
        squad(
            [
                para(
                    "पेरिस फ्रांस में है। बर्लिन जर्मनी में है। रोम इटली में है।",
                    [("q1", "रोम कहाँ है?", "इटली")],
                    breaks=False,
                )
            ]
        ),
    )
    c = load_collection(tmp_path)
    assert c.candidates.height == 6
    rel = sorted(c.relevance.filter(pl.col("question_id") == "zh/q1")["candidate_id"])
    assert rel == ["hi/0/2", "zh/0/2"]


def test_rows_jsonl_and_parquet(tmp_path: Path) -> None:
    rows = [
        {"qid": "a", "lang": "en", "question": "Capital of France?", "passage": "Paris."},
        {"qid": "a", "lang": "fr", "question": "Capitale de la France ?", "passage": "Paris."},
        {"qid": "b", "lang": "en", "question": "Capital of Italy?", "passage": "Rome."},
    ]
    write(tmp_path / "rows.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    c = load_collection(tmp_path / "rows.jsonl")
    assert c.candidates.height == 3  # "Paris." is a candidate in en and in fr
    assert sorted(c.relevance.filter(pl.col("question_id") == "fr/a")["candidate_id"]) == [
        "en/0/0",
        "fr/0/0",
    ]
    pl.DataFrame([rows[0], rows[2]]).drop("lang").write_parquet(tmp_path / "rows.parquet")
    with pytest.raises(DataError, match="rows without 'lang'"):
        load_collection(tmp_path / "rows.parquet")
    c2 = load_collection(tmp_path / "rows.parquet", lang="pt")
    assert c2.languages == ["pt"] and c2.relevance.height == 2
    (tmp_path / "rows.parquet").rename(tmp_path / "pt.parquet")  # the name can carry the language
    assert load_collection(tmp_path / "pt.parquet").languages == ["pt"]


@pytest.mark.parametrize(
    ("name", "lang"),
    [
        ("de.json", "de"),
        ("xquad.de.json", "de"),
        ("mlqa-r.zh-Hans.json", "zh-Hans"),
        ("notes.json", None),
        ("data.json", None),
    ],
)
def test_lang_from_filename(name: str, lang: str | None) -> None:
    assert lang_from_filename(Path(name)) == lang


def test_any_language_code_and_explicit_lang(tmp_path: Path) -> None:
    doc = squad([para("Kaixo mundua. Hau bigarrena da.", [("q", "Zer?", "bigarrena")])])
    write(tmp_path / "corpus.eu.json", doc)
    assert load_collection(tmp_path / "corpus.eu.json").languages == ["eu"]
    write(tmp_path / "x" / "corpus.json", doc)
    with pytest.raises(DataError, match="cannot tell the language"):
        load_collection(tmp_path / "x" / "corpus.json")
    assert load_collection(tmp_path / "x" / "corpus.json", lang="eu").languages == ["eu"]


def test_unplaced_answer_is_reported_not_dropped_silently(tmp_path: Path) -> None:
    p = para("First one. Second one.", [("q1", "Which?", "Second"), ("q2", "Gap?", "one.")])
    p["sentence_breaks"] = [[0, 9], [11, 22]]  # the space and "." at 9-10 belong to no sentence
    p["sentences"] = ["First one", "Second one."]
    p["qas"][1]["answers"][0]["answer_start"] = 9
    write(tmp_path / "en.json", squad([p]))
    c = load_collection(tmp_path)
    assert c.questions["id"].to_list() == ["en/q1"]
    assert c.skipped.to_dicts() == [
        {
            "file": str(tmp_path / "en.json"),
            "lang": "en",
            "qid": "q2",
            "reason": c.skipped["reason"][0],
        }
    ]
    assert c.stats()["skipped"] == 1 and c.stats()["languages"]["en"]["skipped"] == 1
    with pytest.raises(DataError, match="q2.*lies in no sentence"):
        load_collection(tmp_path, strict=True)


def test_cache_is_keyed_by_content(tiny: Path) -> None:
    first = load_collection(tiny)
    again = load_collection(tiny)
    assert again.fingerprint == first.fingerprint
    assert again.relevance.equals(first.relevance)
    doc = json.loads((tiny / "zh.json").read_text(encoding="utf-8"))
    doc["data"][0]["paragraphs"][0]["qas"][0]["question"] = "柏林位于哪里？"
    write(tiny / "zh.json", doc)
    changed = load_collection(tiny)
    assert changed.fingerprint != first.fingerprint
    assert "柏林位于哪里？" in changed.questions["text"].to_list()


def test_restrict_and_unknown_language(tiny: Path) -> None:
    c = load_collection(tiny).restrict(["en", "zh"])
    assert c.languages == ["en", "zh"]
    assert set(c.relevance["candidate_id"].str.slice(0, 2)) <= {"en", "zh"}
    with pytest.raises(XlirError, match="unknown language xx"):
        load_collection(tiny).restrict(["en", "xx"])


# ---------------------------------------------------------------------------- the sample data

NON_LATIN = {
    "ARABIC",
    "CJK",
    "DEVANAGARI",
    "THAI",
    "CYRILLIC",
    "GREEK",
    "HEBREW",
    "HANGUL",
    "HIRAGANA",
    "KATAKANA",
    "BENGALI",
    "TAMIL",
    "GEORGIAN",
    "ARMENIAN",
}


def script_of(text: str) -> str:
    counts: dict[str, int] = {}
    for ch in text:
        if ch.isalpha():
            name = unicodedata.name(ch, "UNKNOWN").split()[0]
            counts[name] = counts.get(name, 0) + 1
    return max(counts, key=counts.__getitem__)


def test_sample_data_is_a_valid_parallel_collection(sample_dir: Path) -> None:
    """The shipped sample: >= 24 paragraphs in >= 8 languages, >= 4 non-Latin scripts."""
    c = load_collection(sample_dir, strict=True)
    assert c.skipped.is_empty()
    assert len(c.languages) >= 8
    scripts = {
        lang: script_of(" ".join(c.candidates.filter(pl.col("lang") == lang)["text"]))
        for lang in c.languages
    }
    assert len({s for s in scripts.values() if s in NON_LATIN}) >= 4, scripts
    paragraphs = c.candidates.group_by("lang").agg(pl.col("paragraph_id").n_unique())
    assert paragraphs["paragraph_id"].min() >= 24
    # every question id is asked in every language, and its answer exists in every language
    per_qid = c.questions.group_by("qid").len()
    assert per_qid["len"].min() == len(c.languages)
    assert c.relevance.group_by("question_id").len()["len"].min() == len(c.languages)
    # 2 to 3 questions per paragraph (question ids look like p07-q2)
    per_para = (
        c.questions.filter(pl.col("lang") == "en")
        .group_by(pl.col("qid").str.split("-").list.first())
        .len()
    )
    assert per_para["len"].min() >= 2 and per_para["len"].max() <= 3
    # every file is the XQuAD-R format with sentences and sentence_breaks that match the context
    for f in sorted(sample_dir.glob("*.json")):
        doc = json.loads(f.read_text(encoding="utf-8"))
        for art in doc["data"]:
            for p in art["paragraphs"]:
                assert [p["context"][s:e] for s, e in p["sentence_breaks"]] == p["sentences"]
                for qa in p["qas"]:
                    a = qa["answers"][0]
                    assert p["context"][a["answer_start"] :][: len(a["text"])] == a["text"]


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("name", "questions", "candidates", "relevant"),
    [("xquad-r", 13090, 13014, 13090 * 11), ("mlqa-r", 4199, 20534, 15747)],
)
def test_real_collections(
    shared_data: Path, name: str, questions: int, candidates: int, relevant: int
) -> None:
    c = load_collection(shared_data / name)
    assert (c.questions.height, c.candidates.height, c.relevance.height) == (
        questions,
        candidates,
        relevant,
    )
    assert c.skipped.is_empty()
    # no byte-order mark leaks into a sentence a model reads
    assert not c.candidates["text"].str.starts_with("\ufeff").any()


@pytest.mark.parametrize("kind", ["fifo", "socket", "folder", "broken-link"])
def test_a_collection_entry_that_is_not_a_file_is_refused(tmp_path: Path, kind: str) -> None:
    """A FIFO (or socket, folder, broken link) named like a collection file was skipped without
    a word; opening a FIFO would block. Refused, naming it, without opening it."""
    import os
    import socket

    write(tmp_path / "en.json", squad([para("A b. C d.", [("q1", "What?", "A b.")])]))
    odd = tmp_path / "de.jsonl"
    if kind == "fifo":
        os.mkfifo(odd)
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(odd))
        server.close()  # the socket file stays
    elif kind == "folder":
        odd.mkdir()
    else:
        odd.symlink_to(tmp_path / "gone.jsonl")
    expected = {
        "fifo": r"a FIFO \(named pipe\)",
        "socket": "a socket",
        "folder": "a folder",
        "broken-link": "a broken symbolic link",
    }[kind]
    with pytest.raises(DataError, match=f"de.jsonl: is {expected}, not a collection file"):
        load_collection(tmp_path, use_cache=False)
    if kind != "folder":  # named alone (a folder named alone is read as a folder)
        with pytest.raises(DataError, match=f"is {expected}, not a collection file"):
            load_collection(odd, use_cache=False)
    # other entries, not named like collection files, are none of its business
    odd.unlink() if kind != "folder" else odd.rmdir()
    os.mkfifo(tmp_path / "notes")
    assert load_collection(tmp_path, use_cache=False).languages == ["en"]
