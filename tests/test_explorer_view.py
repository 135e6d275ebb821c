"""The explorer's view as a researcher relies on it: the last compare choice wins, session
figures paired across systems and exported, the question picker searching every language,
Hindi and Thai rows that stay inside their panes, and nothing that matters clipped."""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
import unicodedata
from pathlib import Path

import polars as pl
import pytest
from conftest import build_tiny_model
from test_explorer import (
    SIZES,
    Terminal,
    compare_with,
    composed,
    make_app,
    panes,
    ready,
    settle,
    text_of,
)
from textual.widgets import LoadingIndicator

from xlir_tui.app.explore import Workspace
from xlir_tui.tui.app import PANE_ROWS, QUESTION, ExplorerApp
from xlir_tui.tui.screens.compare import STOP_COMPARING, CompareScreen
from xlir_tui.tui.screens.export import ExportScreen
from xlir_tui.tui.screens.questions import question_prompt


@pytest.fixture(scope="module")
def other_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("view") / "other", seed=11)


async def until(pilot, condition, timeout: float = 60) -> None:
    """Wait for a condition without waiting for the workers (one of them is held on purpose)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        await pilot.pause(0.05)
        if condition():
            return
    raise AssertionError("timed out waiting for the app")


def choice_ids(app: ExplorerApp) -> list[str]:
    choices = app.screen.query_one("#choices")
    return [choices.get_option_at_index(i).id for i in range(choices.option_count)]


@pytest.fixture
def slow_other(monkeypatch, other_model: Path) -> threading.Event:
    """Opening ``other_model`` for comparison waits until the test releases it (a model that
    takes 20 s to load and index, as the default model does on XQuAD-R)."""
    release = threading.Event()
    real = Workspace.open_compared

    def open_compared(self, spec, progress=None):
        if spec.model == str(other_model):
            release.wait(60)
        return real(self, spec, progress)

    monkeypatch.setattr(Workspace, "open_compared", open_compared)
    return release


# ------------------------------------------------------------------- the last choice wins


async def start_held(app: ExplorerApp, pilot, model: Path) -> None:
    """Choose ``model`` to compare with (held in ``slow_other``) and wait until it loads."""
    await compare_with(app, pilot, str(model))
    await until(pilot, lambda: "loading" in text_of(app.query_one("#status")))


async def test_none_chosen_while_a_model_loads_stays_chosen(
    tiny_model: Path, other_model: Path, slow_other: threading.Event
) -> None:
    """Comparing with bm25; F6, a slow model; F6, none. When the model is ready at last, the
    panes stay with the main system alone (it used to switch them to the model anyway)."""
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await compare_with(app, pilot, "bm25")
        await settle(app, pilot, lambda: app.comparing() and len(panes(app)) == 4)
        await start_held(app, pilot, other_model)
        await pilot.press("f6")
        assert choice_ids(app)[0] == STOP_COMPARING
        app.screen.query_one("#choices").highlighted = 0
        await pilot.press("enter")
        await until(pilot, lambda: not app.compare and len(panes(app)) == 2)
        slow_other.set()
        await settle(app, pilot)
        await pilot.pause(0.2)
        assert not app.compare and len(panes(app)) == 2
        assert {p.pane.system for p in panes(app)} == {0}
        assert app.workspace.names[1] == "bm25"  # the late model was never put in place
        assert not any("other" in str(n.message) for n in app._notifications)


async def test_the_first_comparison_can_be_cancelled_while_it_loads(
    tiny_model: Path, other_model: Path, slow_other: threading.Event
) -> None:
    """F6 while the first compared model still loads: `none` is listed (there was no way to
    cancel it) and cancels it; Up from `none` stays there (it wrapped round to the last
    entry), Down from the last entry stays there."""
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        await start_held(app, pilot, other_model)
        await pilot.press("f6")
        await pilot.pause(0.1)
        choices = app.screen.query_one("#choices")
        # the dialog is drawn, not hidden behind Textual's loading indicator (it was, while an
        # attribute of the dialog shadowed Widget.loading)
        assert not app.screen.loading and not app.screen.query(LoadingIndicator)
        assert choices.region.height > 0
        assert choice_ids(app)[0] == STOP_COMPARING
        assert choices.highlighted == 1  # not none: Enter by habit does not cancel
        await pilot.press("up", "up")
        assert choices.highlighted == 0
        await pilot.press("end", "down")
        assert choices.highlighted == choices.option_count - 1
        await pilot.press("home", "enter")
        await until(pilot, lambda: not isinstance(app.screen, CompareScreen))
        slow_other.set()
        await settle(app, pilot)
        await pilot.pause(0.2)
        assert not app.compare and len(panes(app)) == 2
        assert {p.pane.system for p in panes(app)} == {0}
        assert not any("other" in name for name in app.workspace.names)  # never put in place


def dialog_up(app: ExplorerApp) -> bool:
    """Whether the compare dialog is on top with its list mounted."""
    screen = app.screen
    return isinstance(screen, CompareScreen) and bool(screen.query("#choices"))


async def test_a_compare_dialog_open_while_its_choice_opens_is_made_anew(
    tiny_model: Path, other_model: Path, slow_other: threading.Event, monkeypatch
) -> None:
    """F6 while the first comparison loads, left open until it is ready: the dialog is made
    anew (it kept offering to cancel the load and offered the model the panes now show)."""
    monkeypatch.setattr("xlir_tui.tui.screens.compare.recent_models", lambda: [other_model])
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await start_held(app, pilot, other_model)
        await pilot.press("f6")
        await until(pilot, lambda: dialog_up(app))
        first = app.screen
        assert str(other_model) in choice_ids(app)
        slow_other.set()
        await until(pilot, lambda: app.comparing() and app.screen is not first)
        await until(pilot, lambda: dialog_up(app))
        ids = choice_ids(app)
        assert ids[0] == STOP_COMPARING and str(other_model) not in ids
        assert app.screen.choices()[0][1].startswith("stop comparing with")
        await pilot.press("escape")


async def test_the_bias_panel_follows_a_new_comparison_without_a_query(tiny_model: Path) -> None:
    """Comparing with bm25, then with chargram, the query bar empty: the panel names chargram
    (it kept bm25's legend and figures until the next query)."""
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await pilot.press(*"honey", "enter")
        await settle(app, pilot, lambda: all(p.result for p in panes(app)))
        await compare_with(app, pilot, "bm25")
        await settle(app, pilot, lambda: app.comparing() and app.workspace.names[1] == "bm25")
        app.query_one("#query").value = ""
        await compare_with(app, pilot, "chargram")
        await settle(app, pilot, lambda: app.workspace.names[1] == "chargram")
        await pilot.pause(0.2)
        legend = text_of(app.query_one("#bias-legend")) + text_of(app.query_one("#bias-text"))
        assert "chargram" in legend and "bm25" not in legend, legend


async def test_a_later_choice_wins_over_a_slower_earlier_one(
    tiny_model: Path, other_model: Path, slow_other: threading.Event
) -> None:
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await compare_with(app, pilot, str(other_model))  # held
        await pilot.pause(0.2)
        await compare_with(app, pilot, "chargram")
        await until(pilot, lambda: app.comparing() and app.workspace.names[1] == "chargram")
        slow_other.set()
        await settle(app, pilot)
        await pilot.press(*"honey")
        await settle(app, pilot, lambda: all(p.result for p in panes(app)))
        assert app.workspace.names[1] == "chargram"
        assert [p.result.system_name for p in panes(app)] == ["tiny", "chargram"] * 2


# ---------------------------------------------------------------------- the session figures


async def test_session_figures_are_paired_per_language_and_system(tiny_model: Path) -> None:
    """Two questions in two languages before comparing, one after: the compared system is
    measured on the earlier runs too, so both systems' session figures count the same runs,
    per language; the counts say questions × languages."""
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        session = app.workspace.session
        await pilot.press("f2")
        await settle(app, pilot, lambda: len(session.runs) == 2)
        first = app.qid
        await pilot.press("ctrl+n")
        await settle(app, pilot, lambda: len(session.runs) == 4)
        await compare_with(app, pilot, "bm25")
        await settle(app, pilot, lambda: app.comparing() and len(session.figures[1]) == 4)
        figures = text_of(app.query_one("#bias-text"))
        assert "session: 2 questions × 2 languages, paired" in figures
        await pilot.press("ctrl+n")
        await settle(app, pilot, lambda: len(session.figures[0]) == len(session.figures[1]) == 6)
        summary = session.summary([0, 1], app.workspace.names, app.lang_order())
        assert (summary["questions"], summary["question_runs"]) == (3, 6)
        for system in summary["systems"]:
            assert list(system["languages"]) == ["en", "de"]
            assert [f["runs"] for f in system["languages"].values()] == [3, 3]
            assert system["all"]["map"] is not None
        assert summary["systems"][0]["all"]["map"] != summary["systems"][1]["all"]["map"]
        await settle(
            app, pilot, lambda: "3 questions × 2 languages" in text_of(app.query_one("#bias-text"))
        )
        heading = app.query_one("#plot-session").heading
        assert heading == "session: 3 questions × 2 langs"
        # what bm25 gave on the first question before it was compared is what it gives now
        app.set_question(first)
        await settle(app, pilot, lambda: all(p.result and p.result.query_lang for p in panes(app)))
        en_bm25 = next(p.result for p in panes(app) if p.pane.system == 1 and p.pane.lang == "en")
        assert session.figures[1][(first, "en", None)].ap == pytest.approx(en_bm25.ap)


async def test_the_session_is_exported_to_a_folder(
    tiny_model: Path, tmp_path: Path, monkeypatch
) -> None:
    """Ctrl+S: session.json (counts, figures per system and language) and runs.parquet (a row
    per run and system); a session exported before is replaced on a second Export, a folder
    the tool did not write never."""
    monkeypatch.chdir(tmp_path)
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not isinstance(app.screen, ExportScreen)  # nothing recorded yet: said so
        assert any("nothing to export yet" in str(n.message) for n in app._notifications)
        await compare_with(app, pilot, "bm25")
        await settle(app, pilot, lambda: app.comparing())
        await pilot.press("f2")
        await settle(app, pilot, lambda: len(app.workspace.session.figures[1]) == 2)
        await pilot.press("ctrl+s")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ExportScreen)
        field = screen.query_one("#folder")
        assert field.value.startswith("explorer-session-")
        assert "1 question × 2 languages, the same for tiny and bm25" in text_of(
            screen.query_one("#export-counts")
        )
        await pilot.press("enter")  # the default folder, under the current one
        out = tmp_path / field.value
        await settle(app, pilot, lambda: (out / "session.json").is_file())
        document = json.loads((out / "session.json").read_text())
        assert document["format"] == "xlir-tui/explorer-session"
        assert [s["system"] for s in document["systems"]] == ["tiny", "bm25"]
        assert document["question_runs"] == 2 and document["paired"] is True
        assert list(document["systems"][1]["languages"]) == ["en", "de"]
        runs = pl.read_parquet(out / "runs.parquet")
        assert runs.height == 4 and runs["system"].to_list() == ["tiny"] * 2 + ["bm25"] * 2
        assert {
            "query_id",
            "query",
            "query_lang",
            "ap",
            "rank_distance",
            "same_language_share",
            "share_en",
        } <= set(runs.columns)
        # again into the same folder: said, then replaced on a second Export
        await pilot.press("ctrl+n")
        await settle(app, pilot, lambda: len(app.workspace.session.figures[1]) == 4)
        await pilot.press("ctrl+s")
        await pilot.pause()
        app.screen.query_one("#folder").value = str(out)
        await pilot.press("enter")
        await pilot.pause()
        assert "Export again replaces it" in text_of(app.screen.query_one("#error"))
        await pilot.press("enter")
        await settle(app, pilot, lambda: pl.read_parquet(out / "runs.parquet").height == 8)
        # a folder of the person's own is never replaced
        mine = tmp_path / "mine"
        mine.mkdir()
        (mine / "notes.txt").write_text("keep")
        await pilot.press("ctrl+s")
        await pilot.pause()
        app.screen.query_one("#folder").value = str(mine)
        for _ in range(2):
            await pilot.press("enter")
            await pilot.pause()
        assert isinstance(app.screen, ExportScreen)
        assert "exists and xlir-tui did not write it; it is not replaced" in text_of(
            app.screen.query_one("#error")
        )
        assert [p.name for p in mine.iterdir()] == ["notes.txt"]
        await pilot.press("escape")


