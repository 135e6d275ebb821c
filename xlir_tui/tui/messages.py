"""Messages that workers post back to the app (workers never touch widgets)."""

from __future__ import annotations

from typing import Any

from textual.message import Message


class WorkspaceReady(Message):
    def __init__(self, workspace: Any) -> None:
        super().__init__()
        self.workspace = workspace


class LoadProgress(Message):
    """A loading stage, with counts when it has them (``total`` > 1), a line saying why it
    takes the time it takes, and an estimate in seconds for a stage without counts."""

    def __init__(
        self, stage: str, done: int, total: int, note: str = "", estimate_s: float | None = None
    ) -> None:
        super().__init__()
        self.stage, self.done, self.total = stage, done, total
        self.note, self.estimate_s = note, estimate_s


class ResultsReady(Message):
    def __init__(
        self, request: int, results: list[Any], elapsed_ms: float, notes: list[str] | None = None
    ) -> None:
        super().__init__()
        self.request, self.results, self.elapsed_ms = request, results, elapsed_ms
        self.notes = notes or []


class SystemOpened(Message):
    """A system chosen for comparison is open (not yet in place), with its figures on the
    session's earlier runs; ``choice`` is the number of the choice it answers (only the
    latest choice is put in place)."""

    def __init__(self, choice: int, system: Any, figures: dict[Any, Any]) -> None:
        super().__init__()
        self.choice, self.system, self.figures = choice, system, figures


class SystemFailed(Message):
    """A system chosen for comparison could not be opened (``choice`` as in SystemOpened)."""

    def __init__(self, choice: int, error: str) -> None:
        super().__init__()
        self.choice, self.error = choice, error


class TrainingEvent(Message):
    def __init__(self, event: dict[str, Any]) -> None:
        super().__init__()
        self.event = event


class TrainingEnded(Message):
    """A training process ended: ``done``, ``stopped``, ``failed`` or ``died`` (no closing
    event), with the reason a failed one gave (its ``xlir-tui: error: ...`` line)."""

    def __init__(self, status: str, out: str, reason: str = "") -> None:
        super().__init__()
        self.status, self.out, self.reason = status, out, reason


class TrainingDataChecked(Message):
    """The training dialog's settings, checked against the collection being explored:
    ``shared`` when the training data holds its questions (the run then asks first)."""

    def __init__(self, config: Any, shared: bool) -> None:
        super().__init__()
        self.config, self.shared = config, shared
