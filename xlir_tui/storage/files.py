"""Where xlir-tui keeps its caches, and how it writes outputs without leaving half of one behind.

Every output folder is written by :func:`atomic_dir` and every small file by
:func:`atomic_write_text`: the data goes to a hidden temporary sibling named after the target,
its owner's process id and host (``.idx.tmp-4242@node1@1f2e3d4c``), which becomes the target by a
rename only once complete. What can go wrong around that is handled here once, for every writer:

- a target that cannot be written (read-only folder, a path under a regular file, a full disk) is
  one line naming the path and the reason, up front with :func:`check_output` or while writing;
- every output folder holds a marker (:data:`MARKER_NAME`: the tool, the command, a random
  id), and ``overwrite`` replaces only a folder whose marker is valid (:func:`ownership`), never
  a person's file or folder, never through a symbolic link; an output is never written into or
  over an input of the same command (:func:`check_apart`);
- Ctrl-C, SIGTERM and SIGHUP (a closed terminal) remove the temporary; a process killed outright
  leaves one that the next writer of the same target removes, once the owner is known dead;
- outputs get the user's umask, like any file the user makes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from ..errors import XlirError
from ..safe_text import inert, json_dumps

__all__ = [
    "MARKER_NAME",
    "Ownership",
    "Terminated",
    "apply_umask",
    "atomic_dir",
    "atomic_write_text",
    "cache_root",
    "check_apart",
    "check_free_space",
    "check_output",
    "check_replaceable",
    "check_writable",
    "file_digest",
    "human_bytes",
    "own_output_kind",
    "ownership",
    "remove_own_output",
    "remove_stale_temporaries",
    "signal_guard",
    "temp_name",
    "text_digest",
    "write_json",
    "write_marker",
]


def cache_root() -> Path:
    """The cache folder: ``$XLIR_TUI_CACHE``, else ``$XDG_CACHE_HOME/xlir-tui``, else ``~/.cache``.

    One environment variable moves every cache (collections, embeddings, indexes), which is what
    tests and shared machines need.
    """
    explicit = os.environ.get("XLIR_TUI_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "xlir-tui"


def mark_used(folder: Path) -> None:
    """Record that ``folder`` (a cache entry) is being used now, so pruning by age keeps it.

    The folder's modification time is the record: one ``utime``, no file to write, nothing to
    go wrong on a read-only cache (failures are ignored: pruning then sees an older time).
    """
    with contextlib.suppress(OSError):
        os.utime(folder)


def file_digest(path: Path, algorithm: str = "blake2b") -> str:
    """Content hash of a file, streamed so large data files never sit in memory twice."""
    h = hashlib.new(algorithm)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def text_digest(*parts: str) -> str:
    """A short stable hash of some strings (cache keys, fingerprints)."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))  # a file name that is not UTF-8
        h.update(b"\x00")
    return h.hexdigest()


def human_bytes(n: float) -> str:
    """``1536`` -> ``1.5 KB``: sizes in messages a person reads."""
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------------------------
# Temporaries that name their owner


def _host() -> str:
    """This machine's name as it may appear in a file name (no ``@``, no separators)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname())[:64] or "host"


def _temp_prefix(name: str, kind: str = "tmp") -> str:
    return f".{name}.{kind}-"


def temp_name(target: Path, kind: str = "tmp") -> Path:
    """A new hidden name beside ``target`` that names this process and host as its owner
    (``.NAME.tmp-PID@HOST@RANDOM``), so a later writer of ``target`` removes it once the owner
    is known dead (:func:`remove_stale_temporaries`). Only the name: nothing is created."""
    owner = f"{os.getpid()}@{_host()}@{secrets.token_hex(4)}"
    return target.parent / f"{_temp_prefix(target.name, kind)}{owner}"


def _make_temp(parent: Path, name: str, *, directory: bool, kind: str = "tmp") -> Path:
    """Create a new temporary sibling of ``parent / name`` named after this process and host.

    Hand-written rather than ``tempfile.mkdtemp``/``mkstemp`` for two reasons: those create mode
    0700/0600 whatever the umask (an output must get the user's umask, as ``mkdir`` gives), and
    the owner in the name is what lets a later run tell a dead process's leftover from a live
    writer's work without a file inside the folder (index folders list every file they hold).
    """
    for _ in range(100):
        path = temp_name(parent / name, kind)
        try:
            if directory:
                os.mkdir(path)  # mode 0o777 less the umask
            else:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {parent}")


def _umask() -> int:
    """The process's umask, read without setting it where the system tells it (setting it, even
    for an instant, would change the mode of files other threads create meanwhile)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # pragma: no cover - not Linux
    os.umask(mask)
    return mask