# ----------------------------------------------------------------------- the query bar, F3


async def test_question_mode_shows_the_question_s_start_at_80_columns(tiny_model: Path) -> None:
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        ws = app.workspace
        longest = max(ws.question_ids, key=lambda q: len(ws.question(q, "en") or ""))
        question = ws.question(longest, "en")
        query = app.query_one("#query")
        assert len(question) > query.content_size.width  # it does not fit the bar
        app.set_question(longest)
        await settle(app, pilot, lambda: app.mode == QUESTION and panes(app)[0].result.query_lang)
        await pilot.pause()
        assert query.selected_text == question and query.scroll_offset.x == 0
        bar = composed(app).split("\n")[query.region.y]
        assert question[:30] in bar
        await pilot.press(*"bees")  # typing still replaces it
        assert query.value == "bees"


async def test_the_question_picker_searches_every_language(tiny_model: Path) -> None:
    """``Vulkan`` is in the German questions only: found, the German version shown under the
    English one; English words and ids are found as before."""
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await pilot.press("f3")
        options = app.screen.query_one("#questions")
        first = options.get_option_at_index(0)  # before any filter: the first pane's language
        assert drawn(first.prompt, 200)[0].endswith(app.workspace.question(first.id, "en"))
        await pilot.press(*"Vulkan")
        found = [options.get_option_at_index(i) for i in range(options.option_count)]
        assert found
        for option in found:
            question = app.workspace.question(option.id, "de")
            assert "vulkan" in question.casefold()
            lines = drawn(option.prompt, 200)
            assert lines[0].endswith(app.workspace.question(option.id, "en"))
            assert " de " in lines[1] and question in lines[1]
        await pilot.press("enter")
        await settle(app, pilot, lambda: app.mode == QUESTION and app.qid == found[0].id)
        await pilot.press("f3")
        await pilot.press(*"volcano")
        options = app.screen.query_one("#questions")
        assert options.option_count and all(
            len(drawn(options.get_option_at_index(i).prompt, 200)) == 1
            for i in range(options.option_count)
        )
        total = len(app.workspace.question_ids)
        matches = str(app.screen.query_one("#matches").render())
        assert matches == f"{options.option_count} of {total} questions match 'volcano'"
        await pilot.press(*"zzqx")  # nothing has it: said, not an empty list alone
        assert options.option_count == 0
        assert str(app.screen.query_one("#matches").render()) == (
            f"no question has 'volcanozzqx' in any language or its id (of {total})"
        )
        await pilot.press(*"zzzzzzzzzzzzzzzzzzzz")  # a long word: cut, the line kept whole
        said = str(app.screen.query_one("#matches").render())
        assert said.startswith("no question has 'volcanozzqxzzzzzzzz…' in any language")
        assert said.endswith(f"(of {total})")


