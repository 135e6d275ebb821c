"""The explorer's training dialog (F7) driven as a person drives it, its snapshots at the three
sizes, and what a trained model's folder says of its run (``xlir_tui.training.runs``)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from conftest import SAMPLE
from test_explorer import (
    SIZE,
    SIZES,
    composed,
    make_app,
    ready,
    settle,
    snapshot_dialog,
    tab_to,
    text_of,
)

from xlir_tui.errors import XlirError
from xlir_tui.training.events import describe_event
from xlir_tui.training.runs import (
    explored_folder,
    run_record,
    run_tags,
    shares_data,
    training_suggestion,
)
from xlir_tui.tui.messages import TrainingEnded, TrainingEvent
from xlir_tui.tui.plots import loss_sparkline, step_ticks
from xlir_tui.tui.screens.compare import NAME_COLUMN, CompareScreen
from xlir_tui.tui.screens.confirm import ConfirmScreen
from xlir_tui.tui.screens.train import StepRate, TrainScreen
from xlir_tui.tui.widgets import ResultPane

STAMP = "20260101-000000"


def freeze_time(monkeypatch) -> None:
    """The output folder's name is made from the time: one fixed name for snapshots."""
    monkeypatch.setattr("xlir_tui.tui.screens.train_form.time.strftime", lambda fmt, *a: STAMP)


def sample_copy(folder: Path, name: str, langs: tuple[str, ...] = ("en", "de")) -> Path:
    """A collection folder holding some of the sample's files, written as ``data get`` writes
    a public collection (with its manifest)."""
    target = folder / name
    target.mkdir(parents=True)
    for lang in langs:
        shutil.copy(SAMPLE / f"{lang}.json", target / f"{lang}.json")
    (target / "collection.manifest").write_text(
        json.dumps({"format": "xlir-tui/collection", "collection": name})
    )
    return target


def trained_folder(folder: Path, collections: list[str], stopped: bool, steps: int = 2) -> Path:
    """A model folder as a run leaves it (only what listing and labelling it read)."""
    folder.mkdir(parents=True)
    (folder / "modules.json").write_text("[]")
    (folder / "xlir_train.json").write_text(
        json.dumps(
            {
                "settings": {"collections": collections},
                "steps": steps,
                "total_steps": 221,
                "stopped": stopped,
            }
        )
    )
    return folder


def other_collection(folder: Path) -> Path:
    """A collection that shares no file with the sample (its English and German files, one word
    changed in each): two languages, so that a hybrid run can train on it."""
    folder.mkdir(parents=True)
    for lang, word in (("en", "volcano"), ("de", "Vulkan")):
        text = (SAMPLE / f"{lang}.json").read_text(encoding="utf-8")
        assert word in text
        changed = text.replace(word, word[:-1] + word[-1].upper())
        (folder / f"{lang}.json").write_text(changed, encoding="utf-8")
    return folder


def step_event(step: int, total: int = 40, when: float = 1000.0) -> dict:
    return {
        "event": "step",
        "step": step,
        "total_steps": total,
        "loss": 2.0 * 0.93**step + 0.05 * (step % 3),
        "lr": 1e-5,
        "examples_per_s": 64.0,
        "time": when,
        "eta_s": 0.5 * (total - step),  # as train writes it: the dialog says its own
    }


START = {
    "event": "start",
    "total_steps": 40,
    "resumed_from_step": 0,
    "settings": {"base": "tiny", "strategy": "hybrid", "alpha": 0.5},
    "train_rows": 640,
    "languages": ["en", "de"],
    "time": 1000.0,
}


def feed_run(screen: TrainScreen, steps: int, out: str = f"runs/run-{STAMP}") -> None:
    """A run's events as the follower posts them (0.5 s a step), without a process."""
    screen.out = out
    screen.rate = StepRate(32)  # what begin() makes of a batch size of 32
    screen.show_state("running")
    screen.post_message(TrainingEvent(START))
    for step in range(1, steps + 1):
        screen.post_message(TrainingEvent(step_event(step, when=1000.0 + 0.5 * step)))


# --------------------------------------------------------------------------------- the core


