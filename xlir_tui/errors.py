"""User-facing errors.

Every problem a person can cause (a bad file, a wrong flag value, a missing model) is raised as an
:class:`XlirError` whose message is one line naming the file, field or value. The CLI prints it and
exits non-zero; the TUI shows it as a notification. Anything else is a bug and keeps its traceback.

The message is display text: a path or a value from data in it is made inert
(:func:`~xlir_tui.safe_text.inert`), so an error about a file named ``\\x1b]0;...`` cannot set the
terminal's title; :attr:`XlirError.path` keeps the path exact.
"""

from __future__ import annotations

from pathlib import Path

from .safe_text import inert


class XlirError(Exception):
    """A problem with the user's input or environment, explained in one line."""

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        self.path = str(path) if path is not None else None
        text = f"{path}: {message}" if path is not None else message
        super().__init__(" ".join(inert(text).split()))  # one line, always, and inert


class DataError(XlirError):
    """A collection file that cannot be read as the format it claims to be."""


class ModelError(XlirError):
    """A model that cannot be loaded or does not fit what it is used with."""


class IndexFormatError(XlirError):
    """An index folder that is incomplete, corrupt or built with another model."""