async def test_the_question_picker_sets_accents_aside(tiny_model: Path) -> None:
    """``konigin`` finds the questions with ``Königin``; a Devanagari vowel sign is not an
    accent: without it, the word is another."""
    from xlir_tui.app.explore import search_fold

    assert search_fold("Königin Straße ηφαίστειο") == "konigin strasse ηφαιστειο"
    hindi = "ज्वालामुखी"
    assert search_fold(hindi) == hindi and search_fold("ज्वालामख") != search_fold(hindi)
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await pilot.press("f3", *"konigin")
        options = app.screen.query_one("#questions")
        assert options.option_count
        for i in range(options.option_count):
            qid = options.get_option_at_index(i).id
            assert "königin" in app.workspace.question(qid, "de").casefold()


def drawn(renderable, width: int = 60) -> list[str]:
    """The lines a list entry is drawn as at ``width`` columns, without trailing spaces."""
    from rich.console import Console

    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return [line.rstrip() for line in console.export_text().splitlines()]


def test_a_long_id_keeps_the_question_in_its_column() -> None:
    """XQuAD-R's 24-character ids at 60 columns: every line of the question and of its other
    language's version starts in the text's column, none under the id from column 1."""
    qid = "56beb4343aeaaa14008c925b"
    question = "How many points did the Panthers defense surrender in the whole game?"
    other = "Wie viele Punkte gab die Verteidigung der Panthers im ganzen Spiel ab?"
    lines = drawn(question_prompt(qid, question, ("de", other), len(qid)))
    assert lines[0].startswith(qid + "  How many")
    assert len(lines) >= 4  # both texts wrapped
    for line in lines[1:]:
        assert line.startswith(" " * (len(qid) + 2)) and line.strip(), lines
    assert any(line.split()[:3] == ["de", "Wie", "viele"] for line in lines), lines


