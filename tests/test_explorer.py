"""The explorer driven as a person drives it (Textual pilot), plus snapshots of its screens."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from conftest import SAMPLE, build_tiny_model, run_cli
from test_bad_input import assert_one_line_error
from textual.widgets import OptionList, SelectionList

from xlir_tui.tui.app import FREE, QUESTION, ExplorerApp, default_pane_count
from xlir_tui.tui.screens.confirm import ErrorScreen
from xlir_tui.tui.widgets import LoadingPanel, ResultPane, hit_text

SIZE = (120, 40)
SIZES = {"80x24": (80, 24), "120x40": (120, 40), "200x50": (200, 50)}


@pytest.fixture(scope="module")
def other_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("explore") / "other", seed=11)


def make_app(tiny_model: Path, **kw) -> ExplorerApp:
    return ExplorerApp(collection=[str(SAMPLE)], model=str(tiny_model), **kw)


async def settle(app: ExplorerApp, pilot, until=None, timeout: float = 60) -> None:
    """Wait for workers (and a condition) instead of sleeping a fixed time."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        await app.workers.wait_for_complete()
        await pilot.pause()
        if until is None or until():
            return
        await pilot.pause(0.05)
    raise AssertionError("timed out waiting for the app")


async def ready(app: ExplorerApp, pilot) -> None:
    await settle(app, pilot, lambda: app.workspace is not None and app.query(ResultPane))
    app.query_one("#query").cursor_blink = False  # a snapshot must not catch a blink


def text_of(widget) -> str:
    """The plain text a Static shows (a string or any rich renderable)."""
    from rich.console import Console

    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(widget.content)
    return console.export_text()


def rendered(renderable) -> str:
    """The plain text a rich renderable shows (a list entry's name and description)."""
    from rich.console import Console

    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


def panes(app: ExplorerApp) -> list[ResultPane]:
    return list(app.query(ResultPane))


async def compare_with(app: ExplorerApp, pilot, value: str) -> None:
    """F6, then a path or a name typed in the dialog's field and Enter."""
    await pilot.press("f6")
    field = app.screen.query_one("#model")
    field.focus()
    field.value = value
    await pilot.press("enter")


async def test_free_text_query(tiny_model: Path) -> None:
    app = make_app(tiny_model, langs=["en", "de", "zh"])
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press(*"honey bee")
        await settle(app, pilot, lambda: all(p.result for p in panes(app)))
        for pane, lang in zip(panes(app), ["en", "de", "zh"], strict=True):
            assert pane.result.query == "honey bee"
            assert len(pane.result.hits) == 10
            assert {h.lang for h in pane.result.hits} == {lang}
        assert not app.workspace.session.runs  # typing is live, not recorded
        await pilot.press("enter")
        # a free text is one run: its top k is the whole pool's, whichever pane shows it
        await settle(app, pilot, lambda: len(app.workspace.session.runs) == 1)
        summary = app.workspace.session.summary([0], ["tiny"], app.workspace.languages)
        assert summary["free_texts"] == 1 and summary["questions"] == 0
        assert sum(summary["systems"][0]["all"]["shares"].values()) == pytest.approx(1.0)
        plot = app.query_one("#plot-query")
        expected, shares = plot.series  # the pool's shares, then the system's
        # the panes' languages first, in their order, then the others
        assert plot.langs[:3] == ["en", "de", "zh"]
        assert sorted(plot.langs) == sorted(app.workspace.languages)
        assert sum(shares[0]) == pytest.approx(1.0) and sum(expected[0]) == pytest.approx(1.0)
        assert app.query_one("#plot-session").heading == "session: 1 free text"


async def test_question_mode_pick_next_and_paragraph(tiny_model: Path) -> None:
    app = make_app(tiny_model, langs=["en", "th"])
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("f2")
        await settle(
            app,
            pilot,
            lambda: (
                app.mode == QUESTION and panes(app)[0].result and panes(app)[0].result.relevant_ids
            ),
        )
        first = app.qid
        en, th = (p.result for p in panes(app))
        assert en.query == app.workspace.question(first, "en")
        assert th.query == app.workspace.question(first, "th")
        # the query bar shows the question the panes run, its id beside it
        assert app.query_one("#query").value == en.query
        assert first in text_of(app.query_one("#mode"))
        assert en.ap is not None and 0 < en.ap <= 1 and en.rank_distance is not None
        assert len(en.relevant_ids) == len(app.workspace.languages)
        # the searchable picker
        await pilot.press("f3")
        await pilot.press(*"p13-q2")
        await pilot.press("enter")
        await settle(app, pilot, lambda: app.qid == "p13-q2")
        await settle(
            app, pilot, lambda: panes(app)[0].result.query == app.workspace.question("p13-q2", "en")
        )
        assert app.query_one("#query").value == app.workspace.question("p13-q2", "en")
        await pilot.press("ctrl+n")
        await settle(app, pilot, lambda: app.qid == "p13-q3" or app.qid == "p14-q1")
        # whole paragraph of a result
        panes(app)[0].query_one(OptionList).focus()
        await pilot.press("enter")
        await settle(app, pilot, lambda: app.screen.__class__.__name__ == "ParagraphScreen")
        await pilot.press("escape")
        # each pane's own pool
        await pilot.press("f4")
        await settle(
            app,
            pilot,
            lambda: panes(app) and panes(app)[0].result and panes(app)[0].result.pane.restrict,
        )
        assert {h.lang for h in panes(app)[1].result.hits} == {"th"}


