"""ETAs from the first batch on: the smoothed rate, rich's bar column, training's events."""

from __future__ import annotations

import pytest

from xlir_tui.progress import Rate, format_duration, stage_callback


def test_rate_gives_an_eta_from_the_first_batch() -> None:
    rate = Rate()
    rate.update(0, 100.0)
    assert rate.eta(1000) is None  # nothing done yet: no estimate
    rate.update(64, 164.0)  # the first batch took a minute
    assert rate.per_second == pytest.approx(1.0)
    assert rate.eta(1000) == pytest.approx(936.0)
    assert rate.eta(1000, now=200.0) == pytest.approx(900.0)  # counts down between updates
    assert rate.eta(1000, now=10_000.0) == 0.0
    assert rate.eta(None) is None and rate.eta(0) is None


def test_rate_ignores_work_found_done_and_smooths_changes_of_pace() -> None:
    rate = Rate(half_life=20.0)
    rate.update(900, 0.0)  # 900 came from a cache: no speed
    rate.update(910, 10.0)
    assert rate.per_second == pytest.approx(1.0)
    rate.update(1110, 30.0)  # 10/s over the next 20 s: halfway there after one half-life
    assert rate.per_second == pytest.approx(5.5)
    assert rate.average == pytest.approx(210 / 30)
    rate.update(1110, 31.0)  # no progress: the estimate stays
    assert rate.per_second == pytest.approx(5.5)
    rate.update(0, 40.0)  # counted again from the start: a new baseline
    assert rate.per_second is None and rate.eta(100) is None


def test_stage_callback_names_the_stage() -> None:
    seen: list[tuple[str, int, int]] = []
    step = stage_callback(lambda *a: seen.append(a), "encoding")
    assert step is not None
    step(3, 10)
    assert seen == [("encoding", 3, 10)]
    assert stage_callback(None, "encoding") is None
    assert format_duration(59.6) == "01:00"


def test_the_bar_shows_an_eta_after_one_slow_update() -> None:
    """rich's own column needs two updates within 30 s; ours needs one, however slow."""
    from rich.progress import Progress

    from xlir_tui.cli.output import EtaColumn

    now = [1000.0]
    column = EtaColumn()
    bar = Progress(column, get_time=lambda: now[0], disable=True)
    task = bar.add_task("encoding", total=100, completed=0)
    assert column.render(bar.tasks[0]).plain == "--:--"
    now[0] += 45.0  # one batch of 10 in 45 s: longer than rich's 30-second window
    bar.update(task, completed=10)
    assert column.render(bar.tasks[0]).plain == format_duration(90 * 4.5)
    now[0] += 5.0
    assert column.render(bar.tasks[0]).plain == format_duration(90 * 4.5 - 5)
    bar.update(task, completed=100)
    assert column.render(bar.tasks[0]).plain == "00:00"
    waiting = bar.add_task("training", total=None)
    assert column.render(bar.tasks[waiting]).plain == "--:--"


def test_a_step_line_says_the_eta() -> None:
    from xlir_tui.training.events import describe_event

    step = {"event": "step", "step": 3, "total_steps": 10, "loss": 1.5, "examples_per_s": 4.0}
    assert "ETA" not in describe_event(step)  # an older run's events read as before
    assert describe_event({**step, "eta_s": 125.0}).endswith("ETA 02:05")


def test_scoring_reports_its_start_so_the_first_chunk_gives_an_eta() -> None:
    import numpy as np

    from xlir_tui.evaluation.metrics import rank_scored

    rng = np.random.default_rng(0)
    seen: list[tuple[int, int]] = []
    rank_scored(
        lambda lo, hi: rng.standard_normal((hi - lo, 6)).astype(np.float32),
        5,
        np.zeros(5, dtype=np.int64),
        np.zeros(6, dtype=np.int64),
        np.arange(5, dtype=np.int64),
        np.arange(5, dtype=np.int64),
        ["en"],
        np.arange(6, dtype=np.int64),
        chunk=2,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(0, 5), (2, 5), (4, 5), (5, 5)]


def test_a_start_line_names_the_base_model_by_its_display_name() -> None:
    from xlir_tui.training.events import describe_event

    start = {
        "event": "start",
        "settings": {"base": "default", "strategy": "hybrid", "alpha": 0.5},
        "train_rows": 640,
        "languages": ["en", "de"],
        "total_steps": 40,
    }
    line = describe_event(start)
    assert line.startswith("training multilingual-e5-small on 640 pairs in 2 languages")