# -------------------------------------------------------------------------------- F6, order


async def test_compare_does_not_offer_what_is_shown(
    tiny_model: Path, other_model: Path, monkeypatch
) -> None:
    monkeypatch.setattr(
        "xlir_tui.tui.screens.compare.recent_models", lambda: [tiny_model, other_model]
    )
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await pilot.press("f6")
        ids = choice_ids(app)
        assert str(tiny_model) not in ids and str(other_model) in ids and "bm25" in ids
        app.screen.query_one("#choices").highlighted = ids.index(str(other_model))
        await pilot.press("enter")
        await settle(app, pilot, lambda: app.comparing())
        await pilot.press("f6")
        ids = choice_ids(app)
        assert ids[0] == STOP_COMPARING
        assert str(tiny_model) not in ids and str(other_model) not in ids and "bm25" in ids
        await pilot.press("escape")


async def test_the_bias_panel_below_shows_every_session_row(tiny_model: Path) -> None:
    """Question mode in four languages at 200x50: the panel below the panes grows until its
    figures need no scrolling (the fourth language's session row was below the fold), the
    panes keep their rows, and it does not shrink back on the next question."""
    app = make_app(tiny_model, langs=["en", "de", "zh", "ar"])
    async with app.run_test(size=(200, 50)) as pilot:
        await ready(app, pilot)
        await pilot.press("f2")
        await settle(app, pilot, lambda: len(app.workspace.session.runs) == 4)
        figures = app.query_one("#bias-figures")

        def fits() -> bool:
            return figures.virtual_size.height <= figures.size.height

        with contextlib.suppress(AssertionError):  # a loaded machine lays out late
            await settle(app, pilot, fits, timeout=10)
        assert fits()
        assert app.query_one("#panes").size.height >= PANE_ROWS
        grown = app.query_one("#bias").outer_size.height
        assert grown > 14  # the layout's own height, which hid rows
        await pilot.press("ctrl+n")
        await settle(app, pilot, lambda: len(app.workspace.session.runs) == 8)
        await pilot.pause(0.3)
        assert app.query_one("#bias").outer_size.height == grown


