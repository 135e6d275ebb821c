"""Faults a careful user meets: outputs that cannot be written, signals while writing, another
person's files under --overwrite, the umask, blank texts, long queries, progress in a log."""

from __future__ import annotations

import errno
import io
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest
from conftest import ROOT, run_cli
from test_collections import para, squad, write

from xlir_tui.data.collections import load_collection
from xlir_tui.errors import DataError, XlirError
from xlir_tui.evaluation.render import shorten
from xlir_tui.progress import PlainProgress, format_duration
from xlir_tui.storage import files as paths
from xlir_tui.storage.files import (
    MARKER_NAME,
    atomic_dir,
    atomic_write_text,
    check_free_space,
    check_output,
    check_writable,
    new_marker,
    own_output_kind,
    ownership,
    write_json,
    write_marker,
)


def one_line(e: pytest.ExceptionInfo[XlirError]) -> str:
    text = str(e.value)
    assert "\n" not in text
    return text


# --------------------------------------------------------------------------------------------
# Outputs that cannot be written: one line, before any work


def test_path_under_a_regular_file(tmp_path: Path) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("mine")
    target = blocker / "reports" / "r1"
    with pytest.raises(XlirError) as e:
        check_writable(target)
    assert f"{blocker} is a file, not a folder" in one_line(e) and str(target) in str(e.value)
    with pytest.raises(XlirError) as e, atomic_dir(target, command="index") as tmp:
        raise AssertionError(f"the block must not run ({tmp})")
    assert str(blocker) in one_line(e)
    with pytest.raises(XlirError) as e:
        write_json(blocker / "manifest.json", {})
    assert f"{blocker} is a file, not a folder" in one_line(e)
    assert blocker.read_text() == "mine"


@pytest.mark.skipif(os.geteuid() == 0, reason="permissions do not stop root")
def test_folder_without_write_permission(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(XlirError, match="Permission denied") as e:
            check_writable(locked / "idx")
        assert str(locked / "idx") in one_line(e)
    finally:
        locked.chmod(0o700)


def test_read_only_file_system_is_reported_with_its_reason(tmp_path: Path, monkeypatch) -> None:
    """The probe's OSError, whatever it is, becomes the reason in the one line (a read-only
    mount cannot be made without privileges, so the file system's answer is simulated)."""

    def read_only(path, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(paths.os, "mkdir", read_only)
    with pytest.raises(XlirError) as e:
        check_writable(tmp_path / "idx")
    assert one_line(e) == f"{tmp_path / 'idx'}: cannot write here: Read-only file system"


def test_free_space(tmp_path: Path) -> None:
    check_free_space(tmp_path / "idx", 1024)
    with pytest.raises(XlirError) as e:
        check_free_space(tmp_path / "idx", 1 << 60)
    assert re.search(r"needs about 1048576.0 TB, .* is free on ", one_line(e))
    with pytest.raises(XlirError, match="not enough free space"):
        check_output(tmp_path / "idx", need=1 << 60)
    check_output(tmp_path / "idx", need=1)
    assert list(tmp_path.iterdir()) == []  # the probe is gone


def test_any_oserror_while_writing_is_one_line_naming_the_file(tmp_path: Path) -> None:
    target = tmp_path / "idx"
    with pytest.raises(XlirError) as e, atomic_dir(target, command="index") as tmp:
        (tmp / "candidates.parquet").write_bytes(b"x")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp / "vectors.npy"))
    assert one_line(e) == f"{target / 'vectors.npy'}: cannot write: No space left on device"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_under_polars_is_one_line(tmp_path: Path) -> None:
    """polars reports a failed write as ComputeError '... (os error 28)', not as an OSError."""
    target = tmp_path / "idx"
    with pytest.raises(XlirError) as e, atomic_dir(target, command="index"):
        pl.DataFrame({"a": list(range(100_000))}).write_parquet("/dev/full")
    assert one_line(e) == f"{target}: cannot write: No space left on device"
    with pytest.raises(XlirError, match="no such thing"), atomic_dir(target, command="index"):
        raise XlirError("no such thing (os error 2)")  # the user's own line passes unchanged
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------
# Signals while an output is written