def test_training_suggestion_is_the_sibling_collection(tmp_path: Path, monkeypatch) -> None:
    """MLQA-R beside an explored XQuAD-R (by its manifest, whatever the folder's name), or in
    ./data; nothing for a collection without a known sibling, or none at hand."""
    monkeypatch.chdir(tmp_path)
    xquad = sample_copy(tmp_path / "here", "xquad-r")
    explored = [str(p) for p in sorted(xquad.glob("*.json"))]
    assert training_suggestion(explored) is None  # no MLQA-R anywhere yet
    data = sample_copy(tmp_path / "data", "mlqa-r")
    assert training_suggestion(explored) == Path("data") / "mlqa-r"
    beside = sample_copy(tmp_path / "here", "mlqa-r")
    assert training_suggestion(explored) == beside  # beside wins over ./data
    # exploring MLQA-R: XQuAD-R is neither beside it nor in ./data
    assert training_suggestion([str(p) for p in data.glob("*.json")]) is None
    # a folder named otherwise but written by data get is known by its manifest
    renamed = tmp_path / "elsewhere" / "my-copy"
    renamed.parent.mkdir()
    xquad.rename(renamed)
    sample_copy(tmp_path / "elsewhere", "mlqa-r")
    got = training_suggestion([str(p) for p in renamed.glob("*.json")])
    assert got == tmp_path / "elsewhere" / "mlqa-r"
    # the sample has no sibling: the person names the training data
    assert training_suggestion([str(p) for p in SAMPLE.glob("*.json")]) is None


def test_explored_folder_only_for_a_whole_folder(tmp_path: Path) -> None:
    folder = sample_copy(tmp_path, "xquad-r", ("en", "de", "zh"))
    files = [str(p) for p in sorted(folder.glob("*.json"))]
    assert explored_folder(files) == folder
    assert explored_folder(files[:2]) is None  # a part of it: --eval FOLDER would say more


def test_shares_data_by_content(tmp_path: Path) -> None:
    """The same files, a copy elsewhere, one file in common: shared; other files: not."""
    explored = [str(p) for p in sorted(SAMPLE.glob("*.json"))]
    assert shares_data([str(SAMPLE)], explored)
    copy = sample_copy(tmp_path, "copy", ("th",))
    assert shares_data([str(copy)], explored)
    other = other_collection(tmp_path / "other")
    assert not shares_data([str(other)], explored)  # same size, another content
    assert not shares_data([str(tmp_path / "missing")], explored)


def test_run_tags_say_stopped_and_trained_on_these_questions(tmp_path: Path) -> None:
    explored = [str(p) for p in sorted(SAMPLE.glob("*.json"))]
    held_out = sample_copy(tmp_path, "held-out", ("en",))
    (held_out / "en.json").write_text('{"data": []}')
    done = trained_folder(tmp_path / "done", [str(held_out)], stopped=False, steps=221)
    assert run_tags(done, explored) == []
    stopped = trained_folder(tmp_path / "stopped", [str(held_out)], stopped=True)
    assert run_tags(stopped, explored) == ["stopped at step 2 of 221"]
    memory = trained_folder(tmp_path / "memory", [str(SAMPLE)], stopped=True)
    assert run_tags(memory, explored) == ["stopped at step 2 of 221", "trained on these questions"]
    assert run_tags("default", explored) == []  # an embedded model has no run
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "xlir_train.json").write_text("{not json")
    assert run_record(tmp_path / "broken") is None


def test_the_report_says_a_runs_tags_before_any_model_loads(tmp_path: Path) -> None:
    """bias-report on the questions a stopped run trained on says both, as the explorer does."""
    from xlir_tui.app.report import ReportPlan, _tell_run_tags

    memory = trained_folder(tmp_path / "memory", [str(SAMPLE)], stopped=True)
    said: list[str] = []
    _tell_run_tags(ReportPlan([SAMPLE], models=[str(memory), "default"]), said.append)
    from xlir_tui.models.encoders import display_name

    shown = display_name(str(memory))
    assert said == [f"note: {shown}: stopped at step 2 of 221; trained on these questions"]