async def test_languages_are_listed_in_the_panes_order(tiny_model: Path) -> None:
    app = make_app(tiny_model, langs=["zh", "en"])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await pilot.press("f2")
        await settle(app, pilot, lambda: len(app.workspace.session.runs) == 2)
        await pilot.pause()
        assert app.query_one("#plot-query").langs[:2] == ["zh", "en"]
        assert app.query_one("#plot-session").langs[:2] == ["zh", "en"]
        figures = text_of(app.query_one("#bias-text"))
        this_query, session = figures.split("session:")
        for part in (this_query, session):
            assert part.index(" zh ") < part.index(" en ")


async def test_nothing_that_matters_is_clipped_at_80x24(tiny_model: Path) -> None:
    """F9 at 80x24 while comparing: the legend names both systems (the second was cut off);
    the bias line under the panes keeps its `F9 plots`."""
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        await compare_with(app, pilot, "chargram")
        await settle(app, pilot, lambda: app.comparing())
        await pilot.press("f2")
        await settle(app, pilot, lambda: len(app.workspace.session.figures[1]) == 2)
        assert text_of(app.query_one("#strip")).rstrip().endswith("F9 plots")
        await pilot.press("f9")
        await pilot.pause()
        legend = app.query_one("#bias-legend")
        shown = composed(app).split("\n")[legend.region.y : legend.region.bottom]
        assert any("tiny" in line for line in shown) and any("chargram" in line for line in shown)
        assert legend.region.right <= 80


