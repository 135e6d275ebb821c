"""Text from data is made inert before it reaches a terminal: every printing path of the command
line and the explorer, fed a collection whose every string is hostile (escape sequences, C1
controls, Rich markup, bidi overrides), shows it visibly and acts on none of it; ``--json`` keeps
it exact."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from conftest import run_cli, sample_sentences

from xlir_tui.safe_text import REPLACEMENT, inert, inert_text, json_dumps, markup_escape

PAYLOADS = [
    "\x1b[2J\x1b[H",  # clear the screen, cursor home
    "\x1b]0;pwned-title\x07",  # OSC 0: the window title
    "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\",  # OSC 8: a hyperlink
    "\x1b[1;31m",  # a colour
    "\x9b2J",  # C1 CSI (8-bit)
    "\x9d0;t\x9c",  # C1 OSC ... ST
    "[bold red]loud[/bold red]",
    "[link=file:///etc/passwd]passwd[/link]",
    "[/]",
    "\x07\x08\r\x00",  # BEL, backspace, CR, NUL
    "\u202egnp.exe",  # a right-to-left override
]
HOSTILE_LANG = "q[/]\x1b[31m"
"""A language code as a JSONL row may give it: markup, and an escape sequence."""
FOLDER = "coll\x1b]0;dir\x07[bold red]"  # a name holds no "/", so no "[/]"
FILE = "rows\x1b[2J[bold].jsonl"

# what no output may hold: ESC, the C1 range, BEL, NUL, backspace, the bidi override
FORBIDDEN = re.compile("[\x00\x07\x08\x1b\x80-\x9f\u202a-\u202e\u2066-\u2069]")


def assert_inert(*outputs: str) -> None:
    for text in outputs:
        bad = FORBIDDEN.search(text)
        assert bad is None, (bad.group(0), text[max(bad.start() - 300, 0) : bad.start() + 100])
        assert "Traceback" not in text and "MarkupError" not in text, text


# ------------------------------------------------------------------------------ the function


def test_controls_become_visible_one_code_point_for_one() -> None:
    text = "".join(PAYLOADS) + "\t\n\ud800"
    shown = inert(text)
    assert len(shown) == len(text)
    assert FORBIDDEN.search(shown) is None
    assert "\n" not in shown and "\t" not in shown
    assert "␛[2J␛[H" in shown and "␛]0;pwned-title␇" in shown and "␀" in shown
    assert f"{REPLACEMENT}2J" in shown and f"{REPLACEMENT}gnp.exe" in shown
    assert shown.endswith(" " + REPLACEMENT)  # the newline a space, the lone surrogate U+FFFD
    shown.encode("utf-8")  # a lone surrogate cannot be written; its replacement can
    # markup characters are not controls: the string keeps them (Text objects keep them inert)
    assert "[bold red]loud[/bold red]" in shown


def test_line_breaks_where_they_mean_something() -> None:
    text = "one\r\ntwo\u2028three\x0cfour\x85five"
    assert inert(text) == "one  two three four five"
    assert inert(text, multiline=True) == "one \ntwo\nthree\nfour\nfive"
    assert inert("a\x1b[2Jb", multiline=True) == "a␛[2Jb"


def test_clean_text_is_unchanged() -> None:
    """Every sentence and question of the sample data, in ten languages and scripts, and the
    marks Arabic text uses (LRM, RLM, ALM), pass as they are."""
    for sentence in sample_sentences():
        if "\n" not in sentence and "\t" not in sentence:
            assert inert(sentence) is sentence or inert(sentence) == sentence
    marks = "مرحبا\u200f بالعالم\u200e \u061c"
    assert inert(marks) == marks


def test_markup_is_never_parsed() -> None:
    from rich.console import Console

    console = Console(file=io.StringIO(), width=200, color_system=None)
    for payload in ("[bold red]x[/bold red]", "[/]", "[link=file:///etc/passwd]p[/link]"):
        console.print(inert_text(payload))
        console.print(markup_escape(payload))  # escaped for a place that takes only markup
    printed = console.file.getvalue().splitlines()
    assert printed == [
        "[bold red]x[/bold red]",
        "[bold red]x[/bold red]",
        "[/]",
        "[/]",
        "[link=file:///etc/passwd]p[/link]",
        "[link=file:///etc/passwd]p[/link]",
    ]


def test_json_keeps_the_text_exact_and_inert() -> None:
    value = {"text": "".join(PAYLOADS), "lone": "\ud800", "lang": HOSTILE_LANG, "fine": "中文 é"}
    out = json_dumps(value, indent=2)
    assert json.loads(out) == value
    assert_inert(out)
    assert "中文 é" in out  # not escaped: only what a terminal could act on
    out.encode("utf-8")


def test_an_error_message_is_one_inert_line() -> None:
    from xlir_tui.errors import XlirError

    e = XlirError("broken\nline \x1b]0;t\x07", path=Path("a\x1b[2J.json"))
    assert str(e) == "a␛[2J.json: broken line ␛]0;t␇"
    assert e.path == "a\x1b[2J.json"  # the path itself stays exact


def test_plain_progress_lines_are_inert() -> None:
    from xlir_tui.progress import PlainProgress

    stream = io.StringIO()
    PlainProgress(stream, interval=0)(f"encoding {HOSTILE_LANG}", 3, 3)
    assert stream.getvalue().startswith("encoding q[/]␛[31m: 3/3")
    assert_inert(stream.getvalue())


def test_progress_bars_show_stage_names_as_text(monkeypatch) -> None:
    """On a terminal: a stage named with markup (an unbalanced ``[/]``) and escapes is drawn
    as text, not parsed (a MarkupError) and not sent to the terminal."""
    from rich.console import Console

    from xlir_tui.cli import output

    buffer = io.StringIO()
    monkeypatch.setattr(output, "err", Console(file=buffer, force_terminal=True, width=120))
    with output.stage_progress() as update:
        update(f"translating to {HOSTILE_LANG} {PAYLOADS[1]}", 1, 2)
        update(f"translating to {HOSTILE_LANG} {PAYLOADS[1]}", 2, 2)
    drawn = buffer.getvalue()
    assert "q[/]␛[31m" in drawn and "␛]0;pwned-title␇" in drawn
    assert_inert(_without_drawing(drawn))


def _without_drawing(text: str) -> str:
    """Output on a forced terminal without the sequences Rich itself writes (colours, cursor
    moves and hiding, line erasing): what is left of ESC would come from data."""
    return re.sub(r"\x1b\[[0-9;?]*[mAKlhGD]", "", text)


# ------------------------------------------------------------------------ a hostile collection


def hostile_collection(root: Path) -> Path:
    """A JSONL collection in a folder, a file and three languages whose names are hostile, with
    every question, passage, context and question id carrying a payload."""
    folder = root / FOLDER
    folder.mkdir(parents=True)
    rows = []
    for i in range(8):
        payload = PAYLOADS[i % len(PAYLOADS)]
        for lang, word in (("en", "bees"), ("de", "Bienen"), (HOSTILE_LANG, "abeilles")):
            rows.append(
                {
                    "qid": f"q{i}{PAYLOADS[1]}",
                    "lang": lang,
                    "question": f"{payload} what about {word} {i}?",
                    "passage": f"{payload} {word} live in hive {i}.",
                    "context": f"Before.\n{payload} {word} live in hive {i}.\nAfter {payload}",
                }
            )
    (folder / FILE).write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8"
    )
    return folder


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    return hostile_collection(tmp_path)


def test_data_stats(capsys, hostile: Path) -> None:
    code, out, err = run_cli(["data", "stats", str(hostile)], capsys)
    assert code == 0, err
    assert_inert(out, err)
    assert "coll␛]0;dir␇[bold red]" in out and "q[/]␛[31m" in out
    code, out, err = run_cli(["data", "stats", str(hostile), "--json"], capsys)
    assert code == 0
    assert_inert(out, err)
    stats = json.loads(out)
    assert stats["collection"] == FOLDER and HOSTILE_LANG in stats["languages"]


def test_index_search_and_bias_report(capsys, hostile: Path, tiny_model: Path, tmp_path) -> None:
    index = tmp_path / "idx"
    code, out, err = run_cli(
        ["index", str(hostile), "--model", str(tiny_model), "--out", str(index)], capsys
    )
    assert code == 0, err
    assert_inert(out, err)
    # the table: passages shown with their payloads visible, markup as text
    query = f"bees {PAYLOADS[0]} [/] {PAYLOADS[6]}"
    code, out, err = run_cli(["search", str(index), query, "-k", "24"], capsys)
    assert code == 0, err
    assert_inert(out, err)
    for shown in ("[bold red]loud[/bold red]", "[link=file:///etc/passwd]passwd", "␛]0;pwned"):
        assert shown in out, shown
    assert "q[/]␛[31m" in out and "[/]" in out.splitlines()[0]  # the query, in the title
    # --json: exact
    code, out, err = run_cli(["search", str(index), query, "-k", "24", "--json"], capsys)
    assert code == 0, err
    assert_inert(out, err)
    result = json.loads(out)
    assert result["query"] == query
    texts = {h["text"] for h in result["results"]}
    assert any(PAYLOADS[2] in t for t in texts) and any(PAYLOADS[4] in t for t in texts)
    assert HOSTILE_LANG in {h["lang"] for h in result["results"]}
    # a restriction to the hostile language, and the report
    code, out, err = run_cli(["search", str(index), "bees", "--langs", HOSTILE_LANG], capsys)
    assert code == 0, err
    assert_inert(out, err)
    code, out, err = run_cli(["bias-report", str(hostile), "--model", str(tiny_model)], capsys)
    assert code == 0, err
    assert_inert(out, err)
    assert "coll␛]0;dir␇[bold red]" in out and "q[/]␛[31m" in out
    code, out, err = run_cli(
        ["bias-report", str(hostile), "--model", str(tiny_model), "--json"], capsys
    )
    assert code == 0, err
    assert_inert(out, err)
    report = json.loads(out)
    assert report["collection"] == FOLDER and HOSTILE_LANG in report["languages"]


def test_search_table_on_a_colour_terminal(
    capsys, hostile: Path, tiny_model: Path, tmp_path, monkeypatch
) -> None:
    """With colours on, the only escape sequences written are Rich's own colours."""
    from rich.console import Console

    from xlir_tui.cli import output

    index = tmp_path / "idx"
    code, _, err = run_cli(
        ["index", str(hostile), "--model", str(tiny_model), "--out", str(index)], capsys
    )
    assert code == 0, err
    buffer = io.StringIO()
    monkeypatch.setattr(output, "out", Console(file=buffer, force_terminal=True, width=160))
    monkeypatch.setattr(output, "err", Console(file=buffer, force_terminal=True, soft_wrap=True))
    code, _, _ = run_cli(["search", str(index), "bees [/]", "-k", "24"], capsys)
    assert code == 0
    drawn = buffer.getvalue()
    assert "\x1b[" in drawn  # colours, so the check below means something
    assert_inert(_without_drawing(drawn))
    assert "[bold red]loud[/bold red]" in drawn