def test_step_rate_from_the_first_step() -> None:
    """The first step's own rate, then the events' times, smoothed."""
    rate = StepRate(examples_per_step=32)
    assert rate.left(0, 10) is None
    rate.add(step_event(1, when=100.0))  # 64 examples/s at 32 a step: 0.5 s a step
    assert rate.left(1, 10) == pytest.approx(4.5)
    rate.add(step_event(2, when=101.5))  # 1.5 s this step
    assert rate.left(2, 10) == pytest.approx(8 * (0.3 * 1.5 + 0.7 * 0.5))
    rate.add(step_event(4, when=102.5))  # two steps in one second
    assert rate.per_step == pytest.approx(0.3 * 0.5 + 0.7 * (0.3 * 1.5 + 0.7 * 0.5))


def test_loss_sparkline_and_whole_step_ticks() -> None:
    assert loss_sparkline([3.0, 2.0, 1.0], 10) == "█▅▁"
    assert len(loss_sparkline([float(x) for x in range(100)], 20)) == 20
    assert loss_sparkline([1.0, 1.0], 5) == "▄▄"
    assert step_ticks(1, 40) == [1, 11, 20, 30, 40]
    assert all(isinstance(t, int) for t in step_ticks(1, 221))
    assert step_ticks(1, 1) == [1]


# ------------------------------------------------------------------------------ the dialog


async def test_the_frozen_box_says_its_state_and_keys_and_clicks_agree(tiny_model: Path) -> None:
    """Off by default, and it says so in words and with an empty mark; Space, Enter and a
    click each toggle it once, and what it shows is what the run gets."""
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        await pilot.press("f7")
        screen = app.screen
        box = screen.query_one("#freeze_embeddings")

        def shown() -> str:
            return box.render().plain

        assert box.value is False and shown().startswith("[ ] not frozen: trained")
        await tab_to(app, pilot, "freeze_embeddings")
        await pilot.press("space")
        assert box.value is True and shown().startswith("[x] frozen: not trained")
        await pilot.press("enter")
        assert box.value is False and shown().startswith("[ ] not frozen: trained")
        await pilot.click("#freeze_embeddings")
        assert box.value is True and shown().startswith("[x] frozen: not trained")
        await pilot.click("#freeze_embeddings")
        assert box.value is False
        screen.query_one("#collections").value = "elsewhere"
        await pilot.press("space")  # the box has the focus still
        assert screen.form.settings().freeze_embeddings is True


async def test_the_training_data_is_not_the_explored_collection_by_default(
    tiny_model: Path,
) -> None:
    """Exploring the sample (no sibling collection at hand): the training data is empty and
    required, the evaluation data is the sample; Start says what is missing."""
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("f7")
        screen = app.screen
        assert screen.query_one("#collections").value == ""
        assert Path(screen.query_one("#eval").value).resolve() == SAMPLE.resolve()
        assert "not sample_data" in text_of(screen.query_one("#data-note"))
        assert app.focused is screen.query_one("#collections")  # typing goes there at once
        await pilot.press(*"other")
        assert screen.query_one("#collections").value == "other"
        note = text_of(screen.query_one("#data-note"))
        assert "Trains on other, evaluates on " in note and "asks first if other" in note
        screen.query_one("#collections").value = ""
        await tab_to(app, pilot, "start")
        await pilot.press("enter")
        await pilot.pause(0.3)
        error = text_of(screen.query_one("#error"))
        assert "training data: name a collection to train on (not sample_data" in error
        assert screen.training.proc is None


async def test_a_sibling_collection_is_the_default_training_data(
    tiny_model: Path, tmp_path: Path, monkeypatch
) -> None:
    from xlir_tui.tui.app import ExplorerApp

    monkeypatch.chdir(tmp_path)
    xquad = sample_copy(tmp_path / "data", "xquad-r")
    sample_copy(tmp_path / "data", "mlqa-r", ("zh",))
    app = ExplorerApp(collection=[str(xquad)], model=str(tiny_model), langs=["en", "de"])
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("f7")
        screen = app.screen
        assert screen.query_one("#collections").value == "data/mlqa-r"
        assert screen.query_one("#eval").value == "data/xquad-r"
        assert "Trains on data/mlqa-r, not on xquad-r" in text_of(screen.query_one("#data-note"))


