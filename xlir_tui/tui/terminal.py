"""The size of the terminal the explorer draws on, whatever its streams are redirected to."""

from __future__ import annotations

import os
from typing import Any

from textual.driver import Driver


def terminal_size(stream: Any = None) -> tuple[int, int] | None:
    """The size of the terminal the explorer draws on: ``COLUMNS`` and ``LINES`` when both
    are set (as :func:`shutil.get_terminal_size` reads them), else the first of ``stream``
    (the driver's output, stderr), stdin, stdout and ``/dev/tty`` that is a terminal; None
    when none is.

    Textual asks :func:`shutil.get_terminal_size`, which looks at stdout only: with stdout
    redirected (``xlir-tui explore > log``) it drew at 80x24 in a larger terminal.
    """
    try:
        columns, lines = int(os.environ["COLUMNS"]), int(os.environ["LINES"])
        if columns > 0 and lines > 0:
            return columns, lines
    except (KeyError, ValueError):
        pass
    fds: list[int] = []
    try:
        if stream is not None:
            fds.append(stream.fileno())
    except (AttributeError, ValueError, OSError):
        pass
    fds += [0, 1]
    for fd in fds:
        try:
            size = os.get_terminal_size(fd)
        except (OSError, ValueError):
            continue
        if size.columns > 0 and size.lines > 0:
            return size.columns, size.lines
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | getattr(os, "O_NOCTTY", 0))
    except OSError:
        return None
    try:
        size = os.get_terminal_size(fd)
        return (size.columns, size.lines) if size.columns > 0 and size.lines > 0 else None
    except OSError:
        return None
    finally:
        os.close(fd)


def sized_driver(base: type[Driver]) -> type[Driver]:
    """``base`` (Textual's driver for this platform) measuring the terminal it draws on with
    :func:`terminal_size`; ``base`` itself when it measures no terminal."""
    if not hasattr(base, "_get_terminal_size"):
        return base

    class SizedDriver(base):  # type: ignore[valid-type,misc]
        def _get_terminal_size(self) -> tuple[int, int]:
            size = terminal_size(getattr(self, "_file", None))
            return size if size is not None else super()._get_terminal_size()

    SizedDriver.__name__ = SizedDriver.__qualname__ = f"Sized{base.__name__}"
    return SizedDriver