def test_errors_name_hostile_paths_inertly(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "x\x1b]0;t\x07[red]"
    bad.mkdir()
    (bad / "de\x9b.jsonl").write_text('{"qid": 1, "question": [1]}\n', encoding="utf-8")
    (bad / "en.jsonl").write_text('{"qid": 1, "question": "x", "passage": "\\ud800"}\n')
    code, out, err = run_cli(["data", "stats", str(bad / "en.jsonl")], capsys)
    assert code == 1 and "line 1: field 'passage': not Unicode text" in err
    assert_inert(out, err)
    code, out, err = run_cli(["data", "stats", str(bad)], capsys)
    assert code == 1 and "x␛]0;t␇[red]/de\ufffd.jsonl: line 1: field 'question'" in err, err
    assert_inert(out, err)
    # a command-line mistake quotes the command line, inertly too
    code, out, err = run_cli(["serch\x1b[2J", "x"], capsys)
    assert code == 2
    assert_inert(out, err)
    code, out, err = run_cli(
        ["index", str(bad / "en.jsonl"), "--out", str(bad / "o\x1b[2J")], capsys
    )
    assert_inert(out, err)


def test_notes_and_warnings_are_inert(capsys, tmp_path: Path) -> None:
    """A skipped question's warning (it names the file) through the warning path."""
    folder = tmp_path / "w\x1b[2J[red]"
    folder.mkdir()
    rows = [
        {"qid": "1", "lang": "en", "question": "  ", "passage": "A [/] b."},
        {"qid": "1", "lang": "de", "question": "Was?", "passage": "A b."},
    ]
    (folder / "x[red].jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    code, out, err = run_cli(["data", "stats", str(folder)], capsys)
    assert code == 0, err
    assert "warning: 1 question(s) skipped" in err
    assert_inert(out, err)


# ---------------------------------------------------------------------------------- explorer


class Screen:
    """Everything the app sends to the terminal, as a real terminal would get it."""

    def __init__(self, app) -> None:
        from rich.console import Console

        self.sent: list[str] = []
        self.console = Console(width=120, color_system="truecolor", force_terminal=True)
        app._display = self.display  # type: ignore[method-assign]

    def display(self, screen, update) -> None:
        if update is not None and hasattr(update, "render_segments"):
            self.sent.append(update.render_segments(self.console))

    def text(self) -> str:
        """What was sent, without the sequences Textual itself writes (cursor moves to a row
        and column, colours and styles): what is left of ESC would come from data."""
        return re.sub(r"\x1b\[\d+;\d+H|\x1b\[[0-9;:]*m", "", "".join(self.sent))


async def test_the_explorer_shows_hostile_text_inertly(tiny_model: Path, tmp_path: Path) -> None:
    from test_explorer import settle, text_of
    from textual.widgets import OptionList

    from xlir_tui.tui.app import ExplorerApp
    from xlir_tui.tui.widgets import ResultPane

    folder = hostile_collection(tmp_path)
    app = ExplorerApp(collection=[str(folder)], model=str(tiny_model), langs=["en", HOSTILE_LANG])
    screen = Screen(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, lambda: app.workspace is not None and app.query(ResultPane))
        panes = list(app.query(ResultPane))
        query = f"bees {PAYLOADS[0]} [/] {PAYLOADS[1]}"
        app.query_one("#query").value = query
        await pilot.press("enter")
        await settle(app, pilot, lambda: all(p.result and p.result.hits for p in panes))
        assert panes[1].result.hits[0].lang == HOSTILE_LANG
        assert " q[/]␛[31m " in panes[1]._border_title.plain  # the getter gives it as markup
        hits = panes[0].query_one(OptionList)
        shown = "\n".join(str(hits.get_option_at_index(i).prompt) for i in range(len(hits.options)))
        assert "␛" in shown or "[bold red]" in shown or "\ufffd" in shown
        assert FORBIDDEN.search(shown) is None
        # question mode: the picker, the question in the bar and the mode label (its id)
        await pilot.press("f2")
        await settle(app, pilot, lambda: app.qid is not None and panes_ready(app))
        # the bar holds the question exactly (its drawing is inert: checked at the end)
        assert app.query_one("#query").value == app.workspace.question(app.qid, "en")
        assert "␛]0;pwned-title␇" in text_of(app.query_one("#mode"))
        await pilot.press("f3")
        await settle(app, pilot, lambda: app.screen.__class__.__name__ == "QuestionPicker")
        await pilot.press("escape")
        # a result's whole paragraph (its lines kept, the sentence found in it)
        first = next(iter(app.query(ResultPane)))
        first.query_one(OptionList).focus()
        await pilot.press("enter")
        await settle(app, pilot, lambda: app.screen.__class__.__name__ == "ParagraphScreen")
        paragraph = text_of(app.screen.query_one(".paragraph"))
        assert paragraph.startswith("Before.\n") and FORBIDDEN.search(paragraph) is None
        await pilot.press("escape")
        # languages, compare, and a toast and a status line from a failed worker naming a path
        await pilot.press("f5")
        await settle(app, pilot, lambda: app.screen.__class__.__name__ == "LanguagesScreen")
        await pilot.press("escape")
        await pilot.press("f6")
        await settle(app, pilot, lambda: app.screen.__class__.__name__ == "CompareScreen")
        field = app.screen.query_one("#model")
        field.focus()
        field.value = str(tmp_path / "no[/]model\x1b]0;x\x07")
        await pilot.press("enter")
        await settle(
            app, pilot, lambda: "no such model folder" in text_of(app.query_one("#status"))
        )
        assert app.is_running
        await pilot.pause(0.3)
    assert screen.sent, "nothing was drawn"
    drawn = screen.text()
    assert_inert(drawn)
    # shown, as text
    assert "␛]0;pwned-title␇" in drawn and "␛[2J␛[H" in drawn and "␛[1;31m" in drawn


def panes_ready(app) -> bool:
    from xlir_tui.tui.widgets import ResultPane

    return all(p.result is not None and p.result.hits for p in app.query(ResultPane))


@pytest.mark.slow
def test_train_lines_are_inert(capsys, hostile: Path, tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run\x1b]0;t\x07[red]"
    args = ["train", str(hostile), "--base", str(tiny_model), "--steps", "2", "--batch-size", "4"]
    code, stdout, err = run_cli([*args, "--out", str(out)], capsys)
    assert code == 0, err
    assert_inert(stdout, err)
    assert "step 1/2" in err and "run␛]0;t␇[red]" in err


def test_translate_lines_are_inert(capsys, hostile: Path, tmp_path: Path) -> None:
    """The line before the model loads, and the error naming a model folder that is not
    there (the line after a translation goes through the same function)."""
    mt = tmp_path / "mt\x1b]0;t\x07[red]"
    out = tmp_path / "tr\x1b[2J[red]"
    args = ["translate", str(hostile), "--mt", str(mt), "--to", "fr", "--out", str(out)]
    code, stdout, err = run_cli(args, capsys)
    assert code == 1
    assert_inert(stdout, err)
    assert "loading translation model" in err and "mt␛]0;t␇[red]" in err


def test_remedies_and_protocol_options_are_inert(
    capsys, hostile: Path, tiny_model: Path, tmp_path: Path
) -> None:
    """``search --debias`` (a ranking per remedy, the identified query language said on
    stderr) and a report with remedies, passage context and mAP@K, on hostile text."""
    index = tmp_path / "idx"
    code, out, err = run_cli(
        ["index", str(hostile), "--model", str(tiny_model), "--out", str(index),
         "--debias", "none,center"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert_inert(out, err)
    query = f"bees {PAYLOADS[1]} [/]"
    for extra in ([], ["--json"]):
        code, out, err = run_cli(
            ["search", str(index), query, "--debias", "none,center", *extra], capsys
        )
        assert code == 0, err
        assert_inert(out, err)
    assert json.loads(out)["query"] == query  # --json: exact
    code, out, err = run_cli(
        ["bias-report", str(hostile), "--model", str(tiny_model), "--debias", "none,subspace",
         "--passage-context", "--map-depth", "5", "--resamples", "100"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert_inert(out, err)
    assert "q[/]␛[31m" in out


def test_the_cache_listing_is_inert(capsys, tmp_path: Path, monkeypatch) -> None:
    """A file of the user's in the cache folder, with a hostile name, is listed as not the
    tool's, inertly; ``--json`` keeps its name exact."""
    root = tmp_path / "cache"
    monkeypatch.setenv("XLIR_TUI_CACHE", str(root))
    (root / "embeddings").mkdir(parents=True)
    name = "mine\x1b]0;t\x07[bold]"
    (root / name).write_text("x")
    code, out, err = run_cli(["cache", "list"], capsys)
    assert code == 0, err
    assert_inert(out, err)
    assert "mine␛]0;t␇[bold]" in out
    code, out, err = run_cli(["cache", "list", "--json"], capsys)
    assert code == 0, err
    assert_inert(out, err)
    assert [Path(u["path"]).name for u in json.loads(out)["unknown"]] == [name]  # exact
