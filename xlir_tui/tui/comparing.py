"""The explorer's second system (F6, or a model trained from F7): chosen in the compare dialog,
opened and scored on the session's runs in a worker, put in place only if it is still the last
choice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import work

from .messages import LoadProgress, SystemFailed, SystemOpened
from .screens.compare import STOP_COMPARING, CompareScreen


class CompareActions:
    """The compare key and the workers that open the system chosen, for
    :class:`~xlir_tui.tui.app.ExplorerApp` (a mixin: it uses the app's workspace, panes and
    status line; a choice goes through the app's ``choose_compared``, which a trained model's
    Load into compare shares)."""

    workspace: Any
    choice: int
    choice_text: str | None
    compared_choice: str | None
    compare: bool
    trained: list[Path]
    workers: Any
    screen: Any

    def action_compare(self) -> None:
        if self.workspace is None:
            return

        def chosen(spec: str | None) -> None:
            if spec == STOP_COMPARING:
                self.choose_compared(None)
            elif spec:
                self.choose_compared(spec)

        from .screens.compare import recent_models

        encoder = self.workspace.systems[0].encoder
        trained = list(dict.fromkeys([*self.trained, *recent_models()]))
        comparing = self.workspace.names[1] if self.comparing() else None
        # the first comparison still opening: `none` is listed, so that it can be cancelled
        loading = self.choice_text if not comparing and self.loading_compared() else None
        shown = [self.workspace.systems[0].label]
        if comparing and self.compared_choice:
            shown.append(self.compared_choice)
        self.push_screen(
            CompareScreen(
                encoder.spec if encoder is not None else None,
                trained,
                comparing,
                shown,
                self.workspace.remedies(),
                pending=loading,
            ),
            chosen,
        )

    def loading_compared(self) -> bool:
        """Whether a system chosen to compare with is still opening."""
        return any(w.name == "load_second_model" and w.is_running for w in self.workers)

    @work(thread=True, group="model", exit_on_error=False)
    def load_second_model(self, choice: str, number: int) -> None:
        """Open the system named in the compare dialog (a model, bm25, chargram, fusion) and
        score the session's earlier runs with it; post it for the app to put in place if
        ``number`` is still the last choice. Its progress is shown only while it is."""

        from ..app.explore import stage_label
        from ..models.encoders import display_name

        name = display_name(choice)

        def progress(stage: str, done: int, total: int) -> None:
            if number == self.choice:
                self.post_message(LoadProgress(stage_label(stage, name), done, total))

        ws = self.workspace
        try:
            system = ws.open_choice(choice, progress=progress)
            figures = ws.score_runs(system) if number == self.choice else {}
        except Exception as e:  # shown if still wanted, else dropped with the choice
            self.post_message(SystemFailed(number, str(e) or type(e).__name__))
            return
        self.post_message(SystemOpened(number, system, figures))

    def on_system_opened(self, message: SystemOpened) -> None:
        if message.choice != self.choice:
            return  # a later choice was made meanwhile: it wins
        ws = self.workspace
        ws.set_compared(message.system, message.figures)
        self.compared_choice = self.choice_text
        # runs recorded while it opened: scored now, so that the session stays paired
        missing = [k for k in ws.session.runs if k not in ws.session.figures[1]]
        if missing:
            self.score_missing(missing, self.choice)
        self.compare = True
        self.notify(f"comparing with {ws.names[1]}")
        self.status(f"comparing with {ws.names[1]}")  # not its last loading stage
        self.rebuild_panes()
        self.renew_compare_dialog()

    def renew_compare_dialog(self) -> None:
        """A compare dialog open while the choice it offered to cancel opened (or failed) is
        made anew: it still said ``cancel: ... is still loading`` and offered what the panes
        now show."""
        screen = self.screen
        if isinstance(screen, CompareScreen) and screen.is_mounted and screen.query("#choices"):
            screen.dismiss(None)
            self.call_after_refresh(self.action_compare)

    def on_system_failed(self, message: SystemFailed) -> None:
        if message.choice != self.choice:
            return
        self.notify(message.error, title="error", severity="error", timeout=8)
        self.status(f"error: {message.error}", "red")
        self.renew_compare_dialog()

    @work(thread=True, group="model", exit_on_error=False)
    def score_missing(self, runs: list[Any], number: int) -> None:
        """Score with the compared system the runs recorded while it was opening."""
        ws = self.workspace
        figures = ws.score_runs(ws.systems[1], runs)
        if number == self.choice:
            ws.session.add_figures(1, figures)
            self.call_from_thread(self.refresh_bias)
