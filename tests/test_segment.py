"""Sentence segmentation for paragraphs that come without sentence breaks."""

from __future__ import annotations

import itertools
import json

import pytest

from xlir_tui.data.segment import sentence_spans


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, as the SQuAD reader cuts a paragraph."""
    return [text[s:e] for s, e in sentence_spans(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Dr. Smith went to Washington. He arrived at 3.5 p.m. on Monday! Did he? Yes.",
            [
                "Dr. Smith went to Washington.",
                "He arrived at 3.5 p.m. on Monday!",
                "Did he?",
                "Yes.",
            ],
        ),
        (
            'J. S. Bach wrote music. "Is it?" she asked. Yes.',
            ["J. S. Bach wrote music.", '"Is it?" she asked.', "Yes."],
        ),
        (
            "北京是中国的首都。上海是最大的城市！你知道吗？",
            ["北京是中国的首都。", "上海是最大的城市！", "你知道吗？"],
        ),
        (
            "東京は日本の首都です。大阪は二番目です。",
            ["東京は日本の首都です。", "大阪は二番目です。"],
        ),
        ("यह एक वाक्य है। यह दूसरा है।", ["यह एक वाक्य है।", "यह दूसरा है।"]),
        ("ما هذا؟ هذا كتاب؛ إنه جميل.", ["ما هذا؟", "هذا كتاب؛", "إنه جميل."]),
        (
            "กรุงเทพมหานครเป็นเมืองหลวง ประเทศไทยมีประชากรมาก",
            ["กรุงเทพมหานครเป็นเมืองหลวง", "ประเทศไทยมีประชากรมาก"],
        ),
        (
            "Москва — столица России. Она основана в 1147 году.",
            ["Москва — столица России.", "Она основана в 1147 году."],
        ),
        ("No terminator at the end", ["No terminator at the end"]),
        ("", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_spans_cover_every_non_space_character() -> None:
    text = "  One. Two!  三。四？ ห้า หก  Seven?"
    spans = sentence_spans(text)
    covered = {i for s, e in spans for i in range(s, e)}
    assert covered >= {i for i, ch in enumerate(text) if not ch.isspace()}
    assert all(text[s:e] == text[s:e].strip() for s, e in spans)
    assert spans == sorted(spans)
    assert all(e1 <= s2 for (_, e1), (s2, _) in itertools.pairwise(spans))


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("lang", "minimum"),
    [("en", 0.97), ("ru", 0.95), ("hi", 0.95), ("vi", 0.93), ("zh", 0.85), ("ar", 0.93)],
)
def test_agrees_with_xquad_r_breaks(shared_data, lang: str, minimum: float) -> None:
    """Where XQuAD-R gives breaks, segmenting the raw paragraph finds the same answer sentence."""
    doc = json.loads((shared_data / "xquad-r" / f"{lang}.json").read_text(encoding="utf-8"))
    same = total = 0
    for art in doc["data"]:
        for p in art["paragraphs"]:
            gold = [tuple(b) for b in p["sentence_breaks"]]
            pred = sentence_spans(p["context"])
            for qa in p["qas"]:
                start = qa["answers"][0]["answer_start"]
                g = [b for b in gold if b[0] <= start < b[1]]
                q = [b for b in pred if b[0] <= start < b[1]]
                total += 1
                same += bool(g and q and g[0] == q[0])
    assert same / total >= minimum