async def test_no_sliver_of_a_pane_at_the_right_edge(tiny_model: Path) -> None:
    """Comparing three languages at 200x50: four panes in view, whole, and nothing of the
    fifth (its border showed at the right edge); after Tab to the last language, the same."""
    app = make_app(tiny_model, langs=["en", "de", "zh"])
    async with app.run_test(size=(200, 50)) as pilot:
        await ready(app, pilot)
        await compare_with(app, pilot, "bm25")
        await settle(app, pilot, lambda: app.comparing() and len(panes(app)) == 6)
        await pilot.press(*"honey")
        await settle(app, pilot, lambda: all(p.result for p in panes(app)))
        row = app.query_one("#panes")
        for _ in range(2):
            await pilot.pause(0.2)
            shown = [p.region.intersection(app.screen.region).width for p in panes(app)]
            whole = panes(app)[0].outer_size.width
            assert sorted(set(shown)) == [0, whole] and shown.count(whole) == 4, shown
            assert row.region.right <= 200
            app.query_one("#hits-4").focus()


async def test_a_wide_short_terminal_has_three_panes_beside_the_plots(tiny_model: Path) -> None:
    """170x30 while comparing: three panes, whole, side by side with the bias panel (1fr gave
    each pane the whole row, one and a sliver were seen), and the figures get rows of their
    own beside the two plots (they had none)."""
    app = make_app(tiny_model, langs=["hi", "th", "en"])
    async with app.run_test(size=(170, 30)) as pilot:
        await ready(app, pilot)
        await pilot.press("f2")
        await settle(app, pilot, lambda: all(p.result for p in panes(app)))
        await pilot.pause(0.2)
        bias = app.query_one("#bias")
        assert app.screen.has_class("-bias-beside")
        shown = [p.region for p in panes(app)]
        assert len(shown) == 3 and all(r.width >= 36 for r in shown)
        assert all(r.right <= bias.region.x for r in shown)
        assert app.query_one("#bias-figures").region.height >= 5
        await compare_with(app, pilot, "chargram")
        await settle(app, pilot, lambda: app.comparing() and len(panes(app)) == 6)
        await pilot.pause(0.2)
        visible = [p.region.intersection(app.query_one("#panes").region) for p in panes(app)]
        widths = sorted({r.width for r in visible})
        assert widths[0] == 0 and all(w >= 36 for w in widths[1:]), widths


# ---------------------------------------------------------------- Hindi and Thai at a border


