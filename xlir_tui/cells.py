"""Text in terminal columns: widths as terminals draw them, line breaks that keep syllables whole.

A terminal gives every character a number of columns. Rich (and Textual, which measures with
Rich) counts the spacing vowel signs of Devanagari, Bengali, Tamil and other Indic scripts
(Unicode category ``Mc``: ``ा``, ``ी``, ``ो``, ...) as zero columns, like the marks that sit on
their letter; terminals built on the C library's ``wcwidth`` (tmux, xterm, GNOME Terminal, the
Linux console) give each of them a column, since the sign stands beside its letter. A row of
Hindi measured by Rich is then drawn one column wider per sign: it ran past its pane's border,
over the neighbouring pane, and past a dialog's edge, where the terminal dropped characters.

Here a character's width is the terminal's (:func:`char_width`: Rich's table, but a spacing mark
takes a column), and :func:`measure_as_terminals` makes Rich and Textual measure the same way,
so what they pad and crop to a widget's width is what the terminal draws.

Line breaks come from ICU's line breaker (Unicode's line-breaking rules, UAX #14, with ICU's
dictionaries for scripts written without spaces): Thai breaks between words, not inside a
syllable (``อา|ศัย`` was cut after the consonant, before its vowel); a word too long for a line
is cut between grapheme clusters (ICU's character breaker), never between a letter and its
marks (``का``, ``क्षि``, ``ที่``). ICU through :mod:`icu4py`, a maintained binding that ships ICU
with its wheels; neither Rich nor Textual segments text this way.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Any

__all__ = [
    "char_width",
    "clusters",
    "measure_as_terminals",
    "text_width",
    "truncate",
    "wrap",
]

ELLIPSIS = "…"


@lru_cache(maxsize=8192)
def char_width(ch: str) -> int:
    """Columns a terminal gives one code point: Rich's measure, but one for a spacing mark."""
    from rich.cells import get_character_cell_size

    if unicodedata.category(ch) == "Mc":
        return 1
    return get_character_cell_size(ch)


def text_width(text: str) -> int:
    """Columns a terminal gives ``text`` (one line)."""
    if text.isascii():
        return sum(1 for ch in text if " " <= ch <= "~")
    return sum(char_width(ch) for ch in text)


def clusters(text: str) -> list[str]:
    """``text`` as grapheme clusters (a letter with its marks, a Devanagari conjunct, an
    emoji sequence): what a line may be cut between."""
    if not text:
        return []
    if text.isascii():
        return list(text)
    from icu4py.breakers import CharacterBreaker

    return list(CharacterBreaker(text, "en"))


THANTHAKHAT = "\u0e4c"
"""Thai's mark of a silent letter (the ``์`` of ``มาเนาส์``, Manaus)."""


def _segments(text: str) -> list[str]:
    """``text`` cut at every place a line may break, each piece with its trailing spaces.

    ICU's breaks, with one correction: a piece that starts with a letter silenced by
    THANTHAKHAT stays with the piece before it. ICU's dictionary does not know most
    transliterated names and cuts them by syllable, and it cuts such a silent letter off as a
    piece of its own (``มา|เนา|ส์``); a line starting with it reads as a broken syllable, since
    the silent letter belongs to the one before."""
    if not text:
        return []
    from icu4py.breakers import LineBreaker

    pieces: list[str] = []
    for piece in LineBreaker(text, "en"):
        first = clusters(piece)[:1]
        if pieces and first and THANTHAKHAT in first[0] and not pieces[-1].endswith(" "):
            pieces[-1] += piece
        else:
            pieces.append(piece)
    return pieces


def _fold(word: str, width: int) -> list[str]:
    """A word wider than ``width`` in pieces of at most ``width`` columns, cut between
    grapheme clusters (a cluster wider than ``width`` stands alone)."""
    pieces: list[str] = []
    piece, used = "", 0
    for cluster in clusters(word):
        w = text_width(cluster)
        if piece and used + w > width:
            pieces.append(piece)
            piece, used = "", 0
        piece += cluster
        used += w
    if piece:
        pieces.append(piece)
    return pieces


def wrap(text: str, width: int, first_width: int | None = None) -> list[str]:
    """``text`` (one paragraph) in lines of at most ``width`` columns (the first of at most
    ``first_width``), broken where Unicode's rules allow (spaces, after a hyphen, between Thai
    or Chinese words), a word longer than a line cut between grapheme clusters. Spaces at the
    ends of lines are dropped."""
    width = max(width, 1)
    room = max(first_width if first_width is not None else width, 1)
    lines: list[str] = []
    line = ""
    for segment in _segments(text):
        word = segment.rstrip(" ")
        if text_width(line + word) <= room:
            line += segment
            continue
        if line.strip():
            lines.append(line.rstrip(" "))
            line, room = "", width
        if text_width(word) <= room:
            line = segment
            continue
        pieces = _fold(word, room)
        lines.append(pieces[0])
        room = width
        rest = "".join(pieces[1:])
        pieces = _fold(rest, width) if rest else []
        lines += pieces[:-1]
        line = (pieces[-1] if pieces else "") + segment[len(word) :]
    if line.strip() or not lines:
        lines.append(line.rstrip(" "))
    return lines


def truncate(text: str, width: int, ellipsis: str = ELLIPSIS) -> str:
    """``text`` in at most ``width`` columns: whole if it fits, else cut between grapheme
    clusters and ended by ``ellipsis``."""
    if text_width(text) <= width:
        return text
    room = max(width - text_width(ellipsis), 0)
    out, used = "", 0
    for cluster in clusters(text):
        w = text_width(cluster)
        if used + w > room:
            break
        out += cluster
        used += w
    return out.rstrip(" ") + ellipsis if width > 0 else ""


# ------------------------------------------------------------------------- Rich and Textual

_PATCHED: dict[int, Any] = {}


def _with_spacing_marks(table: Any) -> Any:
    """Rich's cell table with every spacing mark taken out of its zero-width ranges (a code
    point the table does not list is one column wide)."""
    widths: list[tuple[int, int, int]] = []
    for start, end, width in table.widths:
        if width != 0:
            widths.append((start, end, width))
            continue
        run_start = start
        for cp in range(start, end + 1):
            if unicodedata.category(chr(cp)) == "Mc":
                if run_start < cp:
                    widths.append((run_start, cp - 1, 0))
                run_start = cp + 1
        if run_start <= end:
            widths.append((run_start, end, 0))
    return table._replace(widths=widths)


def measure_as_terminals() -> None:
    """Make Rich, and Textual through it, give a spacing mark the column a terminal gives it.

    Rich has no setting for it: its ``rich.cells`` looks its table up through the module's
    ``load_cell_table`` on every measure, which is replaced here by one that returns Rich's own
    table less the spacing marks' zero widths. Idempotent; the caches of widths already measured
    are emptied.
    """
    import rich.cells

    if getattr(rich.cells.load_cell_table, "_xlir_tui", False):
        return
    load = rich.cells.load_cell_table

    def load_cell_table(unicode_version: str = "auto") -> Any:
        table = load(unicode_version)
        patched = _PATCHED.get(id(table))
        if patched is None:
            patched = _PATCHED[id(table)] = (table, _with_spacing_marks(table))
        return patched[1]

    load_cell_table._xlir_tui = True  # type: ignore[attr-defined]
    rich.cells.load_cell_table = load_cell_table
    rich.cells.get_character_cell_size.cache_clear()
    rich.cells.cached_cell_len.cache_clear()
    char_width.cache_clear()