WRITER = textwrap.dedent(
    """
    import os, signal, sys, time
    from pathlib import Path
    from xlir_tui.storage.files import atomic_dir, write_json

    # the dispositions this test means, whatever the suite inherited (nohup, a background job)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if sys.argv[2] == "nohup":
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with atomic_dir(Path(sys.argv[1]), command="index") as tmp:
            (tmp / "vectors.npy").write_bytes(b"x" * 100_000)
            write_json(tmp / "manifest.json", {"format": "xlir-tui/dense-index"})
            print(tmp, flush=True)
            time.sleep(60)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    """
)


def start_writer(target: Path, mode: str = "") -> tuple[subprocess.Popen[str], Path]:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target), mode or "-"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line, proc.communicate()[1]
    tmp = Path(line)
    assert tmp.is_dir() and tmp.parent == target.parent
    return proc, tmp


@pytest.mark.parametrize(("sig", "status"), [("SIGTERM", 143), ("SIGHUP", 129)])
def test_signal_removes_the_temporary(tmp_path: Path, sig: str, status: int) -> None:
    target = tmp_path / "idx"
    proc, tmp = start_writer(target)
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert err.strip().splitlines() == [
        f"xlir-tui: terminated by {sig}; removed the unfinished {tmp}"
    ]
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_still_interrupts_and_removes_the_temporary(tmp_path: Path) -> None:
    proc, _ = start_writer(tmp_path / "idx")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip() == "interrupted"
    assert list(tmp_path.iterdir()) == []


def test_an_ignored_sighup_stays_ignored(tmp_path: Path) -> None:
    """Under nohup the writer goes on after SIGHUP; SIGTERM still ends it cleanly."""
    proc, tmp = start_writer(tmp_path / "idx", "nohup")
    proc.send_signal(signal.SIGHUP)
    with pytest.raises(subprocess.TimeoutExpired):
        proc.wait(timeout=1)
    assert tmp.is_dir()
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 143 and list(tmp_path.iterdir()) == []


def test_handlers_are_put_back(tmp_path: Path) -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    with atomic_dir(tmp_path / "a", command="index") as tmp:
        write_json(tmp / "manifest.json", {})  # a nested writer
        inside = {s: signal.getsignal(s) for s in before}
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert {s: signal.getsignal(s) for s in before} == before
    assert all(inside[s] is not before[s] for s in before if before[s] == signal.SIG_DFL), (
        "the handlers were not installed"
    )


def test_stale_temporaries_of_a_killed_writer_are_removed(tmp_path: Path) -> None:
    target = tmp_path / "idx"
    proc, tmp = start_writer(target)
    proc.kill()  # SIGKILL: nothing can clean up
    proc.wait(timeout=60)
    assert tmp.is_dir()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        host = paths._host()
        kept = [
            tmp_path / f".idx.tmp-{live.pid}@{host}@0a0b0c0d",  # a live writer
            tmp_path / f".idx.tmp-{proc.pid}@elsewhere@0a0b0c0d",  # another host: unknown
            tmp_path / ".idx.tmp-k3j4h5g6",  # no owner in the name
            tmp_path / f".other.tmp-{proc.pid}@{host}@0a0b0c0d",  # another target
        ]
        for p in kept:
            p.mkdir()
        file_tmp = tmp_path / f".idx.tmp-{proc.pid}@{host}@1a2b3c4d"
        file_tmp.write_text("half a file")
        with atomic_dir(target, command="index") as out:
            (out / "x").write_text("new")
        assert not tmp.exists() and not file_tmp.exists()
        assert all(p.is_dir() for p in kept)
        assert (target / "x").read_text() == "new"
    finally:
        live.kill()
        live.wait()