async def test_languages_dialog_lists_every_language(tiny_model: Path) -> None:
    app = make_app(tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert len(panes(app)) == 3  # 120 columns: three panes by default
        await pilot.press("f5")
        dialog = app.screen
        choices = dialog.query_one(SelectionList)
        values = [choices.get_option_at_index(i).value for i in range(choices.option_count)]
        assert values == [*app.workspace.languages, "all"]
        assert choices.selected == ["en", "de", "zh"]  # the panes' order
        choices.deselect_all()
        choices.select("ar")
        await tab_to(app, pilot, "apply")
        await pilot.press("enter")
        assert "choose 2 to 4 languages (1 ticked)" in text_of(dialog.query_one("#error"))
        # ticked from the keyboard, in the order the panes take
        choices.focus()
        for lang in ("hi", "ru", "el"):
            choices.highlighted = values.index(lang)
            await pilot.press("space")
        assert choices.selected == ["ar", "hi", "ru", "el"]
        await tab_to(app, pilot, "apply")
        await pilot.press("enter")
        await settle(app, pilot, lambda: len(panes(app)) == 4)
        assert app.langs == ["ar", "hi", "ru", "el"]


async def test_languages_dialog_space_then_enter_adds_a_pane(tiny_model: Path) -> None:
    """What a new user did: Space on ar, then Enter. Enter applies (it used to tick ar off
    again, and Apply then changed nothing, silently); a row says ticked or not and which pane
    it becomes in plain text, not only by the colour of an X; a refusal is said in a line."""
    app = make_app(tiny_model, langs=["en", "de", "zh"])
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("f5")
        dialog = app.screen
        choices = dialog.query_one(SelectionList)
        values = [choices.get_option_at_index(i).value for i in range(choices.option_count)]
        choices.highlighted = values.index("ar")
        await pilot.press("space")
        await pilot.pause()
        rows = {v: choices.render_line(i).text for i, v in enumerate(values)}
        assert rows["en"].startswith("[1] ") and rows["zh"].startswith("[3] ")
        assert rows["ar"].startswith("[4] ") and rows["hi"].startswith("[ ] ")
        assert "Panes, left to right:  en   de   zh   ar" in text_of(dialog.query_one("#order"))
        choices.highlighted = values.index("hi")
        await pilot.press("space")  # a fifth: refused, and said so
        await pilot.press("enter")
        assert app.screen is dialog
        assert "not applied: choose 2 to 4 languages (5 ticked)" in text_of(
            dialog.query_one("#error")
        )
        await pilot.press("space")  # hi off again
        await pilot.press("enter")
        await settle(app, pilot, lambda: len(panes(app)) == 4)
        assert app.langs == ["en", "de", "zh", "ar"]
        # the same languages again: nothing to rebuild, but a word that Apply was heard
        await pilot.press("f5")
        await pilot.press("enter")
        await pilot.pause()
        assert len(panes(app)) == 4
        assert any("the panes stay en · de · zh · ar" in str(n.message) for n in app._notifications)


async def test_compare_two_models(tiny_model: Path, other_model: Path) -> None:
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await compare_with(app, pilot, str(other_model))
        await settle(app, pilot, lambda: app.compare and len(app.workspace.systems) == 2)
        await pilot.press("f2")
        await settle(
            app,
            pilot,
            lambda: (
                all(p.result for p in panes(app))
                and {p.result.system_name for p in panes(app)} == {"tiny", "other"}
            ),
        )
        a, b = (p.result for p in panes(app)[:2])  # en by each system, then de by each
        assert [(p.pane.lang, p.pane.system) for p in panes(app)[2:]] == [("de", 0), ("de", 1)]
        assert a.query == b.query and [h.id for h in a.hits] != [h.id for h in b.hits]
        text = text_of(app.query_one("#bias-legend")) + text_of(app.query_one("#bias-text"))
        assert "tiny" in text and "other" in text
        assert len(app.query_one("#plot-query").series) == 3  # the pool, then both systems


async def test_compare_mode_reaches_every_language(tiny_model: Path) -> None:
    """Comparing with bm25 at 200x50 with en, de, zh: a pane per language and system, a
    language's two side by side, Tab to the languages waiting to the right (the hints name
    them), the plots below as in normal mode; F6's first entry, none, stops comparing."""
    app = make_app(tiny_model, langs=["en", "de", "zh"])
    async with app.run_test(size=(200, 50)) as pilot:
        await ready(app, pilot)
        await compare_with(app, pilot, "bm25")
        await settle(app, pilot, lambda: app.compare and len(panes(app)) == 6)
        await pilot.press(*"honey bee")
        await settle(app, pilot, lambda: all(p.result for p in panes(app)))
        shown = [(p.result.pane.lang, p.result.system_name) for p in panes(app)]
        assert shown == [(x, s) for x in ("en", "de", "zh") for s in ("tiny", "bm25")]
        await pilot.pause()
        row = app.query_one("#panes")
        assert row.scroll_x == 0 and "zh → (Tab)" in str(panes(app)[3].border_subtitle)
        await tab_to(app, pilot, "hits-4")
        await pilot.pause()
        step = panes(app)[0].outer_size.width + 1
        assert row.scroll_x == 2 * step  # by a whole language: de and zh in view
        assert "← en" in str(panes(app)[2].border_subtitle)
        assert panes(app)[5].border_subtitle is None
        # the plots below the panes, both systems in them
        assert app.screen.has_class("-bias-below") and app.query_one("#bias").display
        assert len(app.query_one("#plot-query").series) == 3
        await pilot.press("f1")
        assert "none: stop comparing" in text_of(app.screen.query_one("#keys"))
        await pilot.press("escape")
        await pilot.press("f6")
        choices = app.screen.query_one("#choices")
        assert "stop comparing with bm25" in rendered(choices.get_option_at_index(0).prompt)
        choices.highlighted = 0
        await pilot.press("enter")
        await settle(app, pilot, lambda: not app.compare and len(panes(app)) == 3)
        await settle(app, pilot, lambda: all(p.result for p in panes(app)))
        assert {p.result.system_name for p in panes(app)} == {"tiny"}


async def test_a_resized_terminal_gets_a_bias_line_of_its_width(tiny_model: Path) -> None:
    """The one-line bias (plots hidden with F9) cut for 80 columns stayed cut at 200 after
    the terminal grew: it is cut for the new width."""
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        await compare_with(app, pilot, "bm25")
        await settle(app, pilot, lambda: app.compare and len(app.workspace.systems) == 2)
        await pilot.press(*"honey bee")
        await settle(app, pilot, lambda: all(p.result for p in panes(app)))
        await pilot.press("f9", "f9")  # the plots shown in the panes' place, then hidden
        narrow = text_of(app.query_one("#strip")).rstrip()
        # cut to fit, but never its way to the plots (it used to end `· F9 …`)
        assert narrow.endswith("· F9 plots") and len(narrow) <= 78
        await pilot.resize_terminal(200, 50)
        await settle(app, pilot, lambda: app.size == (200, 50))
        await pilot.pause()
        assert app.query_one("#strip").display
        wide = text_of(app.query_one("#strip")).rstrip()
        assert wide.endswith("· pool 10% each · F9 plots") and len(wide) > len(narrow)


async def test_worker_error_is_shown_and_the_app_carries_on(
    tiny_model: Path, tmp_path: Path
) -> None:
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await compare_with(app, pilot, str(tmp_path / "missing-model"))
        await settle(
            app, pilot, lambda: "no such model folder" in text_of(app.query_one("#status"))
        )
        assert app.is_running and not app.compare
        await pilot.press(*"glacier")
        await settle(app, pilot, lambda: panes(app)[0].result is not None)


async def tab_to(app: ExplorerApp, pilot, widget_id: str) -> None:
    """Move the focus with Tab, as a person does, until it reaches the widget."""
    for _ in range(30):
        if app.focused is not None and app.focused.id == widget_id:
            return
        await pilot.press("tab")
    raise AssertionError(f"Tab never reached #{widget_id} (focus: {app.focused})")


def test_explore_bad_input(capsys, tmp_path: Path, sample_index: Path) -> None:
    code, _, err = run_cli(
        ["explore", "--index", str(sample_index), "--collection", str(SAMPLE)], capsys
    )
    assert_one_line_error(code, err, "not both")
    code, _, err = run_cli(["explore", "--langs", "en,de,zh,ar,hi"], capsys)
    assert_one_line_error(code, err, "2 to 4 languages")
    code, _, err = run_cli(["explore", "--index", str(tmp_path / "none")], capsys)
    assert_one_line_error(code, err, "no such index folder")


# ------------------------------------------------------------------------------- snapshots


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_snapshot_free_text(snap_compare, tiny_model: Path, size) -> None:
    """The panes the width allows (2, 3, 4), sentences at their real width: two lines and an
    ellipsis on a short terminal, whole on tall ones; the bias plots below, or a line."""

    async def run_before(pilot) -> None:
        await ready(pilot.app, pilot)
        await pilot.press(*"volcano")
        await pilot.press("enter")
        await settle(pilot.app, pilot, lambda: all(p.result for p in panes(pilot.app)))

    assert snap_compare(make_app(tiny_model), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_snapshot_question_mode(snap_compare, tiny_model: Path, size) -> None:
    async def run_before(pilot) -> None:
        await ready(pilot.app, pilot)
        await pilot.press("f2")
        await settle(
            pilot.app,
            pilot,
            lambda: all(p.result and p.result.relevant_ids for p in panes(pilot.app)),
        )

    assert snap_compare(
        make_app(tiny_model, langs=["en", "ar", "th"]), terminal_size=size, run_before=run_before
    )


def snapshot_dialog(snap_compare, tiny_model: Path, size, open_it) -> bool:
    """A dialog over the main screen with results."""

    async def run_before(pilot) -> None:
        await ready(pilot.app, pilot)
        await pilot.press("f2")
        await settle(pilot.app, pilot, lambda: all(p.result for p in panes(pilot.app)))
        await open_it(pilot)
        await pilot.pause()

    return snap_compare(
        make_app(tiny_model, langs=["en", "de"]), terminal_size=size, run_before=run_before
    )


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_snapshot_help(snap_compare, tiny_model: Path, size) -> None:
    async def open_it(pilot) -> None:
        await pilot.press("f1")

    assert snapshot_dialog(snap_compare, tiny_model, size, open_it)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_snapshot_paragraph(snap_compare, tiny_model: Path, size) -> None:
    async def open_it(pilot) -> None:
        panes(pilot.app)[0].query_one(OptionList).focus()
        await pilot.press("enter")

    assert snapshot_dialog(snap_compare, tiny_model, size, open_it)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_snapshot_question_picker(snap_compare, tiny_model: Path, size) -> None:
    async def open_it(pilot) -> None:
        await pilot.press("f3")
        await pilot.press(*"volcano")

    assert snapshot_dialog(snap_compare, tiny_model, size, open_it)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_snapshot_languages(snap_compare, tiny_model: Path, size) -> None:
    async def open_it(pilot) -> None:
        await pilot.press("f5")

    assert snapshot_dialog(snap_compare, tiny_model, size, open_it)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_snapshot_compare(
    snap_compare, tiny_model: Path, size, tmp_path: Path, monkeypatch
) -> None:
    """The list (embedded models, lexical systems, the fusion, a trained folder) and the
    path field completing a folder name."""
    import os

    monkeypatch.chdir(tmp_path)
    trained = tmp_path / "runs" / "hybrid-a0.5"
    trained.mkdir(parents=True)
    (trained / "modules.json").write_text("[]")
    stamp = time.mktime((2026, 1, 1, 12, 0, 0, 0, 0, -1))
    os.utime(trained, (stamp, stamp))
    monkeypatch.setattr(
        "xlir_tui.tui.screens.compare.recent_models", lambda: [Path("runs/hybrid-a0.5")]
    )

    async def open_it(pilot) -> None:
        await pilot.press("f6")
        await pilot.press("tab")
        await pilot.press(*"runs/hy")
        await pilot.pause()

    assert snapshot_dialog(snap_compare, tiny_model, size, open_it)


# ---------------------------------------------------------------------------------- layout


def test_hit_text_wraps_at_the_given_width() -> None:
    from types import SimpleNamespace

    from rich.cells import cell_len

    long = "The queen bee lays up to two thousand eggs a day in spring, " * 3
    hit = SimpleNamespace(rank=3, score=0.8234, lang="en", text=long)
    whole = hit_text(hit, width=36, max_lines=None, relevant=True).plain.split("\n")
    assert len(whole) > 3 and all(cell_len(x) <= 36 for x in whole)
    assert whole[0].startswith(" 3 0.823  en ✓ The") and whole[1].startswith("   ")
    assert " ".join(x.strip() for x in whole).endswith("in spring,")
    cut = hit_text(hit, width=36, max_lines=2, relevant=None).plain.split("\n")
    assert len(cut) == 2 and cut[1].endswith("…") and all(cell_len(x) <= 36 for x in cut)
    # Chinese has no spaces: the first line still starts the sentence, cells counted twice
    zh = SimpleNamespace(rank=10, score=0.5, lang="zh", text="蜂王是蜂群中唯一能够产卵的雌蜂，" * 4)
    lines = hit_text(zh, width=30, max_lines=2, show_lang=False).plain.split("\n")
    assert lines[0].startswith("10 0.500 蜂王") and all(cell_len(x) <= 30 for x in lines)


def test_share_chart_bars_and_the_pool_line() -> None:
    """Bars in eighths of a row, side by side for two systems, the pool's share as a tick
    where no bar stands, and never wider than asked."""
    from xlir_tui.tui.bias import share_chart

    langs = ["ar", "de", "en", "zh"]
    pool = ([0.25] * 4, (1, 1, 1))
    one = ([0.5, 0.0, 0.5, 0.0], (2, 2, 2))
    lines = share_chart("this query", langs, [pool, one], 30, 11).plain.split("\n")
    assert lines[0].strip() == "this query" and lines[-1].split() == langs
    bars = lines[1:-2]  # 8 rows: the ceiling is 60% (the top share rounded up to a fifth)
    assert len(bars) == 8 and bars[0].startswith(" 60%┤")
    column = [row[5 + 1] for row in bars]  # ar's bar: 50% of 60% is 6 rows and 5 eighths
    assert "".join(column) == " ▅██████"
    # 25% of 60% of 8 rows is 3 rows and 3 eighths: a low tick in the fourth row from the bottom
    assert ["▁" in row for row in bars] == [False] * 4 + [True] + [False] * 3
    two = ([0.1, 0.2, 0.3, 0.4], (3, 3, 3))
    for width in (12, 30, 80):
        chart = share_chart("x", langs, [pool, one, two], width, 11).plain.split("\n")
        assert max(len(x) for x in chart) <= width
    # ten languages, two systems in 32 columns (compare mode at 120x40): no room for the axis,
    # so the heading says the scale the bars are drawn to
    ten = [f"l{i}" for i in range(10)]
    series = [([0.1] * 10, (1, 1, 1)), ([0.5] + [0.05] * 9, (2, 2, 2)), ([0.3] * 10, (3, 3, 3))]
    chart = share_chart("this query", ten, series, 32, 11).plain.split("\n")
    assert chart[0].strip() == "this query · top 60%" and "┤" not in "".join(chart)
    # eleven languages, one system in 30 columns: groups of two cells leave no room for a tag
    # and a space, so the tags take two rows, every other language on each; every tag whole
    # (one letter each made el, en and es all "e"), each under its own bar
    eleven = ["ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"]
    pool = ([1 / 11] * 11, (1, 1, 1))
    one = ([0.3] * 11, (2, 2, 2))
    chart = share_chart("x", eleven, [pool, one], 30, 11).plain.split("\n")
    assert len(chart) == 11 and max(len(x) for x in chart) <= 30
    assert chart[-2].split() == eleven[0::2] and chart[-1].split() == eleven[1::2]
    bar_columns = [x for x, ch in enumerate(chart[-4]) if ch == "█"]
    tag_columns = [max(chart[-2].find(t), chart[-1].find(t)) for t in eleven]
    assert tag_columns == bar_columns


def test_the_session_counts_fit_their_column_without_breaking_a_phrase() -> None:
    """Beside the figures at 120x40 the counts wrapped mid-phrase (``+ 2`` / ``free texts``):
    the longest form that fits is drawn, else two lines broken where the counts join."""
    from rich.console import Console
    from rich.text import Text

    from xlir_tui.tui.bias import Fitted, session_counts

    session = {"questions": 4, "question_runs": 16, "free_texts": 2, "languages": list("abc")}
    full, short = session_counts(session), session_counts(session, short=True)
    forms = [Text(x + ", paired") for x in (full, short, short.replace(" + ", "\n+ ", 1))]
    drawn = {}
    for width in (80, 38):
        console = Console(width=width, record=True, color_system=None)
        console.print(Fitted(forms))
        drawn[width] = console.export_text().rstrip("\n").split("\n")
    assert drawn[80] == ["session: 4 questions in 16 runs + 2 free texts, paired"]
    assert drawn[38] == ["session: 4 questions in 16 runs", "+ 2 free texts, paired"]


def test_default_pane_count_follows_the_width() -> None:
    assert [default_pane_count(w) for w in (80, 120, 200)] == [2, 3, 4]


def test_the_size_is_the_terminal_s_it_draws_on(monkeypatch) -> None:
    """``explore > log``: stdout is a file, stderr (where Textual draws) a 200x50 terminal.
    Textual asked shutil, which reads stdout only, and drew at 80x24."""
    import os

    from textual.drivers.linux_driver import LinuxDriver

    from xlir_tui.tui.terminal import sized_driver, terminal_size

    terminals = {2: os.terminal_size((200, 50))}

    def get_terminal_size(fd: int = 1) -> os.terminal_size:
        if fd in terminals:
            return terminals[fd]
        raise OSError(25, "Inappropriate ioctl for device")

    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)
    monkeypatch.setattr(os, "get_terminal_size", get_terminal_size)
    monkeypatch.setattr(os, "open", lambda *a, **k: (_ for _ in ()).throw(OSError(6, "no tty")))

    class Stderr:
        def fileno(self) -> int:
            return 2

    assert terminal_size(Stderr()) == (200, 50)
    driver = sized_driver(LinuxDriver)
    assert issubclass(driver, LinuxDriver)
    assert driver._get_terminal_size(type("D", (), {"_file": Stderr()})()) == (200, 50)
    # stdin a terminal, stderr not: stdin's size; none a terminal: Textual's own fallback
    terminals = {0: os.terminal_size((132, 43))}
    assert terminal_size(Stderr()) == (132, 43)
    terminals = {}
    assert terminal_size(Stderr()) is None
    # COLUMNS and LINES win, as shutil has them win
    monkeypatch.setenv("COLUMNS", "90")
    monkeypatch.setenv("LINES", "30")
    assert terminal_size(Stderr()) == (90, 30)
    # the explorer runs on it
    assert ExplorerApp().driver_class.__name__ == "SizedLinuxDriver"


def test_bias_plots_go_where_there_is_room(tiny_model: Path) -> None:
    app = make_app(tiny_model)
    assert app.bias_place(80, 24) == "off"  # a line under the panes; F9 shows the plots
    assert app.bias_place(120, 40) == "below"
    assert app.bias_place(200, 50) == "below"
    assert app.bias_place(170, 30) == "beside"
    app.bias_shown = True
    assert app.bias_place(80, 24) == "full"
    app.bias_shown = False
    assert app.bias_place(200, 50) == "off"


async def test_small_terminal_two_panes_of_readable_sentences(tiny_model: Path) -> None:
    app = make_app(tiny_model)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        assert [p.pane.lang for p in panes(app)] == ["en", "de"]
        await pilot.press(*"volcano")
        await settle(app, pilot, lambda: all(p.result for p in panes(app)))
        for pane in panes(app):
            hits = pane.query_one(OptionList)
            width = hits.scrollable_content_region.width
            assert width >= 30  # a readable column, not 8 characters
            prompts = [hits.get_option_at_index(i).prompt.plain for i in range(hits.option_count)]
            for prompt in prompts[1:]:  # the first is highlighted: whole
                assert len(prompt.split("\n")) <= 2
                assert all(len(line) <= width for line in prompt.split("\n"))
            assert any(p.endswith("…") for p in prompts[1:])
        assert app.query_one("#strip").display and not app.query_one("#bias").display
        assert "top 10:" in text_of(app.query_one("#strip"))
        await pilot.press("f9")  # the plots in the panes' place
        await pilot.pause()
        assert app.query_one("#bias").display and not app.query_one("#panes").display
        await pilot.press("f9")
        await pilot.pause()
        assert app.query_one("#panes").display


async def test_more_panes_than_fit_scroll_sideways(tiny_model: Path) -> None:
    """Four panes at 80 columns keep a readable width; Tab brings the hidden ones into view."""
    app = make_app(tiny_model, langs=["en", "de", "zh", "th"])
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        await pilot.pause()
        widths = [p.outer_size.width for p in panes(app)]
        assert widths == [39] * 4  # two share the 80 columns, the others wait to the right
        container = app.query_one("#panes")
        assert container.scroll_x == 0
        assert "2 more → (Tab)" in str(panes(app)[1].border_subtitle)
        await tab_to(app, pilot, "hits-2")
        await pilot.pause()
        assert container.scroll_x == 40  # by whole panes: the second and the third in view
        assert "← 1 more" in str(panes(app)[1].border_subtitle)
        await tab_to(app, pilot, "hits-3")
        await pilot.pause()
        assert container.scroll_x == 80
        assert "← 2 more" in str(panes(app)[2].border_subtitle)
        await tab_to(app, pilot, "hits-0")
        await pilot.pause()
        assert container.scroll_x == 0


async def test_every_key_is_in_the_command_palette(tiny_model: Path) -> None:
    app = make_app(tiny_model)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        names = {c.callback.__name__ for c in app.get_system_commands(app.screen)}
        for binding in app.BINDINGS:
            assert f"action_{binding.action}" in names, binding


async def test_typing_while_loading_runs_when_ready(tiny_model: Path, monkeypatch) -> None:
    """The query bar takes a query (and Enter) while the model and index load; the panes
    show a bar meanwhile; the query runs, and counts, once they are ready."""
    import threading

    from xlir_tui.app.explore import Workspace
    from xlir_tui.tui.messages import LoadProgress

    release = threading.Event()
    real_open = Workspace.open.__func__

    def slow_open(cls, **kw):
        release.wait(60)
        return real_open(cls, **kw)

    monkeypatch.setattr(Workspace, "open", classmethod(slow_open))
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press(*"honey bee")
        await pilot.press("enter")
        assert app.workspace is None and app.query_one(LoadingPanel).display
        assert "runs when the model is ready" in text_of(app.query_one("#status"))
        app.post_message(LoadProgress("encoding candidates", 30, 1090, "once"))
        await pilot.pause()
        bar = app.query_one("#load-bar")
        assert (bar.total, bar.progress) == (1090, 30)
        release.set()
        await ready(app, pilot)
        await settle(app, pilot, lambda: all(p.result for p in panes(app)))
        assert panes(app)[0].result.query == "honey bee"
        assert not app.query(LoadingPanel)  # gone, its clock with it
        assert len(app.workspace.session.runs) == 1  # the Enter counted


async def test_a_model_that_fails_to_load_shows_its_error_and_exits_1(
    tiny_model: Path, tmp_path: Path
) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "model.safetensors").write_text("not weights")
    app = make_app(broken)
    async with app.run_test(size=(80, 24)) as pilot:
        deadline = time.time() + 60
        # the screen is pushed before it has composed: wait for its text too
        while time.time() < deadline and not (
            isinstance(app.screen, ErrorScreen) and app.screen.query("#error-text")
        ):
            await pilot.pause(0.1)  # (settle would raise the worker's error)
        shown = text_of(app.screen.query_one("#error-text"))
        assert str(broken) in shown and "cannot load model" in shown
        assert app.failure is not None and " ".join(app.failure.split()) == " ".join(shown.split())
        await pilot.press("enter")  # Quit
    assert app.return_code == 1