def apply_umask(folder: Path) -> None:
    """Give every file under ``folder`` the mode a new file gets from the user's umask.

    Libraries that write a model (transformers' ``save_pretrained``) go through ``mkstemp``,
    whose files are 0600 whatever the umask; an output must read like any file the user makes.
    """
    mode = 0o666 & ~_umask()
    for path in Path(folder).rglob("*"):
        if path.is_file() and not path.is_symlink() and (path.stat().st_mode & 0o777) != mode:
            path.chmod(mode)


def _owner(entry: str, name: str) -> tuple[str, int, str] | None:
    """``(kind, pid, host)`` when ``entry`` is a temporary (``tmp``) or a replaced output
    (``old``) of the target ``name``; None for anything else, older unnamed temporaries included.
    """
    for kind in ("tmp", "old"):
        prefix = _temp_prefix(name, kind)
        if entry.startswith(prefix):
            parts = entry[len(prefix) :].split("@")
            if len(parts) == 3 and parts[0].isdigit():
                return kind, int(parts[0]), parts[1]
    return None


def _alive(pid: int, host: str) -> bool:
    """Whether the process that owns a temporary may still be writing it.

    Only a process of this host can be asked; on another host (a shared folder) and where
    ``os.kill(pid, 0)`` is no probe (Windows), the answer is yes: a live writer's work is never
    removed, at worst a leftover stays.
    """
    if host != _host() or os.name == "nt" or pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists but belongs to someone else
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Remove what dead processes left beside ``target``; return what was removed.

    A temporary (``.NAME.tmp-PID@HOST@...``) of a process that no longer runs is removed. A
    replaced output (``.NAME.old-PID@HOST@...``, kept only for the instant of the swap) is put back
    as ``target`` when the process died between the two renames, and removed otherwise.
    Temporaries of live processes, of other hosts, and unnamed ones are kept.
    """
    target = Path(target)
    parent = target.parent
    removed: list[Path] = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        owner = _owner(entry.name, target.name)
        if owner is None or _alive(owner[1], owner[2]):
            continue
        if owner[0] == "old" and not os.path.lexists(target):
            with contextlib.suppress(OSError):
                entry.rename(target)
            continue  # never removed while it is the only copy
        _remove(entry)
        removed.append(entry)
    return removed


# --------------------------------------------------------------------------------------------
# SIGTERM and SIGHUP while an output is being written


class Terminated(SystemExit):
    """SIGTERM or SIGHUP inside :func:`atomic_dir` in the main thread.

    Raised by the signal handler so the stack unwinds as on Ctrl-C (every temporary on the way is
    removed, ``finally`` blocks run); a ``SystemExit`` so nothing that catches ``Exception`` holds
    it and the process ends with the shell's status for the signal (143 for SIGTERM, 129 for
    SIGHUP) without a traceback.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum
        self.removed: list[Path] = []


_SIGNALS = tuple(
    s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None
)
_guard_lock = threading.Lock()
_guard_depth = 0
_guard_previous: dict[int, Any] = {}
_guard_fired = False


def _on_signal(signum: int, frame: FrameType | None) -> None:
    global _guard_fired
    if _guard_fired:
        return  # already unwinding: let the removal of temporaries finish
    _guard_fired = True
    raise Terminated(signum)


def _say(line: str) -> None:
    """One line on stderr; a closed terminal (SIGHUP) must not turn it into a second error."""
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(inert(line) + "\n")  # it names paths
        sys.stderr.flush()