def test_an_output_replaced_by_a_killed_writer_is_put_back(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    old = tmp_path / f".idx.old-{dead.pid}@{paths._host()}@0a0b0c0d"
    old.mkdir()
    write_json(old / "manifest.json", {"format": "xlir-tui/dense-index"})
    write_marker(old, "index")
    with pytest.raises(XlirError, match="output folder exists"):
        check_output(tmp_path / "idx")
    assert (tmp_path / "idx" / "manifest.json").is_file() and not old.exists()


# --------------------------------------------------------------------------------------------
# --overwrite replaces only this tool's outputs


def test_overwrite_refuses_a_regular_file(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(XlirError) as e:
            check_output(target, overwrite=overwrite)
        assert "a file that xlir-tui did not write" in one_line(e)
        with (
            pytest.raises(XlirError, match="did not write"),
            atomic_dir(target, overwrite=True, command="index"),
        ):
            raise AssertionError("the block must not run")
    assert target.read_text() == "mine" and sorted(os.listdir(tmp_path)) == ["notes.txt"]


def test_overwrite_refuses_a_foreign_folder_and_replaces_its_own(tmp_path: Path) -> None:
    foreign = tmp_path / "thesis"
    foreign.mkdir()
    (foreign / "chapter1.tex").write_text("mine")
    with pytest.raises(XlirError, match="a folder that xlir-tui did not write"):
        check_output(foreign, overwrite=True)
    with (
        pytest.raises(XlirError, match="did not write"),
        atomic_dir(foreign, overwrite=True, command="index"),
    ):
        pass
    assert (foreign / "chapter1.tex").read_text() == "mine"

    own = tmp_path / "idx"
    with atomic_dir(own, command="index") as tmp:
        write_json(tmp / "manifest.json", {"format": "xlir-tui/dense-index"})
    with pytest.raises(XlirError, match=r"output folder exists \(pass --overwrite"):
        check_output(own)
    check_output(own, overwrite=True)
    with atomic_dir(own, overwrite=True, command="index") as tmp:
        write_json(tmp / "manifest.json", {"format": "xlir-tui/lexical-index"})
    assert json.loads((own / "manifest.json").read_text())["format"] == "xlir-tui/lexical-index"
    assert sorted(os.listdir(tmp_path)) == ["idx", "thesis"]  # no temporary, no old copy


def test_what_counts_as_an_own_output(tmp_path: Path, sample_dir: Path) -> None:
    """Only a valid marker makes a folder this tool's: never the presence of a file name."""

    def folder(name: str, files: dict[str, str]) -> Path:
        p = tmp_path / name
        p.mkdir()
        for f, text in files.items():
            (p / f).write_text(text)
        return p

    # what earlier releases recognised by a file name is a person's folder now
    named_like_ours = {
        "dense": {"manifest.json": '{"format": "xlir-tui/dense-index"}'},
        "cache": {"manifest.json": '{"loader_version": "1", "fingerprint": "f"}'},
        "report": {"report.json": '{"created_by": "xlir-tui 0.1.0"}'},
        "run": {"events.jsonl": "", "analysis.txt": "mine"},
        "checkpoint": {"xlir_train.json": "{}"},
        "translated": {"translate.manifest": "{}", "de.jsonl": ""},
        "data-get": {"collection.manifest": '{"format": "xlir-tui/collection"}', "en.json": ""},
        "legacy-get": {f"{x}.json": "" for x in ("ar", "de", "en", "es", "hi", "vi", "zh")},
    }
    for name, files in named_like_ours.items():
        assert own_output_kind(folder(name, files)) is None, name
        assert "no .xlir-tui-output marker" in ownership(tmp_path / name).why
    assert own_output_kind(folder("empty", {})) == "empty folder"
    assert own_output_kind(sample_dir) is None  # a person's collection
    assert own_output_kind(tmp_path / "missing") is None

    good = new_marker("bias-report")
    marked = folder("marked", {"notes.txt": "", MARKER_NAME: json.dumps(good)})
    assert own_output_kind(marked) == "bias-report"
    later = folder("later", {MARKER_NAME: json.dumps({**good, "written_by_a_later_release": 1})})
    assert own_output_kind(later) == "bias-report"  # fields a later release adds are allowed
    # a marker of the wrong shape is no marker: each field is checked
    bad = {
        "not JSON": "{tool: xlir-tui",
        "a list": "[]",
        "another tool": json.dumps({**good, "tool": "other-tool"}),
        "unknown command": json.dumps({**good, "command": "rm"}),
        "short id": json.dumps({**good, "id": "abc"}),
        "id not text": json.dumps({**good, "id": 7}),
        "no created": json.dumps({k: v for k, v in good.items() if k != "created"}),
        "created not a time": json.dumps({**good, "created": "yesterday"}),
        "huge": json.dumps({**good, "pad": "x" * 10_000}),
    }
    for i, (why, text) in enumerate(bad.items()):
        f = folder(f"bad{i}", {"notes.txt": "mine", MARKER_NAME: text})
        assert own_output_kind(f) is None, why
        with pytest.raises(XlirError, match="did not write") as e:
            check_output(f, overwrite=True)
        assert MARKER_NAME in one_line(e)
    # the marker must be a file of its own, not a link to someone's marker
    linked = folder("linked", {"notes.txt": "mine"})
    (linked / MARKER_NAME).symlink_to(marked / MARKER_NAME)
    assert own_output_kind(linked) is None


def test_index_overwrite_keeps_a_regular_file(
    capsys, tmp_path: Path, sample_dir: Path, tiny_model: Path
) -> None:
    target = tmp_path / "results.csv"
    target.write_text("a,b\n1,2\n")
    code, _, err = run_cli(
        ["index", str(sample_dir), "--model", str(tiny_model), "--out", str(target), "--overwrite"],
        capsys,
    )
    assert code == 1 and "did not write" in err and "Traceback" not in err
    assert target.read_text() == "a,b\n1,2\n" and sorted(os.listdir(tmp_path)) == ["results.csv"]


def test_data_get_checks_its_target_before_downloading(tmp_path: Path, monkeypatch) -> None:
    import urllib.request

    from xlir_tui.data.sources import get_collection

    def no_download(*args, **kwargs):
        raise AssertionError("downloaded before the target was checked")

    monkeypatch.setattr(urllib.request, "urlopen", no_download)
    mine = tmp_path / "xquad-r"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(XlirError, match="did not write"):
        get_collection("xquad-r", mine, overwrite=True)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(XlirError, match="is a file, not a folder"):
        get_collection("xquad-r", blocker / "xquad-r")


def test_data_get_writes_a_manifest(tmp_path: Path, shared_data: Path) -> None:
    from xlir_tui.data.sources import get_collection

    target = tmp_path / "mlqa-r"
    get_collection("mlqa-r", target, source=shared_data / "mlqa-r")
    assert own_output_kind(target) == "data get"
    assert json.loads((target / "collection.manifest").read_text())["collection"] == "mlqa-r"
    assert load_collection(target, use_cache=False).questions.height == 4199


# --------------------------------------------------------------------------------------------
# The user's umask


@pytest.mark.parametrize(
    ("umask", "folder", "file"),
    [(0o022, 0o755, 0o644), (0o077, 0o700, 0o600), (0o002, 0o775, 0o664)],
)
def test_outputs_follow_the_umask(tmp_path: Path, umask: int, folder: int, file: int) -> None:
    previous = os.umask(umask)
    try:
        with atomic_dir(tmp_path / "idx", command="index") as tmp:
            write_json(tmp / "manifest.json", {})
        atomic_write_text(tmp_path / "notes.txt", "x")
    finally:
        os.umask(previous)
    assert (tmp_path / "idx").stat().st_mode & 0o777 == folder
    assert (tmp_path / "idx" / "manifest.json").stat().st_mode & 0o777 == file
    assert (tmp_path / "notes.txt").stat().st_mode & 0o777 == file


# --------------------------------------------------------------------------------------------
# Blank questions and sentences


def two_languages(tmp_path: Path, de_question: str, de_sentences: list[str] | None = None) -> Path:
    write(
        tmp_path / "en.json",
        squad(
            [
                para(
                    "Paris is in France. Berlin is in Germany.",
                    [("q1", "Where is Berlin?", "Germany")],
                )
            ]
        ),
    )
    de = para(
        "Paris liegt in Frankreich. Berlin liegt in Deutschland.",
        [("q1", de_question, "Deutschland")],
    )
    if de_sentences is not None:
        de["sentences"] = de_sentences
    write(tmp_path / "de.json", squad([de]))
    return tmp_path


def test_blank_question_is_skipped_and_counted(tmp_path: Path) -> None:
    c = load_collection(two_languages(tmp_path, " \n\t"), use_cache=False)
    assert c.questions["id"].to_list() == ["en/q1"]
    # its answer is still relevant to the question's translations (LAReQA)
    assert sorted(c.relevance["candidate_id"].to_list()) == ["de/0/1", "en/0/1"]
    assert c.skipped.select("lang", "qid", "reason").rows() == [("de", "q1", "blank question text")]
    stats = c.stats()
    assert stats["questions"] == 1 and stats["skipped"] == 1
    assert stats["languages"]["de"]["skipped"] == 1
    assert stats["skipped_reasons"] == {"blank question": 1}
    assert c.skipped_summary() == (
        "1 question(s) skipped (1 blank question) (see 'skipped' in xlir-tui data stats)"
    )
    with pytest.raises(DataError) as e:
        load_collection(tmp_path, strict=True, use_cache=False)
    assert "de.json: data[0].paragraphs[0].qas[0]: question 'q1': blank question text" in one_line(
        e
    )


def test_blank_candidate_sentence_is_skipped_and_counted(tmp_path: Path) -> None:
    folder = two_languages(tmp_path, "Wo liegt Berlin?", ["Paris liegt in Frankreich.", "  "])
    c = load_collection(folder, use_cache=False)
    assert "de/0/1" not in c.candidates["id"].to_list()
    assert c.candidates.filter(pl.col("lang") == "de")["id"].to_list() == ["de/0/0"]
    reasons = sorted(c.skipped["reason"].to_list())
    assert reasons == ["blank candidate sentence", "its answer is a blank sentence"]
    assert c.stats()["skipped_reasons"] == {
        "blank candidate sentence": 1,
        "answer is a blank sentence": 1,
    }
    with pytest.raises(DataError, match=r"sentences\[1\]: blank candidate sentence"):
        load_collection(folder, strict=True, use_cache=False)


def test_blank_jsonl_fields_are_skipped(tmp_path: Path) -> None:
    rows = [
        {"qid": "1", "question": "Where?", "passage": "Here."},
        {"qid": "2", "question": "   ", "passage": "There."},
        {"qid": "3", "question": "Why?", "passage": " "},
    ]
    write(tmp_path / "en.jsonl", "\n".join(json.dumps(r) for r in rows))
    c = load_collection(tmp_path, use_cache=False)
    assert c.questions["qid"].to_list() == ["1"]
    assert sorted(c.skipped["reason"].to_list()) == [
        "blank candidate sentence",
        "blank question text",
        "its answer is a blank sentence",
    ]
    with pytest.raises(DataError, match="row 2: question '2': blank question text"):
        load_collection(tmp_path, strict=True, use_cache=False)


def test_data_stats_shows_blank_questions_as_skipped(capsys, tmp_path: Path) -> None:
    code, out, err = run_cli(["data", "stats", str(two_languages(tmp_path, "")), "--json"], capsys)
    assert code == 0, err
    stats = json.loads(out)
    assert stats["questions"] == 1 and stats["languages"]["de"]["skipped"] == 1


# --------------------------------------------------------------------------------------------
# Long texts


def test_shorten() -> None:
    assert shorten("where\n  is   Berlin?", 80) == "where is Berlin?"
    long = shorten("x" * 20_000, 40)
    assert len(long) == 40 and long.endswith("…")
    from rich.cells import cell_len

    cjk = shorten("柏林在哪里" * 10, 9)
    assert cell_len(cjk) <= 9 and cjk.endswith("…")


def test_a_query_longer_than_the_window(tiny_encoder) -> None:
    from xlir_tui.models.encoders import exceeds_window

    assert exceeds_window(tiny_encoder, "where is berlin?") is None
    tokens, window = exceeds_window(tiny_encoder, "where is berlin? " * 40)
    assert window == tiny_encoder.model.max_seq_length == 64 and tokens > 100


# --------------------------------------------------------------------------------------------
# Progress in a log


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_progress_lines_and_their_rate() -> None:
    stream, clock = io.StringIO(), Clock()
    p = PlainProgress(stream, interval=5, clock=clock)
    for t, done in [(0, 0), (1, 10), (4.9, 49), (5, 50), (6, 60), (10, 100), (11, 100)]:
        clock.now = 100 + t
        p("encode candidates", done, 100)
    clock.now = 111.5
    p("encode queries", 0, 7)  # a stage says nothing before it has run for the interval
    clock.now = 113.5
    p("encode queries", 2, 7)
    clock.now = 117
    p("encode queries", 5, 7)  # 1/s, then 0.86/s: smoothed over 20 s, 0.98/s
    assert stream.getvalue().splitlines() == [
        "encode candidates: 50/100 (10.0/s, ETA 00:05)",
        "encode candidates: 100/100 (10.0/s, done in 00:10)",
        "encode queries: 5/7 (1.0/s, ETA 00:02)",
    ]


def test_plain_progress_rate_counts_only_new_work() -> None:
    stream, clock = io.StringIO(), Clock()
    p = PlainProgress(stream, interval=0, clock=clock).callback("encode")
    p(900, 1000)  # 900 came from the cache
    clock.now += 20
    p(1000, 1000)
    assert stream.getvalue().splitlines()[-1] == "encode: 1000/1000 (5.0/s, done in 00:20)"
    assert format_duration(3725) == "1:02:05"