async def test_a_long_query_is_noted_and_shortened(tiny_model: Path) -> None:
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        app.query_one("#query").value = "honey bees and their queen " * 30
        await pilot.press("enter")
        await settle(app, pilot, lambda: "note:" in text_of(app.query_one("#status")))
        assert "tiny reads the first 64" in text_of(app.query_one("#status"))
        # question mode: each pane's own question on one line, cut to the pane's width
        await pilot.press("f2")
        await settle(app, pilot, lambda: panes(app)[0].result.query_lang == "en")
        line = text_of(panes(app)[0].query_one(".pane-query")).strip()
        assert "\n" not in line and len(line) <= panes(app)[0].size.width


async def test_question_mode_and_back_to_free_text(tiny_model: Path) -> None:
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press(*"glacier")
        await pilot.press("f2")
        await settle(app, pilot, lambda: app.mode == QUESTION and panes(app)[0].result.query_lang)
        assert app.query_one("#query").value == app.workspace.question(app.qid, "en")
        await pilot.press("f2")  # back: the free text comes back
        await settle(
            app, pilot, lambda: app.mode == FREE and panes(app)[0].result.query == "glacier"
        )
        assert app.query_one("#query").value == "glacier"
        await pilot.press("f2")
        await settle(app, pilot, lambda: app.mode == QUESTION)
        app.query_one("#query").focus()
        await pilot.press("end", *" ice")  # typing over the question: free text again
        await settle(
            app, pilot, lambda: app.mode == FREE and panes(app)[0].result.query.endswith(" ice")
        )


