"""The explorer driven as a person drives it (Textual pilot), plus snapshots of its screens."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import SAMPLE, build_tiny_model, run_cli
from test_bad_input import assert_one_line_error

from xlir_tui.tui.app import QUESTION, ExplorerApp
from xlir_tui.tui.screens import TrainScreen
from xlir_tui.tui.widgets import BiasPanel, ResultPane

SIZE = (170, 48)


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


def text_of(widget) -> str:
    """The plain text a Static shows (a string or any rich renderable)."""
    from rich.console import Console

    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(widget.content)
    return console.export_text()


def panes(app: ExplorerApp) -> list[ResultPane]:
    return list(app.query(ResultPane))


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
        assert app.workspace.stats[0].queries == 0  # typing is live, not recorded
        await pilot.press("enter")
        await settle(app, pilot, lambda: app.workspace.stats[0].queries == 3)
        summary = app.workspace.stats[0].summary()
        assert sum(summary["shares"].values()) == pytest.approx(1.0)
        assert "this query" in text_of(app.query_one(BiasPanel))


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
        await pilot.press("ctrl+n")
        await settle(app, pilot, lambda: app.qid == "p13-q3" or app.qid == "p14-q1")
        # whole paragraph of a result
        panes(app)[0].query_one("DataTable").focus()
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


async def test_languages_and_pane_count(tiny_model: Path) -> None:
    app = make_app(tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert len(panes(app)) == 3
        await pilot.press("f5")
        dialog = app.screen
        dialog.query_one("#langs").value = "ar,xx"
        await pilot.press("enter")
        assert "unknown language: xx" in text_of(dialog.query_one("#error"))
        dialog.query_one("#langs").value = "ar,hi,ru,el"
        await pilot.press("enter")
        await settle(app, pilot, lambda: len(panes(app)) == 4)
        assert app.langs == ["ar", "hi", "ru", "el"]


async def test_compare_two_models(tiny_model: Path, other_model: Path) -> None:
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("f6")
        app.screen.query_one("#model").value = str(other_model)
        await pilot.press("enter")
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
        a, b = (p.result for p in panes(app))
        assert a.query == b.query and [h.id for h in a.hits] != [h.id for h in b.hits]
        text = text_of(app.query_one(BiasPanel))
        assert "tiny" in text and "other" in text


async def test_worker_error_is_shown_and_the_app_carries_on(
    tiny_model: Path, tmp_path: Path
) -> None:
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("f6")
        app.screen.query_one("#model").value = str(tmp_path / "missing-model")
        await pilot.press("enter")
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


async def test_train_cancel_and_load_from_the_keyboard(tiny_model: Path, tmp_path: Path) -> None:
    """Start (Space), Cancel run (Enter) and Load into compare (Space), each reached with Tab."""
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("f7")
        screen = app.screen
        assert isinstance(screen, TrainScreen)
        out = tmp_path / "run"
        for field, value in (
            ("base", str(tiny_model)),
            ("steps", "400"),
            ("batch_size", "8"),
            ("out", str(out)),
        ):
            screen.query_one(f"#{field}").value = value
        await tab_to(app, pilot, "start")
        await pilot.press("space")
        deadline = time.time() + 120
        while time.time() < deadline and len(screen.losses) < 2:
            await pilot.pause(0.2)
        assert len(screen.losses) >= 2  # steps arrived through events.jsonl
        # the run got its settings as the TOML file train --config reads
        from xlir_tui.paths import cache_root
        from xlir_tui.training import TrainConfig

        settings = TrainConfig.from_toml(cache_root() / "train-logs" / "run.toml")
        assert settings["batch_size"] == 8 and settings["base"] == str(tiny_model)
        assert "--config" in screen.proc.args
        await tab_to(app, pilot, "cancel")
        await pilot.press("enter")
        while time.time() < deadline and not screen.finished:
            await pilot.pause(0.2)
        assert "stopped" in text_of(screen.query_one("#status"))
        assert not screen.query_one("#load").disabled
        await tab_to(app, pilot, "close")  # away and back: Tab reaches it, not only the code
        await tab_to(app, pilot, "load")
        await pilot.press("space")
        await settle(
            app, pilot, lambda: app.compare and len(app.workspace.systems) == 2, timeout=120
        )
        assert app.workspace.names[1] == "run"


async def test_the_training_form_is_checked_in_place(tiny_model: Path, tmp_path: Path) -> None:
    """TrainConfig's defaults fill the form; a bad value is its one-line error, in place, and
    no process starts."""
    from xlir_tui.training import TrainConfig

    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("f7")
        screen = app.screen
        defaults = TrainConfig()
        assert screen.query_one("#base").value == defaults.base
        assert screen.query_one("#strategy").value == defaults.strategy
        assert screen.query_one("#alpha").value == str(defaults.alpha)
        assert screen.query_one("#batch_size").value == str(defaults.batch_size)
        assert screen.query_one("#steps").value == ""  # unset: one epoch
        assert screen.query_one("#freeze_embeddings").value == defaults.freeze_embeddings
        out = tmp_path / "run"
        screen.query_one("#out").value = str(out)
        for alpha, needle in (
            ("10", "--alpha must be between 0 and 1, got 10.0"),
            ("half", "alpha must be a number, got 'half'"),
        ):
            screen.query_one("#alpha").value = alpha
            await tab_to(app, pilot, "start")
            await pilot.press("enter")
            await pilot.pause(0.3)  # a button ignores a second press while it shows the first
            assert text_of(screen.query_one("#error")).strip() == needle
            assert screen.proc is None and not screen.query_one("#start").disabled
        screen.query_one("#alpha").value = "0.5"
        screen.query_one("#batch_size").value = "3.5"
        await tab_to(app, pilot, "start")
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert "batch_size must be an integer, got '3.5'" in text_of(screen.query_one("#error"))
        out.mkdir()
        (out / "model.safetensors").write_text("x")
        screen.query_one("#batch_size").value = "8"
        await tab_to(app, pilot, "start")
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert "output folder exists" in text_of(screen.query_one("#error"))
        assert screen.proc is None and not out.joinpath("events.jsonl").exists()
        await tab_to(app, pilot, "close")
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, TrainScreen)


async def test_a_training_process_that_dies_shows_its_error_line(
    tiny_model: Path, tmp_path: Path
) -> None:
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("f7")
        screen = app.screen
        screen.query_one("#base").value = str(tmp_path / "no-such-model")
        screen.query_one("#out").value = str(tmp_path / "run")
        screen.query_one("#start").press()
        deadline = time.time() + 60
        while time.time() < deadline and not screen.finished:
            await pilot.pause(0.2)
        status = text_of(screen.query_one("#status")).strip()
        assert status.startswith("training died: xlir-tui: error: ")
        assert "no-such-model: no such model folder" in status and "\n" not in status
        assert not (tmp_path / "run").exists()


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


def test_snapshot_free_text(snap_compare, tiny_model: Path) -> None:
    async def run_before(pilot) -> None:
        await ready(pilot.app, pilot)
        await pilot.press(*"volcano")
        await pilot.press("enter")
        await settle(pilot.app, pilot, lambda: all(p.result for p in panes(pilot.app)))

    assert snap_compare(
        make_app(tiny_model, langs=["en", "de", "zh"]), terminal_size=SIZE, run_before=run_before
    )


def test_snapshot_question_mode(snap_compare, tiny_model: Path) -> None:
    async def run_before(pilot) -> None:
        await ready(pilot.app, pilot)
        await pilot.press("f2")
        await settle(
            pilot.app,
            pilot,
            lambda: all(p.result and p.result.relevant_ids for p in panes(pilot.app)),
        )

    assert snap_compare(
        make_app(tiny_model, langs=["en", "ar", "th"]), terminal_size=SIZE, run_before=run_before
    )


def test_snapshot_help(snap_compare, tiny_model: Path) -> None:
    async def run_before(pilot) -> None:
        await ready(pilot.app, pilot)
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(make_app(tiny_model), terminal_size=SIZE, run_before=run_before)


def test_snapshot_training_screen(snap_compare, tiny_model: Path, monkeypatch) -> None:
    monkeypatch.setattr("xlir_tui.tui.screens.time.strftime", lambda fmt: "20260101-000000")

    async def run_before(pilot) -> None:
        await ready(pilot.app, pilot)
        await pilot.press("f7")
        await pilot.pause()
        pilot.app.screen.query_one("#collections").value = "sample_data"  # not this checkout's
        pilot.app.screen.query_one("#start").focus()  # the focused button is clearly marked
        await pilot.pause()

    assert snap_compare(make_app(tiny_model), terminal_size=SIZE, run_before=run_before)


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
        await pilot.press("f6")
        app.screen.query_one("#model").value = "chargram"
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

    from xlir_tui.systems import FusionSpec, SystemSpec

    spec = FusionSpec.parse("dense,bm25", "rrf", "0.4")
    app = make_app(tiny_model, langs=["de", "en"], spec=SystemSpec("fusion", str(tiny_model), spec))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("f6")
        app.screen.query_one("#model").value = "bm25"
        await pilot.press("enter")
        await settle(app, pilot, lambda: app.compare and len(app.workspace.systems) == 2)
        await pilot.press(*"Königin Eier")
        await pilot.press("enter")
        await settle(app, pilot, lambda: all(p.result for p in panes(app)))
        fused, lexical = (p.result for p in panes(app))
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