async def test_training_on_the_explored_questions_asks_first(
    tiny_model: Path, tmp_path: Path
) -> None:
    """Back (Escape) starts nothing and says why; the focused answer is Back."""
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        await pilot.press("f7")
        screen = app.screen
        screen.query_one("#collections").value = str(SAMPLE)
        screen.query_one("#out").value = str(tmp_path / "run")
        await tab_to(app, pilot, "start")
        await pilot.press("enter")
        await settle(app, pilot, lambda: isinstance(app.screen, ConfirmScreen))
        question = text_of(app.screen.query_one("#question"))
        assert "holds the questions of sample_data" in question
        assert app.focused.id == "no"
        await pilot.press("escape")
        await settle(app, pilot, lambda: app.screen is screen)
        assert screen.training.proc is None and not (tmp_path / "run").exists()
        assert "not started" in text_of(screen.query_one("#error"))
        assert not screen.query_one("#start").disabled


async def test_a_stopped_run_on_these_questions_is_labelled_everywhere(
    tiny_model: Path, tmp_path: Path
) -> None:
    """A real run on the explored sample, confirmed with a click, cancelled from the keyboard
    after two steps: the estimate goes at once, the status says where it stopped, and the
    model is named for what it is in compare (its panes) and in F6's list."""
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("f7")
        screen = app.screen
        out = tmp_path / "run"
        for field, value in (
            ("collections", str(SAMPLE)),
            ("eval", ""),
            ("base", str(tiny_model)),
            ("steps", "400"),
            ("batch_size", "8"),
            ("out", str(out)),
        ):
            screen.query_one(f"#{field}").value = value
        await tab_to(app, pilot, "start")
        await pilot.press("space")
        await settle(app, pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.click("#yes")
        try:
            await follow_stopped_run(app, pilot, screen, out, tiny_model)
        finally:
            if screen.training.proc is not None and screen.training.proc.poll() is None:
                screen.training.proc.kill()  # a failed check must not leave a run training


async def follow_stopped_run(app, pilot, screen: TrainScreen, out: Path, tiny_model: Path) -> None:
    """Until the run has stopped, then load it and look at its names (the caller kills the
    process if anything here fails)."""
    deadline = time.time() + 120
    while time.time() < deadline and len(screen.losses) < 2:
        await pilot.pause(0.2)
    assert len(screen.losses) >= 2  # steps arrived through events.jsonl
    assert "ETA " in text_of(screen.query_one("#run-status"))
    assert "trained on the questions explored here" in text_of(screen.query_one("#shared-note"))
    assert not screen.query_one("#form").display  # the run's line instead of the form
    # the run got its settings as the TOML file train --config reads
    from xlir_tui.storage.files import cache_root
    from xlir_tui.training.config import TrainConfig

    settings = TrainConfig.from_toml(cache_root() / "train-logs" / "run.toml")
    assert settings["batch_size"] == 8 and settings["base"] == str(tiny_model)
    assert settings.get("eval", []) == []  # cleared: no evaluation
    assert "--config" in screen.training.proc.args
    await tab_to(app, pilot, "cancel")
    await pilot.press("enter")
    assert "ETA" not in text_of(screen.query_one("#run-status"))
    while time.time() < deadline and not screen.finished:
        await pilot.pause(0.2)
    status = text_of(screen.query_one("#run-status"))
    assert "stopped at step " in status and " of 400, before its end" in status
    assert "ETA" not in status
    assert screen.query_one("#load").display and not screen.query_one("#cancel").display
    await tab_to(app, pilot, "close")  # away and back: Tab reaches it, not only the code
    await tab_to(app, pilot, "load")
    await pilot.press("space")
    await settle(app, pilot, lambda: app.compare and len(app.workspace.systems) == 2, timeout=120)
    name = app.workspace.names[1]
    assert name.startswith("run (stopped at step ") and " of 400; trained on these" in name
    await pilot.press(*"volcano", "enter")
    await settle(app, pilot, lambda: all(p.result for p in app.query(ResultPane)))
    assert {p.result.system_name for p in app.query(ResultPane)} == {"tiny", name}
    await pilot.press("f6")
    await pilot.pause()
    assert isinstance(app.screen, CompareScreen)
    assert str(out) not in dict(app.screen.choices())  # shown already: not offered
    await pilot.press("escape")
    app.choose_compared(None)  # alone again: the run is offered, with what it is
    await pilot.pause()
    await pilot.press("f6")
    await pilot.pause()
    assert isinstance(app.screen, CompareScreen)
    notes = dict(app.screen.choices())
    assert notes[str(out)].startswith("stopped at step ")
    assert "of 400, trained on these questions, " in notes[str(out)]


async def test_the_compare_list_wraps_descriptions_in_their_column(
    tiny_model: Path, tmp_path: Path, monkeypatch
) -> None:
    """F6 at 80 columns with a stopped run trained on the explored questions: each line of the
    list either starts an entry with its name or goes on with a description under the
    descriptions (they wrapped to the list's left edge: `ranks)` under the names), and the
    run's tags are there whole."""
    monkeypatch.chdir(tmp_path)
    trained_folder(tmp_path / "runs" / "hybrid-with-a-long-name-a0.5", [str(SAMPLE)], True)
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        await pilot.press("f6")
        await pilot.pause()
        assert isinstance(app.screen, CompareScreen)
        choices = app.screen.query_one("#choices")
        choices.styles.max_height = 40  # every entry in view
        await pilot.pause()
        region = choices.content_region
        lines = [
            line[region.x : region.right]
            for line in composed(app).split("\n")[region.y : region.bottom]
        ]
        pad = NAME_COLUMN + 2
        starts = [line[:pad].strip() for line in lines]
        names = [s for s in starts if s]
        # a line with something in the names' column starts an entry: one per entry
        assert len(names) == choices.option_count
        assert names[:3] == ["multilingual-e5-small", "all-minilm-l6-v2", "bm25"]
        assert "fusion" in names and not any(s.startswith("ranks)") for s in starts)
        run = starts.index(next(s for s in names if s.startswith("runs/hybrid")))
        assert names[-1].endswith("…")  # a long name cut in its column, the column not widened
        end = next((i for i in range(run + 1, len(starts)) if starts[i]), len(starts))
        note = " ".join(line[pad:].strip() for line in lines[run:end])
        assert note.startswith("stopped at step 2 of 221, trained on these questions, ")


async def test_the_training_form_is_checked_in_place(tiny_model: Path, tmp_path: Path) -> None:
    """TrainConfig's defaults fill the form; a bad value is its one-line error, in place, and
    no process starts."""
    from xlir_tui.training.config import TrainConfig

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
        # chosen when the run starts: the base model's scale, the processor's precision
        assert screen.query_one("#scale").value == ""
        # the figure itself, following the base model field
        assert screen.query_one("#scale").placeholder == "100 (multilingual-e5-small)"
        screen.query_one("#base").value = str(tiny_model)
        await pilot.pause()
        assert screen.query_one("#scale").placeholder == "20 (library default)"
        screen.query_one("#base").value = defaults.base
        await pilot.pause()
        assert screen.query_one("#precision").value == ""  # "default: bf16 if native"
        out = tmp_path / "run"
        screen.query_one("#collections").value = str(tmp_path / "elsewhere")
        screen.query_one("#out").value = str(out)
        settings = screen.form.settings()
        assert settings.scale is None and settings.precision is None
        screen.query_one("#precision").value = "float32"
        screen.query_one("#scale").value = "50"
        settings = screen.form.settings()
        assert settings.scale == 50.0 and settings.precision == "float32"
        screen.query_one("#scale").value = "-1"
        with pytest.raises(XlirError, match="--scale must be positive, got -1.0"):
            screen.form.settings()
        screen.query_one("#scale").value = ""
        screen.query_one("#precision").value = ""
        for alpha, needle in (
            ("10", "--alpha must be between 0 and 1, got 10.0"),
            ("half", "alpha must be a number, got 'half'"),
        ):
            screen.query_one("#alpha").value = alpha
            await tab_to(app, pilot, "start")
            await pilot.press("enter")
            await pilot.pause(0.3)  # a button ignores a second press while it shows the first
            assert text_of(screen.query_one("#error")).strip() == needle
            assert screen.training.proc is None and not screen.query_one("#start").disabled
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
        assert "xlir-tui did not write" in text_of(screen.query_one("#error"))
        assert screen.training.proc is None and not out.joinpath("events.jsonl").exists()
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
        screen.query_one("#collections").value = str(other_collection(tmp_path / "other"))
        screen.query_one("#base").value = str(tmp_path / "no-such-model")
        screen.query_one("#out").value = str(tmp_path / "run")
        screen.query_one("#start").press()
        deadline = time.time() + 60
        while time.time() < deadline and not screen.finished:
            await pilot.pause(0.2)
        status = text_of(screen.query_one("#run-status")).strip()
        assert status.startswith("training died: xlir-tui: error: ")
        assert "no-such-model: no such model folder" in status and "\n" not in status
        assert not (tmp_path / "run").exists()
        assert screen.query_one("#new").display and not screen.query_one("#load").display


async def test_a_run_cancelled_while_it_starts_leaves_nothing(
    tiny_model: Path, tmp_path: Path
) -> None:
    """Cancel run at once (the process starting or loading its model): it ends, nothing is
    written, the status says so, nothing is offered to load, and New run gives the form back
    with a new output folder."""
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("f7")
        screen = app.screen
        out = tmp_path / "run"
        for field, value in (
            ("collections", str(other_collection(tmp_path / "other"))),
            ("base", str(tiny_model)),
            ("steps", "2"),
            ("out", str(out)),
        ):
            screen.query_one(f"#{field}").value = value
        screen.query_one("#start").press()
        while not screen.query_one("#cancel").display:  # not settle: it waits for the run
            await pilot.pause(0.05)
        screen.query_one("#cancel").press()
        deadline = time.time() + 120
        while time.time() < deadline and not screen.finished:
            await pilot.pause(0.2)
        status = text_of(screen.query_one("#run-status")).strip()
        assert status == "training cancelled: stopped before training began: nothing was written"
        assert not screen.query_one("#load").display and screen.query_one("#new").display
        assert screen.training.proc.returncode != 0 and not out.exists()
        await pilot.press("enter")  # New run has the focus
        await pilot.pause()
        assert screen.query_one("#form").display and screen.query_one("#start").display
        assert screen.query_one("#out").value == str(out)  # not the shown default: kept


async def test_cancel_stops_the_estimate_at_once(tiny_model: Path) -> None:
    """Events as the follower posts them: the estimate comes with the first step; after
    Cancel run no estimate is shown, and the steps still to come say it is stopping."""
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        await pilot.press("f7")
        screen = app.screen
        feed_run(screen, 1)
        await pilot.pause()
        status = text_of(screen.query_one("#run-status"))
        assert "ETA 00:20" in status and status.count("ETA") == 1  # 39 steps at 0.5 s
        # the command line's format (format_duration), not a dialog's own
        assert describe_event(step_event(1) | {"eta_s": 20.0}).endswith("ETA 00:20")
        metrics = {"mono": None, "cross": None, "multi": 0.41234, "rank_distance": 77.4549}
        screen.post_message(
            TrainingEvent({"event": "eval", "step": 1, "collection": "c", "metrics": metrics})
        )
        await pilot.pause()
        evals = text_of(screen.query_one("#evals"))
        assert "multi 0.412 mAP, rank distance 77.5" in evals and "rank_distance" not in evals
        screen.cancel_run()
        assert text_of(screen.query_one("#run-status")).strip() == (
            "stopping after the current step ..."
        )
        screen.post_message(TrainingEvent(step_event(2, when=1001.0)))
        await pilot.pause()
        line = text_of(screen.query_one("#run-status"))
        assert line.startswith("stopping after the current step; step 2/40") and "ETA" not in line


async def test_a_short_terminal_shows_the_loss_as_text(tiny_model: Path) -> None:
    """Under 22 rows there is no room for a plot: the loss is two rows of text, with the
    status line's figures."""
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=(80, 20)) as pilot:
        await ready(app, pilot)
        await pilot.press("f7")
        screen = app.screen
        feed_run(screen, 30)
        await pilot.pause()
        plot = screen.query_one("#loss")
        assert plot.size.height == 2
        text = plot.render().plain
        assert text.startswith("loss 0.2267 at step 30 of 40\n") and "steps 1-30" in text
        assert "loss 0.2267" in text_of(screen.query_one("#run-status"))


