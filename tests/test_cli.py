"""The command line as a person uses it: help, JSON shapes, data get, index and search."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, run_cli

from xlir_tui import __version__


def test_version_and_help(capsys) -> None:
    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0 and out.strip() == f"xlir-tui {__version__}"
    for cmd in (
        ["--help"],
        ["data", "--help"],
        ["data", "get", "--help"],
        ["data", "stats", "--help"],
        ["index", "--help"],
        ["search", "--help"],
    ):
        code, out, _ = run_cli(cmd, capsys)
        assert code == 0 and "Usage" in out, cmd


def test_console_script_starts_without_heavy_imports() -> None:
    """``--help`` must not import torch or sentence-transformers (seconds of start-up)."""
    code = (
        "import sys; sys.argv=['xlir-tui','--help']\n"
        "from xlir_tui.cli import main\n"
        "try: main()\nexcept SystemExit: pass\n"
        "heavy=[m for m in ('torch','sentence_transformers','transformers','textual')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert "HEAVY []" in res.stdout


def test_data_stats_json(capsys, sample_dir: Path) -> None:
    code, out, _ = run_cli(["data", "stats", str(sample_dir), "--json"], capsys)
    assert code == 0
    stats = json.loads(out)
    assert stats["questions"] == sum(v["questions"] for v in stats["languages"].values())
    assert stats["candidates"] == sum(v["candidates"] for v in stats["languages"].values())
    assert set(stats["languages"]["en"]) >= {"questions", "candidates", "relevant_pairs", "skipped"}
    code, out, _ = run_cli(["data", "stats", str(sample_dir)], capsys)
    assert code == 0 and "relevant pairs" in out and "zh" in out


@pytest.mark.slow
def test_index_and_search(capsys, sample_dir: Path, tiny_model: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "idx"
    code, _, err = run_cli(
        ["index", str(sample_dir), "--model", str(tiny_model), "--out", str(out_dir)], capsys
    )
    assert code == 0, err
    assert "indexed" in err and (out_dir / "manifest.json").exists()
    code, out, err = run_cli(
        ["search", str(out_dir), "honey bees", "--lang", "de,zh", "-k", "4", "--json"], capsys
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["query"] == "honey bees"
    assert [r["rank"] for r in result["results"]] == [1, 2, 3, 4]
    assert {r["lang"] for r in result["results"]} <= {"de", "zh"}
    assert set(result["results"][0]) >= {"rank", "id", "lang", "score", "text"}
    code, out, _ = run_cli(
        ["search", str(out_dir), "honey bees", "--langs", "th", "--json"], capsys
    )
    assert code == 0 and {r["lang"] for r in json.loads(out)["results"]} == {"th"}
    code, out, _ = run_cli(["search", str(out_dir), "honey bees", "-k", "3"], capsys)
    assert code == 0 and "rank" in out
    # Hindi rows (spacing vowel signs) as wide as the others, as a terminal draws them
    code, out, _ = run_cli(["search", str(out_dir), "रानी", "--langs", "hi,en"], capsys)
    from xlir_tui.cells import text_width

    rows = [line for line in out.splitlines() if line.startswith(("│", "┃", "┏", "└"))]
    assert code == 0 and any("│ hi " in r for r in rows)
    assert len({text_width(r) for r in rows}) == 1, rows
    # a second index into the same folder is refused, and --overwrite replaces it
    code, _, err = run_cli(
        ["index", str(sample_dir), "--model", str(tiny_model), "--out", str(out_dir)], capsys
    )
    assert code == 1 and "--overwrite" in err
    code, _, err = run_cli(
        [
            "index",
            str(sample_dir),
            "--model",
            str(tiny_model),
            "--out",
            str(out_dir),
            "--overwrite",
        ],
        capsys,
    )
    assert code == 0, err


@pytest.mark.shared_data
def test_data_get_from_local_folder(capsys, shared_data: Path, tmp_path: Path) -> None:
    target = tmp_path / "mlqa-r"
    code, _, err = run_cli(
        ["data", "get", "mlqa-r", "--from", str(shared_data / "mlqa-r"), "--to", str(target)],
        capsys,
    )
    assert code == 0, err
    assert sorted(p.name for p in target.glob("*.json")) == [
        f"{x}.json" for x in ("ar", "de", "en", "es", "hi", "vi", "zh")
    ]
    assert "4199 questions" in err


def test_data_get_offline_says_how_to_use_from(capsys, tmp_path: Path, monkeypatch) -> None:
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    code, _, err = run_cli(["data", "get", "xquad-r", "--to", str(tmp_path / "x")], capsys)
    assert code == 1
    assert "--from DIR" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists() and list(tmp_path.iterdir()) == []


def test_data_get_rejects_a_wrong_copy(capsys, tmp_path: Path, sample_dir: Path) -> None:
    """A folder whose counts differ from the published ones is refused, nothing written."""
    src = tmp_path / "fake"
    src.mkdir()
    for lang in ("ar", "de", "en", "es", "hi", "vi", "zh"):
        data = (sample_dir / f"{lang if lang not in ('vi',) else 'en'}.json").read_bytes()
        (src / f"{lang}.json").write_bytes(data)
    code, _, err = run_cli(
        ["data", "get", "mlqa-r", "--from", str(src), "--to", str(tmp_path / "out")], capsys
    )
    assert code == 1 and "answerable questions" in err
    assert not (tmp_path / "out").exists()


def _commands() -> list[list[str]]:
    """Every command path of the tool: [], ["index"], ["data", "get"], ..."""
    from typer.main import get_command

    from xlir_tui.cli import app

    paths: list[list[str]] = []

    def walk(cmd, path: list[str]) -> None:
        paths.append(path)
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, [*path, name])

    walk(get_command(app), [])
    return paths


def test_every_help_page_speaks_the_tools_words(capsys, monkeypatch) -> None:
    """Values as <path>, <int>, <float>, <text>; no Python type, nothing beside a flag."""
    monkeypatch.setenv("COLUMNS", "300")
    paths = _commands()
    assert ["train"] in paths and ["data", "get"] in paths and len(paths) >= 9
    for path in paths:
        code, out, err = run_cli([*path, "--help"], capsys)
        assert code == 0 and "Usage" in out, (path, err)
        for word in ("<str>", "<bool>", "<list", "<Path", "<int | None>", "list["):
            assert word not in out, (path, word)
        for line in out.splitlines():
            if "--help" in line:
                assert "<" not in line, line  # a flag takes no value
    code, out, _ = run_cli(["train", "--help"], capsys)
    line = next(x for x in out.splitlines() if " --out " in x)
    assert "<path>" in line and "[required]" in line and "*" in line
    line = next(x for x in out.splitlines() if "collection" in x and "<path>" in x)
    assert "[required]" in line
    assert "<int>" in next(x for x in out.splitlines() if " --steps " in x)
    assert "<float>" in next(x for x in out.splitlines() if " --alpha " in x)
    assert "<text>" in next(x for x in out.splitlines() if " --strategy " in x)
    assert "<path>" in next(x for x in out.splitlines() if " --eval " in x)
    assert "<" not in next(x for x in out.splitlines() if " --hard-negatives " in x)


def test_every_help_page_reads_at_80_columns(capsys, monkeypatch) -> None:
    """At 80 columns no option name is cut and every help text keeps a readable width: a
    flag's ``--no-x`` is said in its help text, not given a column of its own; a docstring's
    paragraphs are wrapped to the page, not at the source's line breaks."""
    monkeypatch.setenv("COLUMNS", "80")
    for path in _commands():
        code, out, err = run_cli([*path, "--help"], capsys)
        assert code == 0, (path, err)
        for line in out.splitlines():
            assert len(line) <= 80, (path, line)
            names = line[:40]
            assert "…" not in names, (path, line)
            if line.startswith("│ ") and "--" in names:  # an option's first line
                help_starts = line.rstrip(" │").rindex("  ") + 2
                assert help_starts <= 50, (path, line)  # 30 columns or more of help text
    code, out, _ = run_cli(["train", "--help"], capsys)
    assert "--no-hard-negatives turns it off" in " ".join(out.split()).replace("│", "")
    code, out, _ = run_cli(["--help"], capsys)
    index_line = next(x for x in out.splitlines() if x.startswith("│ index "))
    assert len(index_line.rstrip(" │")) > 70, index_line  # the paragraph fills the line
    code, out, _ = run_cli(["bias-report", "--help"], capsys)
    intro = out.split("╭")[0]
    assert "machine-translated into that language" in " ".join(intro.split())
    assert all(len(x) > 60 for x in intro.splitlines() if x.strip()[:6] in ("With -", "machin"))
    code, _, err = run_cli(
        ["train", "sample_data", "--out", "x", "--no-hard-negatives", "--no-such"], capsys
    )
    assert code == 2 and "--no-such" in err  # the opposite flag still parses


@pytest.mark.parametrize(
    "args",
    [
        ["index", "sample_data"],
        ["search"],
        ["search", "idx"],
        ["bias-report"],
        ["train"],
        ["train", "sample_data"],
        ["translate", "sample_data", "--to", "de", "--out", "x"],
        ["translate", "sample_data", "--mt", "m", "--to", "de"],
        ["data", "get"],
        ["data", "stats"],
        ["explore", "--k", "x"],
        ["index", "sample_data", "--out", "x", "--m", "many"],
        ["train", "sample_data", "--out", "x", "--alpha", "half"],
        ["train", "sample_data", "--out", "x", "--no-such-flag"],
    ],
)
def test_a_command_line_that_does_not_parse_is_status_2_everywhere(capsys, args) -> None:
    """A missing argument or option, an unknown option, a value that is not of its type: the
    same status (2) and the same one line whichever command it is."""
    code, _, err = run_cli(args, capsys)
    assert code == 2, (args, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert f"xlir-tui {args[0]}" in err and "--help" in err, err