def tmux_width(ch: str) -> int:
    """Columns tmux gives a code point (the C library's wcwidth): a mark that sits on its
    letter none, a spacing vowel sign (Mc) one, a wide character two."""
    if unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


class Tmux(Terminal):
    """A :class:`Terminal` that measures characters as tmux does (Textual measured Hindi's
    spacing vowel signs as zero columns: each row ran one column past its pane per sign)."""

    def display(self, screen, update) -> None:
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
                cells = tmux_width(token)
                if cells == 0:
                    if 0 < x <= width:
                        self.cells[y][x - 1] += token
                    continue
                if x + cells > width:
                    self.overflow.append((y, x))
                if 0 <= x < width:
                    self.cells[y][x] = token
                    if cells == 2 and x + 1 < width:
                        self.cells[y][x + 1] = ""
                x += cells

    overflow: list[tuple[int, int]]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_hindi_and_thai_rows_stay_inside_their_panes(tiny_model: Path, size) -> None:
    """Hindi and Thai results beside a border, as tmux draws them: every pane's right border
    stands in its column on every row, and the screen is what the app composed."""
    width, height = size
    app = make_app(tiny_model, langs=["hi", "th", "en"])
    terminal = Tmux(app, width, height)
    terminal.overflow = []
    async with app.run_test(size=size) as pilot:
        await ready(app, pilot)
        await pilot.press("f2")
        await settle(app, pilot, lambda: all(p.result and p.result.hits for p in panes(app)))
        for key in ("tab", "down", "down", "tab", "down"):
            await pilot.press(key)
            await pilot.pause(0.2)  # frames come on a timer
            rows = terminal.text().split("\n")
            assert rows == composed(app).split("\n"), f"after {key}"
            for pane in panes(app):
                r = pane.region
                if r.width == 0 or r.right > width:
                    continue
                for y in range(r.y + 1, r.bottom - 1):
                    assert terminal.cells[y][r.right - 1] in "│┃", (key, pane.pane.lang, y)
                    assert terminal.cells[y][r.x] in "│┃", (key, pane.pane.lang, y)
        assert not terminal.overflow
        texts = [h.text for p in panes(app) for h in p.result.hits]
        assert any(unicodedata.category(c) == "Mc" for t in texts for c in t)  # Hindi signs


# ------------------------------------------------------------------------------ snapshots


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_snapshot_compare_mode(snap_compare, tiny_model: Path, size) -> None:
    """Comparing with chargram in question mode after two questions: the panes by language
    and system, the plots (F9 at 80x24), the legend, and the figures side by side."""

    async def run_before(pilot) -> None:
        app = pilot.app
        await ready(app, pilot)
        await compare_with(app, pilot, "chargram")
        await settle(app, pilot, lambda: app.comparing())
        await pilot.press("f2")
        await settle(app, pilot, lambda: len(app.workspace.session.figures[1]) == 2)
        await pilot.press("ctrl+n")
        await settle(app, pilot, lambda: len(app.workspace.session.figures[1]) == 4)
        await settle(app, pilot, lambda: all(p.result for p in panes(app)))
        if app.size.height < 30:
            await pilot.press("f9")
        app.clear_notifications()  # `comparing with chargram` stays for a time: not the same
        app.query_one("#query").cursor_blink = False
        await pilot.pause()

    assert snap_compare(
        make_app(tiny_model, langs=["en", "de"]), terminal_size=size, run_before=run_before
    )


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_snapshot_hindi_and_thai(snap_compare, tiny_model: Path, size) -> None:
    async def run_before(pilot) -> None:
        await ready(pilot.app, pilot)
        await pilot.press("f2")
        await settle(pilot.app, pilot, lambda: all(p.result for p in panes(pilot.app)))

    assert snap_compare(
        make_app(tiny_model, langs=["hi", "th", "en"]), terminal_size=size, run_before=run_before
    )


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_snapshot_export(snap_compare, tiny_model: Path, size, monkeypatch) -> None:
    monkeypatch.setattr(
        "xlir_tui.app.explore.default_session_folder",
        lambda when=None: Path("explorer-session-20260101-120000"),
    )

    async def run_before(pilot) -> None:
        await ready(pilot.app, pilot)
        await pilot.press("f2")
        await settle(pilot.app, pilot, lambda: len(pilot.app.workspace.session.runs) == 2)
        await pilot.press("ctrl+s")
        await pilot.pause()
        pilot.app.screen.query_one("#folder").cursor_blink = False

    assert snap_compare(
        make_app(tiny_model, langs=["en", "de"]), terminal_size=size, run_before=run_before
    )