async def test_counts_say_question_ids_and_questions(tiny_model: Path) -> None:
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        status = text_of(app.query_one("#status"))
        assert "71 questions in 10 languages (710 in all), 1,090 candidates" in status


def test_a_request_encodes_each_query_once_and_keeps_none(tiny_model: Path) -> None:
    """Free text in three panes is one encoding; the explorer's queries stay out of the
    embedding cache (the index keeps the candidates)."""
    from xlir_tui.app.explore import Pane, Workspace
    from xlir_tui.retrieval.specs import SystemSpec

    ws = Workspace.open(collection=[str(SAMPLE)], spec=SystemSpec("dense", str(tiny_model)))
    encoder = ws.systems[0].encoder
    assert ws.systems[0].query_cache is False
    seen: list[list[str]] = []
    encode = encoder.encode_queries

    def counting(texts, *args, **kw):
        assert kw.get("cache") is False  # nothing typed goes to the embedding cache
        seen.append(list(texts))
        return encode(texts, *args, **kw)

    encoder.encode_queries = counting
    results = ws.run([Pane("en"), Pane("de"), Pane(None)], text="honey bee queen")
    assert seen == [["honey bee queen"]]
    assert not ws.session.runs  # answering records nothing: the session figures are record's
    assert ws.record(results, None, "honey bee queen", systems=[object()]) == 0  # replaced
    assert ws.record(results, None, "honey bee queen") == 1
    assert ws.record(results, None, "honey bee queen") == 0  # each run once per system
    assert [{h.lang for h in r.hits} for r in results[:2]] == [{"en"}, {"de"}]
    seen.clear()
    ws.run([Pane("en"), Pane("th")], qid="p01-q1")  # two translations: two queries
    assert len(seen) == 1 and len(seen[0]) == 2
    # a question in the all pane: no language to ask it in, said in words
    *_, whole = ws.run([Pane("en"), Pane(None)], qid="p01-q1")
    assert not whole.hits and "None" not in whole.note
    assert whole.note.startswith("a question is asked in each pane's language")


