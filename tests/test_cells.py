"""Text in terminal columns (xlir_tui.cells): widths as a terminal draws them, line breaks
that keep Thai words and Devanagari syllables whole."""

from __future__ import annotations

import unicodedata
from types import SimpleNamespace

import pytest

from xlir_tui.cells import (
    THANTHAKHAT,
    clusters,
    measure_as_terminals,
    text_width,
    truncate,
    wrap,
)
from xlir_tui.evaluation.render import shorten

HINDI = (
    "पश्चिमी मधुमक्खी (Apis mellifera) ऐसी कॉलोनियों में रहती है जिनमें गर्मियों में 60,000 "
    "तक श्रमिक मक्खियाँ हो सकती हैं। हर कॉलोनी में आम तौर पर केवल एक रानी होती है।"
)
THAI = (
    "ผึ้งพันธุ์ตะวันตก (Apis mellifera) อาศัยอยู่เป็นรังซึ่งในฤดูร้อนอาจมีผึ้งงานมากถึง 60,000 "
    "ตัว แต่ละรังมักมีนางพญาเพียงตัวเดียว"
)


def terminal_width(text: str) -> int:
    """Columns as the C library's wcwidth gives them (tmux, xterm, VTE): a mark that sits on
    its letter none, a spacing mark (Mc) one, a wide character two. Written from Unicode's
    data alone, so that it checks the module rather than repeating it."""
    total = 0
    for ch in text:
        if unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        total += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return total


def starts_inside_a_cluster(line: str) -> bool:
    return bool(line) and unicodedata.category(line[0]) in ("Mn", "Mc", "Me")


def test_widths_are_the_terminal_s() -> None:
    assert text_width("का") == terminal_width("का") == 2  # ka and its vowel sign aa
    assert text_width("क्ष") == 2  # a conjunct: the virama takes no column
    assert text_width("ที่น้ำ") == 3  # Thai marks sit on their letter; sara am stands
    assert text_width("蜂王") == 4 and text_width("honey") == 5
    for text in (HINDI, THAI):
        assert text_width(text) == terminal_width(text)


@pytest.mark.parametrize("width", [12, 20, 33])
def test_hindi_lines_fit_and_keep_syllables(width: int) -> None:
    lines = wrap(HINDI, width)
    assert all(terminal_width(x) <= width for x in lines)
    assert not any(starts_inside_a_cluster(x) for x in lines)
    assert " ".join(lines) == HINDI  # broken at spaces only: nothing lost, nothing added


@pytest.mark.parametrize("width", [12, 20, 30])
def test_thai_breaks_between_words(width: int) -> None:
    """Thai is written without spaces between words: it used to be cut anywhere, after a
    consonant and before its vowel (``อ|าศัย``). Now between words (ICU's dictionary)."""
    lines = wrap(THAI, width)
    assert all(terminal_width(x) <= width for x in lines)
    assert not any(starts_inside_a_cluster(x) for x in lines)
    assert "".join(lines).replace(" ", "") == THAI.replace(" ", "")
    words = ("อาศัย", "เป็น", "ฤดู", "ร้อน", "นางพญา", "เพียง", "เดียว")
    for word in words:
        assert any(word in line for line in lines), (word, lines)
    # a Thai line never starts with a following vowel (those stand after their consonant)
    assert not any(x[0] in "ะาำิีึืุูั" for x in lines)


@pytest.mark.parametrize("width", range(4, 24))
def test_a_silent_thai_letter_stays_with_its_syllable(width: int) -> None:
    """ICU cuts an unknown name by syllable and puts a letter silenced by ``์`` (thanthakhat)
    on a piece of its own (``มา|เนา|ส์``): no line may start with it."""
    text = "เมืองหลวงคือมาเนาส์ ซึ่งมีประชากรมาก"
    lines = wrap(text, width)
    assert not any(THANTHAKHAT in clusters(x)[0] for x in lines if x), lines
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert all(terminal_width(x) <= width for x in lines if len(clusters(x)) > 1)


def test_a_word_longer_than_a_line_is_cut_between_clusters() -> None:
    word = "क्षिति" * 6  # no space to break at
    lines = wrap(word, 5)
    assert "".join(lines) == word
    assert all(terminal_width(x) <= 5 for x in lines)
    assert not any(starts_inside_a_cluster(x) for x in lines)
    assert clusters("क्षि") == ["क्षि"]  # a conjunct with its vowel sign: one cluster
    # the first line may be shorter than the others (a prefix stands before it)
    first, *rest = wrap("aaa bbb ccc ddd eee", 11, first_width=4)
    assert first == "aaa" and rest == ["bbb ccc ddd", "eee"]


def test_truncate_and_shorten_cut_between_clusters() -> None:
    for text in (HINDI, THAI, "蜂王是蜂群中唯一能够产卵的雌蜂"):
        for width in (5, 9, 16):
            cut = truncate(text, width)
            assert cut.endswith("…") and terminal_width(cut) <= width
            assert text.startswith(cut[:-1].rstrip())
            assert terminal_width(shorten(text, width)) <= width
    assert truncate("short", 10) == "short"


def test_rich_and_textual_measure_as_the_terminal_does() -> None:
    from rich.cells import cell_len
    from rich.text import Text

    measure_as_terminals()
    measure_as_terminals()  # twice is once
    assert cell_len("का") == 2 and cell_len("क्ष") == 2 and cell_len("ที่น้ำ") == 3
    assert cell_len(HINDI) == terminal_width(HINDI)
    assert Text(HINDI).cell_len == terminal_width(HINDI)


def test_hit_rows_fit_their_pane() -> None:
    from xlir_tui.tui.widgets import hit_text

    for lang, text in (("hi", HINDI), ("th", THAI)):
        hit = SimpleNamespace(rank=3, score=0.8234, lang=lang, text=text * 2)
        for width in (30, 36, 57):
            for max_lines in (None, 2):
                rows = hit_text(hit, width=width, max_lines=max_lines, relevant=True)
                rows = rows.plain.split("\n")
                assert all(terminal_width(x) <= width for x in rows), (lang, width)
                assert not any(starts_inside_a_cluster(x.strip()) for x in rows)
                if max_lines:
                    assert len(rows) == 2 and rows[-1].endswith("…")
