"""One colour per language, the same everywhere (CLI tables, reports, the explorer).

Colours are assigned from a fixed palette by a stable hash of the code, so any language code
gets one, and a language keeps its colour across runs and collections.
"""

from __future__ import annotations

import zlib

PALETTE = (
    "#e6194b",
    "#3cb44b",
    "#ffe119",
    "#4363d8",
    "#f58231",
    "#911eb4",
    "#42d4f4",
    "#f032e6",
    "#bfef45",
    "#fabed4",
    "#469990",
    "#dcbeff",
    "#9a6324",
    "#fffac8",
    "#800000",
    "#aaffc3",
)
# Common codes get fixed, well-separated colours; others fall back to a hash of the code.
_FIXED = {
    "en": 3,
    "de": 4,
    "es": 1,
    "fr": 9,
    "ru": 0,
    "el": 6,
    "ar": 10,
    "hi": 5,
    "zh": 2,
    "th": 7,
    "tr": 8,
    "vi": 11,
    "ja": 12,
    "ko": 13,
    "pt": 15,
    "it": 14,
}


def lang_color(lang: str) -> str:
    """The hex colour of a language code."""
    i = _FIXED.get(lang.lower().split("-")[0].split("_")[0])
    if i is None:
        i = zlib.crc32(lang.encode("utf-8")) % len(PALETTE)
    return PALETTE[i]


def lang_style(lang: str) -> str:
    """A rich style for a language tag: bold, in the language's colour."""
    return f"bold {lang_color(lang)}"