async def test_a_run_of_one_step_is_plotted(tiny_model: Path, tmp_path: Path) -> None:
    """One step of one: an axis of no length made plotext divide by zero inside the render,
    which took the whole explorer down."""
    app = make_app(tiny_model, langs=["en", "de"])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await pilot.press("f7")
        screen = app.screen
        screen.out = f"runs/run-{STAMP}"
        screen.rate = StepRate(32)
        screen.show_state("running")
        screen.post_message(TrainingEvent({**START, "total_steps": 1}))
        screen.post_message(TrainingEvent(step_event(1, total=1)))
        await pilot.pause()
        plot = screen.query_one("#loss")
        assert plot.size.height >= 8  # drawn as a plot, not the text of a short terminal
        plot.render()
        await pilot.pause()
        assert app.screen is screen and app.is_running
        assert plot.headline() == "loss 1.9100 at step 1 of 1"
        assert text_of(screen.query_one("#run-status")).startswith("step 1/1  loss 1.9100")
        out = trained_folder(tmp_path / "one", ["elsewhere"], stopped=False, steps=1)
        screen.post_message(TrainingEnded("done", str(out)))
        await pilot.pause()
        assert text_of(screen.query_one("#run-status")).startswith("done: 1 step; the model")


# ------------------------------------------------------------------------------- snapshots


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_snapshot_training_form(snap_compare, tiny_model: Path, monkeypatch, size) -> None:
    """Before a run: the form (training data required, the sample as evaluation data, the
    frozen box off and saying so), the note on the data, Start focused."""
    freeze_time(monkeypatch)

    async def open_it(pilot) -> None:
        await pilot.press("f7")
        await pilot.pause()
        screen = pilot.app.screen
        screen.query_one("#eval").value = "sample_data"  # not this checkout's absolute path
        screen.query_one("#start").focus()

    assert snapshot_dialog(snap_compare, tiny_model, size, open_it)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_snapshot_training_run(snap_compare, tiny_model: Path, monkeypatch, size) -> None:
    """While a run goes on (30 of 40 steps, on the explored questions): its line, Cancel run,
    the bar, the loss plot with whole-step ticks to 40, the status line with its estimate."""
    freeze_time(monkeypatch)

    async def open_it(pilot) -> None:
        await pilot.press("f7")
        await pilot.pause()
        screen = pilot.app.screen
        feed_run(screen, 30)
        screen.query_one("#shared-note").update("trained on the questions explored here")
        await pilot.pause()

    assert snapshot_dialog(snap_compare, tiny_model, size, open_it)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_snapshot_training_stopped(
    snap_compare, tiny_model: Path, monkeypatch, tmp_path: Path, size
) -> None:
    """After a run stopped at step 30 of 40: where it stopped, Load into compare, New run."""
    freeze_time(monkeypatch)
    out = Path("runs") / f"run-{STAMP}"

    async def open_it(pilot) -> None:
        await pilot.press("f7")
        await pilot.pause()
        screen = pilot.app.screen
        monkeypatch.chdir(tmp_path)
        folder = trained_folder(tmp_path / out, ["elsewhere"], stopped=True, steps=30)
        record = json.loads((folder / "xlir_train.json").read_text())
        (folder / "xlir_train.json").write_text(json.dumps({**record, "total_steps": 40}))
        feed_run(screen, 30, str(out))
        await pilot.pause()
        screen.post_message(TrainingEnded("stopped", str(out)))
        await pilot.pause()

    assert snapshot_dialog(snap_compare, tiny_model, size, open_it)


def test_snapshot_training_confirmation(snap_compare, tiny_model: Path, monkeypatch) -> None:
    """The question before training on the explored questions, at 80x24."""
    freeze_time(monkeypatch)

    async def open_it(pilot) -> None:
        await pilot.press("f7")
        await pilot.pause()
        screen = pilot.app.screen
        screen.query_one("#collections").value = "sample_data"
        screen.query_one("#start").focus()  # no cursor left to blink in the training data
        screen.query_one("#start").press()
        await settle(pilot.app, pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))

    assert snapshot_dialog(snap_compare, tiny_model, (80, 24), open_it)
