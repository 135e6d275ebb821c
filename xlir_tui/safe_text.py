"""Text from data, made inert before it reaches a terminal.

Passages, questions, titles, language codes, file names and paths come from files a person did
not write, and a terminal acts on what it is sent: ``ESC [2J`` clears the screen, ``ESC ]0;...``
sets the window title, ``ESC ]8;;URL`` makes a hyperlink, a carriage return or a backspace lets
a passage overwrite what was printed before it. Every string from data goes through
:func:`inert` (or :func:`inert_text`, which also keeps it out of Rich and Textual markup)
before it is shown, in the command line's tables and lines, its progress lines and errors, and
in every widget of the explorer. ``--json`` output keeps the text exact: :func:`json_dumps`
writes what a terminal could act on as JSON escapes, so a parser reads the same string back.

What is changed, one code point for one code point (so offsets into the text stay valid, and
a sentence is still found in its paragraph):

- C0 controls (U+0000-U+001F, but tab and line breaks) and DEL: their visible symbols from
  the Control Pictures block (``ESC`` -> ``␛``, ``BEL`` -> ``␇``, ``NUL`` -> ``␀``). Without its
  ``ESC``, what followed it (``[2J``, ``]0;title``) is plain text, shown as it is; the person
  sees that the data holds a control sequence, and nothing acts on it.
- C1 controls (U+0080-U+009F; ``U+009B`` is CSI, ``U+009D`` OSC to a terminal that reads
  8-bit controls): U+FFFD, the replacement character. They do not occur in text (XQuAD-R's
  tr.json has two, from a wrong conversion) and have no visible symbols of their own.
- Bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): U+FFFD.
  A terminal that applies the bidi algorithm lets an unclosed override reverse the rest of
  its line, so a passage could change how the next column of a table, or a path, reads. The
  marks that only settle the direction of neutral characters (LRM U+200E, RLM U+200F, ALM
  U+061C) are kept: Arabic and Hebrew text uses them (MLQA-R and XQuAD-R hold them), and they
  act on no text beyond their own.
- Lone surrogates (U+D800-U+DFFF, from a JSON ``\\ud800`` escape or a file name that is not
  UTF-8): U+FFFD. They cannot be written as UTF-8, and printing one ends the program.
- Tab: a space. Line breaks (LF, CR, VT, FF, NEL, U+2028, U+2029): a space, or with
  ``multiline`` a line feed (CR a space, so that CR LF stays one line break) where a newline
  is meaningful (a paragraph shown whole).

Hand-written because neither Rich nor Textual does it: Rich's ``Text`` removes five C0
controls (BEL, BS, VT, FF, CR) and keeps ``ESC``; Textual's ``Content`` keeps them all.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.text import Text

__all__ = ["REPLACEMENT", "inert", "inert_text", "json_dumps", "markup_escape"]

REPLACEMENT = "\ufffd"
_LINE_BREAKS = "\n\x0b\x0c\r\x85\u2028\u2029"
_BIDI = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]


def _table(multiline: bool) -> dict[int, str]:
    table = {c: chr(0x2400 + c) for c in range(0x20)}  # ␀ ... ␟
    table[0x7F] = "\u2421"  # ␡
    table.update(dict.fromkeys(range(0x80, 0xA0), REPLACEMENT))
    table.update(dict.fromkeys(_BIDI, REPLACEMENT))
    table.update(dict.fromkeys(range(0xD800, 0xE000), REPLACEMENT))
    table[ord("\t")] = " "
    for ch in _LINE_BREAKS:
        table[ord(ch)] = "\n" if multiline and ch != "\r" else " "
    return table


_ONE_LINE = _table(multiline=False)
_MULTILINE = _table(multiline=True)
# every code point the tables change, found before translating (most text has none)
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]",
)
_UNSAFE_MULTILINE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]",
)


def inert(text: object, *, multiline: bool = False) -> str:
    """``text`` as a string a terminal shows and never acts on (see the module docstring).

    One code point for one: ``len(inert(s)) == len(s)``. ``multiline`` keeps line breaks as
    line feeds; otherwise every line break is a space.
    """
    s = text if isinstance(text, str) else str(text)
    if multiline:
        if _UNSAFE_MULTILINE.search(s) is None:
            return s
        return s.translate(_MULTILINE)
    if _UNSAFE.search(s) is None:
        return s
    return s.translate(_ONE_LINE)


def inert_text(text: object, style: str = "", *, multiline: bool = False) -> Text:
    """``text`` made inert as a Rich :class:`~rich.text.Text`: never parsed as markup (a
    passage that says ``[bold red]`` or ``[/]`` is shown as it is) and shown by Textual's
    widgets as it is. Rich's emoji codes (``:smile:``) stay text too."""
    from rich.text import Text

    return Text(inert(text, multiline=multiline), style=style)


def markup_escape(text: object) -> str:
    """``text`` made inert and escaped for Rich or Textual markup, for the rare place that
    takes only markup (prefer :func:`inert_text`, which is never parsed)."""
    from rich.markup import escape

    return escape(inert(text))


# what json.dumps(ensure_ascii=False) writes as it is, and a terminal could act on
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]")


def json_dumps(value: Any, **kwargs: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, ...)`` with every character a terminal could act
    on written as a ``\\uXXXX`` escape: the JSON reads back as exactly the same strings, and
    printed on a terminal it does nothing.

    ``json.dumps`` already escapes C0 controls; left as they are were DEL, the C1 controls
    (``U+009B`` is CSI to some terminals), bidi overrides, U+2028/U+2029 and lone surrogates
    (which cannot be written as UTF-8 at all). These occur only inside JSON strings, so
    replacing them in the output is exact.
    """
    out = json.dumps(value, ensure_ascii=False, **kwargs)
    if _JSON_UNSAFE.search(out) is None:
        return out
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", out)