def test_a_pane_title_keeps_the_remedy_when_it_is_cut() -> None:
    """Two panes of one model, plain and debiased, never read the same in a narrow border."""
    from xlir_tui.tui.widgets import fit_name

    name = "multilingual-e5-small + center"
    assert fit_name(name, 40) == name
    assert fit_name(name, 20) == "multilingu… + center"
    assert len(fit_name(name, 20)) == 20
    assert fit_name("multilingual-e5-small", 12) == "multilingua…"
    assert fit_name(name, 6) == "multi…"  # no room for the remedy: cut like any name


def test_the_session_heading_has_a_tiny_form_for_narrow_plots() -> None:
    from xlir_tui.tui.bias import session_counts

    session = {"questions": 2, "question_runs": 5, "free_texts": 4, "languages": ["en", "de", "fr"]}
    assert session_counts(session, short=True) == "session: 2 questions in 5 runs + 4 free texts"
    assert session_counts(session, short=True, tiny=True) == "session: 2 q in 5 runs + 4 free"
    session |= {"question_runs": 6, "free_texts": 1}
    assert session_counts(session, tiny=True) == "session: 2 q × 3 langs + 1 free"


def test_a_plot_heading_always_fits_by_one_rule() -> None:
    """The first form that fits, else the shortest cut with an ellipsis: never cut unmarked."""
    from xlir_tui.cells import text_width
    from xlir_tui.tui.bias import fit_heading, session_counts

    session = {"questions": 1, "question_runs": 5, "free_texts": 3, "languages": list("abcde")}
    forms = [session_counts(session, short=True), session_counts(session, short=True, tiny=True)]
    assert forms == [
        "session: 1 question × 5 langs + 3 free texts",
        "session: 1 q × 5 langs + 3 free",
    ]
    for width in range(4, 60):
        shown = fit_heading(forms, width)
        assert text_width(shown) <= width
        assert shown in forms or (shown.endswith("…") and width < len(forms[1]))
        if width >= len(forms[0]):
            assert shown == forms[0]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_session_plot_heading_fits_its_plot(tiny_model: Path, size) -> None:
    """A question in five languages and three free texts: the session plot's first line is
    a whole form of its heading, inside the plot (it read `session: 1 question × 5 langs + 3`,
    the rest lost against the figures)."""
    app = make_app(tiny_model, langs=["en", "de", "fr", "es", "zh"])
    async with app.run_test(size=size) as pilot:
        await ready(app, pilot)
        session = app.workspace.session
        await pilot.press("f2")
        await settle(app, pilot, lambda: len(session.runs) == 5)
        await pilot.press("f2")
        plot = app.query_one("#plot-session")
        for n, word in enumerate(("honey", "volcano", "river"), 1):
            app.query_one("#query").value = ""
            await pilot.press(*word, "enter")
            await settle(app, pilot, lambda n=n: f"+ {n} free" in plot.headings[0])
        if app.size.height < 30:
            await pilot.press("f9")
        await pilot.pause()
        assert plot.heading in (
            "session: 1 question × 5 langs + 3 free texts",
            "session: 1 q × 5 langs + 3 free",
        )
        region = plot.content_region
        first = composed(app).split("\n")[region.y][region.x : region.right]
        assert plot.heading in first