@contextlib.contextmanager
def signal_guard() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Terminated` while the main thread writes an output.

    Installed only in the main thread (the only one Python delivers signals to), only over the
    default action (an ignored SIGHUP under ``nohup`` stays ignored, another program's handler
    stays in charge), and put back when the outermost writer ends. Ctrl-C keeps its own
    behaviour (``KeyboardInterrupt``). The outermost writer prints the one line saying what was
    removed.
    """
    global _guard_depth, _guard_fired
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with _guard_lock:
        _guard_depth += 1
        if _guard_depth == 1:
            _guard_fired = False
            _guard_previous.clear()
            for s in _SIGNALS:
                with contextlib.suppress(ValueError, OSError):
                    if signal.getsignal(s) == signal.SIG_DFL:
                        _guard_previous[s] = signal.signal(s, _on_signal)
    try:
        yield
    except Terminated as e:
        if _guard_depth == 1:
            name = signal.Signals(e.signum).name
            what = (
                "; removed the unfinished " + ", ".join(str(p) for p in e.removed)
                if e.removed
                else ""
            )
            _say(f"xlir-tui: terminated by {name}{what}")
        raise
    finally:
        with _guard_lock:
            _guard_depth -= 1
            if _guard_depth == 0:
                for s, previous in _guard_previous.items():
                    with contextlib.suppress(ValueError, OSError):
                        signal.signal(s, previous)
                _guard_previous.clear()


# --------------------------------------------------------------------------------------------
# What may be replaced, and checks before slow work


MARKER_NAME = ".xlir-tui-output"
"""The file by which a folder is known as this tool's output (see :func:`ownership`).

Not ``.json``: a collection folder's loader reads every ``.json`` file in it, and the folders of
``data get`` and ``translate`` are collections."""
MARKER_TOOL = "xlir-tui"
MARKER_COMMANDS = ("index", "bias-report", "train", "translate", "data get", "explore", "cache")
"""What a marker may name as the command that wrote the folder (``explore``: an exported
session; ``cache``: the cache folder's entries, replaced whatever they hold, see
:func:`atomic_dir`)."""
_MARKER_MAX_BYTES = 4096
_CREATED = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}([+-]\d{4}|Z)?")


def new_marker(command: str) -> dict[str, str]:
    """The marker of an output that ``command`` writes now: the tool, the command, a random id
    (two outputs of the same command are never the same output) and the time."""
    if command not in MARKER_COMMANDS:
        raise ValueError(f"unknown command {command!r} for an output marker")
    from .. import __version__

    return {
        "tool": MARKER_TOOL,
        "command": command,
        "id": secrets.token_hex(16),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "version": __version__,
    }


def write_marker(folder: Path, command: str) -> None:
    """Mark ``folder`` as an output of ``command`` (atomically: a marker is whole or absent)."""
    write_json(Path(folder) / MARKER_NAME, new_marker(command))


def marker_problem(data: Any) -> str | None:
    """Why ``data`` (a parsed marker) is not one this tool writes; None when it is.

    Every field is checked for its type and form, so that only a marker written by
    :func:`write_marker` lets ``--overwrite`` delete a folder. Fields a later release adds are
    allowed: its outputs stay replaceable.
    """
    if not isinstance(data, dict):
        return "not a JSON object"
    for key in ("tool", "command", "id", "created", "version"):
        if not isinstance(data.get(key), str):
            return f"no text field {key!r}"
    if data["tool"] != MARKER_TOOL:
        return f"tool is {data['tool']!r}, not {MARKER_TOOL}"
    if data["command"] not in MARKER_COMMANDS:
        return f"unknown command {data['command']!r}"
    if not re.fullmatch(r"[0-9a-f]{32}", data["id"]):
        return "id is not 32 hex digits"
    if not _CREATED.fullmatch(data["created"]):
        return "created is not a time"
    return None


@dataclass(frozen=True)
class Ownership:
    """What is at an output path, as far as replacing it goes.

    ``state``: ``absent``; ``link`` (a symbolic link, never written through nor replaced);
    ``file``; ``empty`` (an empty folder: nothing is lost by replacing it); ``ours`` (a folder
    with a valid marker: ``command`` wrote it); ``foreign`` (any other folder, ``why`` says what
    its marker lacks).
    """

    state: str
    why: str = ""
    command: str | None = None


def ownership(path: Path) -> Ownership:
    """Whether ``path`` is an output of this tool: a folder holding a valid marker
    (:data:`MARKER_NAME`, a regular file, checked by :func:`marker_problem`).

    Never by the presence of some other file name: a person's folder that happens to hold an
    ``events.jsonl`` or a ``manifest.json`` is theirs. Folders written before outputs carried a
    marker are not recognised either; they are refused, and a person removes them.
    """
    path = Path(path)
    if not os.path.lexists(path):
        return Ownership("absent")
    if path.is_symlink():
        return Ownership("link")
    if not path.is_dir():
        return Ownership("file")
    try:
        empty = not any(os.scandir(path))
    except OSError as e:
        return Ownership("foreign", f"it cannot be read: {e.strerror or e}")
    if empty:
        return Ownership("empty")
    marker = path / MARKER_NAME
    try:
        info = marker.lstat()
    except FileNotFoundError:
        return Ownership("foreign", f"it holds no {MARKER_NAME} marker")
    except OSError as e:
        return Ownership("foreign", f"its {MARKER_NAME} cannot be read: {e.strerror or e}")
    if not stat.S_ISREG(info.st_mode) or info.st_size > _MARKER_MAX_BYTES:
        return Ownership("foreign", f"its {MARKER_NAME} is not a marker xlir-tui writes")
    try:
        data = json.loads(marker.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return Ownership("foreign", f"its {MARKER_NAME} is not valid JSON")
    problem = marker_problem(data)
    if problem is not None:
        return Ownership("foreign", f"its {MARKER_NAME} is not valid: {problem}")
    return Ownership("ours", command=data["command"])


def own_output_kind(path: Path) -> str | None:
    """The command that wrote ``path`` (by its marker), ``"empty folder"``, or None if the folder
    is not this tool's (absent, a file, a link, a folder without a valid marker)."""
    found = ownership(path)
    if found.state == "empty":
        return "empty folder"
    return found.command if found.state == "ours" else None


def check_replaceable(
    target: Path,
    overwrite: bool,
    *,
    empty_ok: bool = False,
    hint: str = "pass --overwrite to replace it",
) -> Ownership:
    """The one rule for an existing output: only this tool's outputs, only with ``overwrite``.

    A link, a file and a folder without a valid marker are refused whatever ``overwrite`` says,
    in one line saying why. An empty folder is used as it is with ``empty_ok`` (``train``), else
    replaced like an output. Returns what is there.
    """
    target = Path(target)
    found = ownership(target)
    if found.state == "link":
        try:
            where = f" to {os.readlink(target)}"
        except OSError:
            where = ""
        raise XlirError(
            f"is a symbolic link{where}; xlir-tui neither writes through a link nor replaces "
            "one (give the folder itself, or another name)",
            path=target,
        )
    if found.state == "file":
        raise XlirError(
            "exists and is a file that xlir-tui did not write; it is not replaced, even with "
            "--overwrite (choose another name, or remove it yourself)",
            path=target,
        )
    if found.state == "foreign":
        raise XlirError(
            f"exists and is a folder that xlir-tui did not write ({found.why}); it is not "
            "replaced, even with --overwrite: choose another name, or remove it yourself "
            "(a folder written before xlir-tui marked its outputs has no marker either)",
            path=target,
        )
    exists = found.state == "ours" or (found.state == "empty" and not empty_ok)
    if exists and not overwrite:
        raise XlirError(f"output folder exists ({hint})", path=target)
    return found


def remove_own_output(target: Path) -> None:
    """Delete an output folder this tool wrote, checked again just before (never a link, never a
    folder without a valid marker).

    It is first renamed to a temporary sibling named after this process, then deleted: an
    interruption half-way leaves no half-deleted folder under the output's name (whose marker
    may already be gone), only a temporary the next writer removes.
    """
    target = Path(target)
    found = check_replaceable(target, True)
    if found.state == "absent":
        return
    parent = target.parent if str(target.parent) else Path(".")
    doomed = parent / (
        f"{_temp_prefix(target.name, 'tmp')}{os.getpid()}@{_host()}@{secrets.token_hex(4)}"
    )
    try:
        target.rename(doomed)
    except OSError as e:
        raise XlirError(f"cannot replace it: {e.strerror or e}", path=target) from None
    _remove(doomed)


def check_apart(out: Path, inputs: Iterable[str | Path | None], flag: str = "--out") -> None:
    """Refuse an output that is one of the command's inputs, lies inside one, or holds one.

    Paths are compared after following links, so a link cannot hide the overlap. Writing there
    would replace the input (a report onto the collection it reads), or put the output where the
    next read of the input finds it.
    """
    real_out = Path(os.path.realpath(out))
    for given in inputs:
        if given is None or not os.path.lexists(given):
            continue
        real_in = Path(os.path.realpath(given))
        if real_out == real_in:
            what = "is"
        elif real_in.is_relative_to(real_out):
            what = "holds"
        elif real_out.is_relative_to(real_in):
            what = "lies inside"
        else:
            continue
        raise XlirError(
            f"{what} {given}, an input of this command; an output is never written into or over "
            f"an input (choose another {flag})",
            path=out,
        )


def _existing(path: Path) -> Path | None:
    """The nearest ancestor of ``path`` (itself included) that exists."""
    for p in (path, *path.parents):
        if os.path.lexists(p):
            return p
    return None


def _make_parent(target: Path) -> None:
    """Create the folder ``target`` goes in; a file in the way is named in the one line."""
    base = _existing(target.absolute().parent)
    if base is not None and not base.is_dir():
        raise XlirError(f"cannot write here: {base} is a file, not a folder", path=target)
    try:
        target.absolute().parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise XlirError(f"cannot create its folder: {e.strerror or e}", path=target) from None


def check_writable(target: Path) -> None:
    """Raise a one-line error unless an output can be written at ``target``.

    Creates and removes a probe folder where the output's temporary will go (the target's
    parent, or its nearest existing ancestor when the parent is still to be made), so a
    read-only folder, a read-only file system or a path under a regular file is reported before
    any slow work rather than after it.
    """
    target = Path(target).absolute()
    base = _existing(target.parent)
    if base is None:
        raise XlirError("no existing folder above this path", path=target)
    if not base.is_dir():
        raise XlirError(f"cannot write here: {base} is a file, not a folder", path=target)
    try:
        probe = _make_temp(base, target.name, directory=True)
        probe.rmdir()
    except OSError as e:
        raise XlirError(f"cannot write here: {e.strerror or e}", path=target) from None


def check_free_space(target: Path, need: int) -> None:
    """Raise a one-line error when ``need`` bytes (an estimate) do not fit where ``target`` goes.

    The old output stays until the new one is complete, so all of ``need`` must be free.
    """
    base = _existing(Path(target).absolute().parent)
    if base is None:
        return
    try:
        free = shutil.disk_usage(base).free
    except OSError:
        return
    if need > free:
        raise XlirError(
            f"not enough free space: the output needs about {human_bytes(need)}, "
            f"{human_bytes(free)} is free on {base}",
            path=target,
        )


def check_output(
    target: Path,
    *,
    overwrite: bool = False,
    need: int | None = None,
    inputs: Iterable[str | Path | None] = (),
    flag: str = "--out",
) -> None:
    """Every check of an output folder that can run before the slow work that produces it.

    Not one of the command's ``inputs`` nor inside or around one (:func:`check_apart`); the
    existing-target rule of :func:`atomic_dir` (only this tool's outputs, only with
    ``overwrite``); :func:`check_writable`; and :func:`check_free_space` when an estimate
    ``need`` (bytes) is given. Leftovers of dead writers are removed first, as a write would.
    """
    target = Path(target)
    check_apart(target, inputs, flag)
    remove_stale_temporaries(target)
    check_replaceable(target, overwrite)
    check_writable(target)
    if need is not None:
        check_free_space(target, need)


# --------------------------------------------------------------------------------------------
# Writing


_OS_ERROR_CODE = re.compile(r"\(os error (\d+)\)")


def _os_error(e: BaseException) -> OSError | None:
    """``e`` as an OSError: itself, or an error of a library written in Rust (polars' parquet
    writer raises ``ComputeError: ... No space left on device (os error 28)``)."""
    if isinstance(e, OSError):
        return e
    if isinstance(e, XlirError):
        return None  # already the user's one line
    match = _OS_ERROR_CODE.search(str(e)) if isinstance(e, Exception) else None
    if match is None:
        return None
    code = int(match.group(1))
    return OSError(code, os.strerror(code))


def _write_error(e: OSError, target: Path, tmp: Path | None) -> XlirError:
    """An OSError while an output is written, as one line naming the output's path."""
    reason = e.strerror or str(e)
    filename = e.filename
    if filename is None:
        return XlirError(f"cannot write: {reason}", path=target)
    file = Path(os.fsdecode(filename))
    if tmp is not None:
        with contextlib.suppress(ValueError):
            inside = file.relative_to(tmp)
            shown = target / inside if str(inside) != "." else target
            return XlirError(f"cannot write: {reason}", path=shown)
    if file == target or file.parent == target.parent:
        return XlirError(f"cannot write: {reason}", path=target)
    return XlirError(reason, path=file)


@contextlib.contextmanager
def atomic_dir(
    target: Path, *, command: str, overwrite: bool = False, ours: bool = False
) -> Iterator[Path]:
    """Yield a temporary sibling folder that becomes ``target`` only if the block succeeds.

    A crash, Ctrl-C, SIGTERM or SIGHUP leaves the old ``target`` (or nothing) in place, never a
    half-written one. The folder holds the marker of an output of ``command``
    (:func:`write_marker`) from the start. An existing ``target`` is refused before the block
    runs unless ``overwrite`` is given and it is an output of this tool (:func:`ownership`);
    with ``ours`` the place itself is this tool's (an entry of the cache folder named by a hash,
    a checkpoint inside a training run) and whatever is there is replaced, a link by unlinking
    it. Any OSError while writing is a one-line :class:`XlirError` naming the path.
    """
    target = Path(target)
    parent = target.parent if str(target.parent) else Path(".")

    def check() -> None:
        if not ours:
            check_replaceable(target, overwrite)

    with signal_guard():
        remove_stale_temporaries(target)
        check()
        _make_parent(target)
        tmp: Path | None = None
        old: Path | None = None
        placed = False
        try:
            try:
                tmp = _make_temp(parent, target.name, directory=True)
                write_marker(tmp, command)
                yield tmp
                check()  # something may have appeared meanwhile
                if os.path.lexists(target):
                    old = temp_name(parent / target.name, "old")
                    target.rename(old)
                tmp.rename(target)
                placed = True
            except Exception as e:
                error = _os_error(e)
                if error is None:
                    raise
                raise _write_error(error, target, tmp) from None
            if old is not None:
                _remove(old)
        except BaseException as e:
            if tmp is not None and not placed and tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
                if isinstance(e, Terminated):
                    e.removed.append(tmp)
            if old is not None and os.path.lexists(old) and not os.path.lexists(target):
                with contextlib.suppress(OSError):
                    old.rename(target)  # interrupted between the two renames: put it back
            raise


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock beside ``folder``, held while it is checked or built, so two processes
    never build the same cache folder at once."""
    lock_path = folder.parent / f".{folder.name}.lock"
    with lock_path.open("a") as f:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: one process at a time by convention
            yield
            return
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def atomic_write_text(path: Path, text: str) -> None:
    """Write a text file through a temporary name and a rename (the user's umask, one-line
    errors, the temporary removed on any interruption)."""
    path = Path(path)
    with signal_guard():
        tmp: Path | None = None
        _make_parent(path)
        try:
            remove_stale_temporaries(path)
            tmp = _make_temp(path.parent, path.name, directory=False)
            with tmp.open("w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, path)
        except BaseException as e:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                    if isinstance(e, Terminated):
                        e.removed.append(tmp)
            error = _os_error(e)
            if error is not None:
                raise _write_error(error, path, None) from None
            raise


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically, pretty enough for a person to read a manifest."""
    # json_dumps: a name that is not UTF-8 (a lone surrogate) is written as its JSON escape
    atomic_write_text(path, json_dumps(data, indent=2) + "\n")