def test_explore_checks_what_it_can_before_the_app(capsys, tmp_path: Path) -> None:
    plain = tmp_path / "plainfile.txt"
    plain.write_text("not a model")
    code, _, err = run_cli(["explore", "--model", str(plain)], capsys)
    assert_one_line_error(code, err, "plainfile.txt: a model must be a folder, not a file")
    code, _, err = run_cli(["explore", "--model", str(tmp_path / "nothing")], capsys)
    assert_one_line_error(code, err, "no such model folder")
    code, _, err = run_cli(["explore", "--langs", "en,xx"], capsys)
    assert_one_line_error(code, err, "unknown language xx for sample_data", "'all'")
    code, _, err = run_cli(["explore", "--collection", str(tmp_path / "missing")], capsys)
    assert_one_line_error(code, err, "missing")


def test_explore_checks_an_index_s_languages(capsys, sample_index: Path) -> None:
    code, _, err = run_cli(["explore", "--index", str(sample_index), "--langs", "en,tlh"], capsys)
    assert_one_line_error(code, err, "unknown language tlh", "ar, de")


async def test_open_an_index_folder(sample_index: Path) -> None:
    """``xlir-tui explore --index DIR``: the index's own model, no collection needed."""
    app = ExplorerApp(index=str(sample_index), langs=["en", "th"])
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press(*"glacier")
        await pilot.press("enter")
        await settle(app, pilot, lambda: all(p.result for p in panes(app)))
        assert {h.lang for h in panes(app)[1].result.hits} == {"th"}
        assert app.workspace.collection.questions.height > 0


