"""Sentence segmentation for paragraphs that come without sentence breaks.

Plain SQuAD files carry only a paragraph and an answer offset; the LAReQA task needs sentences.
The segmenter returns character spans ``[start, end)`` into the original text, so answer offsets
keep their meaning. It handles:

- Latin, Cyrillic and Greek style full stops, question and exclamation marks followed by space,
  without splitting after common abbreviations, initials or inside numbers (``3.5``);
- terminators that need no following space: ``。！？`` (Chinese, Japanese), ``।`` and ``॥``
  (Devanagari), ``؟`` and ``؛`` (Arabic), ``።`` (Ethiopic), ``။`` (Myanmar);
- Thai, Lao and Khmer, which mark sentence ends with a space between two letters of the script
  instead of punctuation.
"""

from __future__ import annotations

import re

# Terminators after which a sentence ends even with no space (scripts that do not use spaces, or
# whose marks are unambiguous).
_HARD_TERMINATORS = "。！？｡।॥؟؛።။"
# Terminators that end a sentence only when followed by whitespace and a plausible sentence start.
_SOFT_TERMINATORS = ".!?;"
_CLOSERS = "\"'”’»)]}」』）】"
_SPACE_SCRIPTS = re.compile(r"[\u0E00-\u0E7F\u0E80-\u0EFF\u1780-\u17FF]")  # Thai, Lao, Khmer
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "cf",
        "al",
        "no",
        "nos",
        "fig",
        "figs",
        "vol",
        "ca",
        "approx",
        "inc",
        "ltd",
        "co",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "u.s",
        "u.k",
        "bzw",
        "usw",
        "z.b",
        "d.h",
        "ggf",
        "vgl",
        "nr",
        "sr",
        "sra",
        "p.ej",
        "etc.",
        "av.",
        "mme",
        "mlle",
        "m",
        "г",
        "ул",
        "т.е",
        "т.д",
        "т.п",
        "др",
        "им",
    ]
)


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the full stop at ``dot`` most likely ends an abbreviation or an initial."""
    start = dot
    while start > 0 and not text[start - 1].isspace() and text[start - 1] not in "([{\"'":
        start -= 1
    word = text[start:dot].lower()
    if not word:
        return False
    if len(word) == 1 and word.isalpha():
        return True  # an initial: "J. S. Bach"
    return word in _ABBREVIATIONS or word.rstrip(".") in _ABBREVIATIONS


def _soft_break(text: str, i: int) -> int | None:
    """If a sentence ends at the soft terminator ``text[i]``, return the end offset, else None."""
    n = len(text)
    j = i + 1
    while j < n and text[j] in _SOFT_TERMINATORS:
        j += 1
    while j < n and text[j] in _CLOSERS:
        j += 1
    if j >= n:
        return j
    if not text[j].isspace():
        return None
    k = j
    while k < n and text[k].isspace():
        k += 1
    if k >= n:
        return j
    nxt = text[k]
    if text[i] == "." and _is_abbreviation(text, i):
        return None
    if text[i] == ";":
        return None  # a Latin semicolon joins clauses
    if text[i] == "." and i > 0 and text[i - 1].isdigit() and nxt.isdigit():
        return None
    if nxt.islower():
        return None  # "approx. three", a lower-case continuation
    return j


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Split ``text`` into sentences; return ``[start, end)`` spans without outer whitespace.

    The spans cover every non-space character of ``text`` exactly once, so every answer offset that
    falls on a character of the paragraph (not on the space between two sentences) lies in exactly
    one span.
    """
    cuts: list[int] = []
    n = len(text)
    i = 0
    while i < n:
        ch = text[i]
        if ch in _HARD_TERMINATORS:
            j = i + 1
            while j < n and (text[j] in _HARD_TERMINATORS or text[j] in _CLOSERS):
                j += 1
            cuts.append(j)
            i = j
            continue
        if ch in _SOFT_TERMINATORS:
            end = _soft_break(text, i)
            if end is not None:
                cuts.append(end)
                i = end
                continue
        elif ch.isspace() and i > 0 and _SPACE_SCRIPTS.match(text[i - 1]):
            k = i
            while k < n and text[k].isspace():
                k += 1
            if k < n and _SPACE_SCRIPTS.match(text[k]):
                cuts.append(i)
                i = k
                continue
        i += 1
    spans: list[tuple[int, int]] = []
    start = 0
    for cut in [*cuts, n]:
        s, e = start, cut
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            spans.append((s, e))
        start = cut
    return spans