async def test_compare_with_a_lexical_system(tiny_model: Path) -> None:
    app = make_app(tiny_model, langs=["de", "en"])
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("f6")  # chosen from the dialog's list
        choices = app.screen.query_one("#choices")
        ids = [choices.get_option_at_index(i).id for i in range(choices.option_count)]
        assert {"all-minilm-l6-v2", "bm25", "chargram", "fusion"} <= set(ids)
        for _ in range(ids.index("chargram")):
            await pilot.press("down")
        await pilot.press("enter")
        await settle(app, pilot, lambda: app.compare and len(app.workspace.systems) == 2)
        await pilot.press(*"Bienenkönigin")
        await pilot.press("enter")
        await settle(
            app,
            pilot,
            lambda: (
                all(p.result for p in panes(app)) and panes(app)[1].result.system_name == "chargram"
            ),
        )
        lexical = panes(app)[1].result
        assert lexical.hits and "Königin" in lexical.hits[0].text
        app.query_one("#query").value = "ᚠᚢᚦ"  # a script no document uses
        await pilot.press("enter")
        await settle(app, pilot, lambda: panes(app)[1].result.query == "ᚠᚢᚦ")
        assert panes(app)[1].result.hits == [] and "no candidate" in panes(app)[1].result.note


async def test_explore_with_a_fusion_beside_a_lexical_system(tiny_model: Path) -> None:
    """``explore --system fusion``: the main pane fuses the model with BM25; bm25 compares."""
    import numpy as np

    from xlir_tui.retrieval.specs import FusionSpec, SystemSpec

    spec = FusionSpec.parse("dense,bm25", "rrf", "0.4")
    app = make_app(tiny_model, langs=["de", "en"], spec=SystemSpec("fusion", str(tiny_model), spec))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await compare_with(app, pilot, "bm25")
        await settle(app, pilot, lambda: app.compare and len(app.workspace.systems) == 2)
        await pilot.press(*"Königin Eier")
        await pilot.press("enter")
        await settle(app, pilot, lambda: all(p.result for p in panes(app)))
        fused, lexical = (p.result for p in panes(app)[:2])  # de by each system
        assert fused.system_name == f"fusion({tiny_model.name}+bm25, rrf, 0.4/0.6)"
        assert lexical.system_name == "bm25" and "Königin" in lexical.hits[0].text
        # the pane shows the fusion of the parts' own scores over its language's pool
        ws = app.workspace
        parts = [s.scores(["Königin Eier"]) for s in ws.systems[0].parts.values()]
        scores = spec.combine(parts)[0]
        rows = ws.pool.rows_for(["de"])
        best = rows[np.lexsort((rows, -scores[rows]))][:10]
        assert [h.row for h in fused.hits] == best.tolist()


async def test_open_a_lexical_index_folder(sample_dir: Path, tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(
        ["index", str(sample_dir), "--system", "chargram", "--out", str(tmp_path / "c")], capsys
    )
    assert code == 0, err
    app = ExplorerApp(index=str(tmp_path / "c"), langs=["de", "th"])
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press(*"Königin Eier")
        await settle(app, pilot, lambda: all(p.result for p in panes(app)))
        assert panes(app)[0].result.system_name == "chargram"
        assert "Königin" in panes(app)[0].result.hits[0].text
        assert panes(app)[1].result.hits == []  # Thai shares no n-gram with a German word


def test_explore_system_bad_input(capsys, sample_index: Path) -> None:
    code, _, err = run_cli(["explore", "--index", str(sample_index), "--system", "bm25"], capsys)
    assert_one_line_error(code, err, "--system goes with --collection")
    code, _, err = run_cli(["explore", "--system", "tfidf"], capsys)
    assert_one_line_error(code, err, "unknown --system 'tfidf'")
    code, _, err = run_cli(["explore", "--system", "fusion", "--fuse", "bm25"], capsys)
    assert_one_line_error(code, err, "two or more different")
    code, _, err = run_cli(["explore", "--translate-query", "en"], capsys)
    assert_one_line_error(code, err, "--translate-query and --mt go together")


async def test_the_layout_follows_a_resized_terminal(tiny_model: Path) -> None:
    """A terminal made larger (or smaller) gets the layout of its new size: the query bar's
    border, the rows per hit and the place of the plots, as if the explorer had started there."""
    app = make_app(tiny_model, langs=["en", "de", "zh"])
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        query = app.query_one("#query")
        assert query.compact and query.region.height == 1
        await pilot.resize_terminal(200, 50)
        await settle(app, pilot, lambda: app.size == (200, 50))
        await pilot.pause()
        assert not query.compact and query.region.height == 3
        assert app.screen.has_class("-bias-below")
        await pilot.resize_terminal(80, 24)
        await settle(app, pilot, lambda: app.size == (80, 24))
        await pilot.pause()
        assert query.compact and query.region.height == 1


# ------------------------------------------------------------------- what a terminal shows


class Terminal:
    """What a real terminal shows of an app: the frames it is sent, applied one after another
    over what was there. A headless app draws nothing, and its screenshots are composed whole,
    so a region the app forgets to repaint looks right in them; here it keeps its old cells, as
    in tmux. Cells are measured as Textual measures them (a combining mark joins the cell
    before it)."""

    _TOKENS = re.compile(r"\x1b\[(\d+);(\d+)H|\x1b\[[0-9;:?]*[A-Za-z]|\x1b[^\[]|\n|[^\x1b\n]")

    def __init__(self, app: ExplorerApp, width: int, height: int) -> None:
        from rich.console import Console

        self.cells = [[" "] * width for _ in range(height)]
        self.written: set[tuple[int, int]] = set()  # (row, column) of the cells sent
        self.console = Console(width=width, color_system=None, force_terminal=True)
        app._display = self.display  # type: ignore[method-assign]

    def display(self, screen, update) -> None:
        from rich.cells import cell_len

        if update is None or not hasattr(update, "render_segments"):
            return
        x = y = 0
        height, width = len(self.cells), len(self.cells[0])
        for m in self._TOKENS.finditer(update.render_segments(self.console)):
            token = m.group(0)
            if m.group(1):
                y, x = int(m.group(1)) - 1, int(m.group(2)) - 1
            elif token == "\n":
                y += 1
            elif not token.startswith("\x1b") and 0 <= y < height:
                cells = cell_len(token)
                if cells == 0:
                    if 0 < x <= width:
                        self.cells[y][x - 1] += token
                    continue
                if 0 <= x < width:
                    self.cells[y][x] = token
                    self.written.add((y, x))
                    if cells == 2 and x + 1 < width:
                        self.cells[y][x + 1] = ""
                x += cells

    def text(self) -> str:
        return "\n".join("".join(row) for row in self.cells)


def composed(app: ExplorerApp) -> str:
    """The screen as the app composes it whole (what a screenshot shows)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(s.text for s in strip) for strip in strips)


async def test_a_pane_scrolled_into_view_is_drawn_whole(tiny_model: Path) -> None:
    """Three panes at 80 columns; Tab to the third (de|zh in view), Down, then round to the
    first: the terminal must show en with its own results, not de's border left over en's
    results (what tmux showed when the row scrolled behind Textual's back); the hint says on
    which side a pane waits."""
    app = make_app(tiny_model, langs=["en", "de", "zh"])
    terminal = Terminal(app, 80, 24)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        await pilot.press(*"honey bee")
        await settle(app, pilot, lambda: all(p.result for p in panes(app)))
        row = app.query_one("#panes").region
        for key in ("tab", "tab", "tab", "down", "down", "tab", "tab", "down", "down"):
            await pilot.press(key)
            await pilot.pause(0.2)  # frames come on a timer
            assert terminal.text() == composed(app), f"after {key} to {app.focused.id}"
            if app.focused.id == "hits-2":
                bottom = terminal.text().split("\n")[row.bottom - 1]
                assert "← 1 more" in bottom[:40] and "more →" not in bottom
        assert app.focused.id == "hits-0" and app.query_one("#panes").scroll_x == 0
        lines = terminal.text().split("\n")
        assert " en " in lines[row.y][:40] and " de " in lines[row.y][40:]
        assert "1 more → (Tab)" in lines[row.bottom - 1][40:]


async def test_new_results_repaint_the_gaps_between_panes(tiny_model: Path) -> None:
    """Hindi and Thai results left stray glyphs in the one-column gaps between panes in tmux
    (a terminal that measures a combining mark otherwise than Textual spills it there): new
    results repaint the whole row, the gaps and borders included, as a scroll does."""
    app = make_app(tiny_model, langs=["en", "hi", "th"])
    terminal = Terminal(app, 120, 40)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await pilot.press(*"honey bee")
        await settle(app, pilot, lambda: all(p.result for p in panes(app)))
        await pilot.pause(0.2)
        terminal.written.clear()
        await pilot.press(*" queen")
        await settle(
            app, pilot, lambda: all(p.result.query == "honey bee queen" for p in panes(app))
        )
        await pilot.pause(0.2)  # frames come on a timer
        row = app.query_one("#panes").region
        gaps = [p.region.x - 1 for p in panes(app)[1:]]
        missed = [
            (y, x) for y in range(row.y, row.bottom) for x in gaps if (y, x) not in terminal.written
        ]
        assert not missed, f"{len(missed)} gap cells not repainted, e.g. {missed[:3]}"


async def test_typing_over_a_question_replaces_it(tiny_model: Path) -> None:
    """Question mode shows the question selected: the first key typed replaces it (free text
    again), it is not inserted before the question."""
    app = make_app(tiny_model, langs=["en", "zh"])
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        await pilot.press("f2")
        await settle(app, pilot, lambda: app.mode == QUESTION and panes(app)[0].result.query_lang)
        query = app.query_one("#query")
        assert app.focused is query and query.selected_text == query.value != ""
        await pilot.press(*"which queen")
        await pilot.press("enter")
        await settle(
            app, pilot, lambda: app.mode == FREE and panes(app)[0].result.query == "which queen"
        )
        assert query.value == "which queen"
        await pilot.press("ctrl+n")  # the next question, selected in its turn
        await settle(app, pilot, lambda: app.mode == QUESTION)
        assert query.selected_text == query.value == app.workspace.question(app.qid, "en")


async def test_shift_tab_from_a_pane_returns_to_the_query_bar(tiny_model: Path) -> None:
    """Shift+Tab from any pane goes back to the query bar, with the cursor at the end of the
    free text (typing goes on with it); a key typed in a pane goes to the query bar too; the
    focused query bar is plainly marked on a short terminal (no border there)."""
    app = make_app(tiny_model, langs=["en", "de", "zh"])
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        query = app.query_one("#query")
        await pilot.press(*"honey")
        focused_bg = cell_background(app, query)
        await pilot.press("tab", "tab")
        assert app.focused.id == "hits-1"
        blurred_bg = cell_background(app, query)
        assert max(abs(a - b) for a, b in zip(focused_bg, blurred_bg, strict=True)) >= 20
        await pilot.press("shift+tab")
        assert app.focused is query
        await pilot.press(*" bee")
        assert query.value == "honey bee"
        await pilot.press("tab", "tab", "tab")
        assert app.focused.id == "hits-2"
        await pilot.press("shift+tab")
        assert app.focused is query
        await pilot.press("tab")
        await pilot.press(*"s")  # typed in a pane: it goes on in the query bar
        assert app.focused is query and query.value == "honey bees"
        await settle(app, pilot, lambda: panes(app)[0].result.query == "honey bees")


def cell_background(app: ExplorerApp, widget) -> tuple[int, int, int]:
    """The background colour of a widget's last cell as composed (its empty part)."""
    region = widget.region
    strip = app.screen._compositor.render_strips()[region.y]
    x = 0
    for segment in strip:
        x += len(segment.text)
        if x >= region.right:
            return segment.style.bgcolor.get_truecolor()[:3]
    raise AssertionError("no cell")


async def test_own_pool_runs_stay_out_of_the_session_figures(tiny_model: Path) -> None:
    """The session figures are the whole pool's: F4 (own pools) and back runs the question
    again, but neither the own-pool run nor the repeat is counted a second time."""
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("f2")
        session = app.workspace.session
        await settle(app, pilot, lambda: len(session.runs) == 2)
        before = dict(session.figures[0])
        await pilot.press("f4")
        await settle(
            app, pilot, lambda: panes(app)[0].result and panes(app)[0].result.pane.restrict
        )
        await pilot.press("f4")
        await settle(
            app, pilot, lambda: panes(app)[0].result and not panes(app)[0].result.pane.restrict
        )
        assert session.figures[0] == before
        await pilot.press("ctrl+n")  # a new question counts
        await settle(app, pilot, lambda: len(session.runs) == 4)
