"""Path completion for the compare dialog's field (imported when the dialog opens)."""

from __future__ import annotations

from typing import Any

from textual import events
from textual_autocomplete import PathAutoComplete

from ..safe_text import inert


class PathCompletion(PathAutoComplete):
    """Completes a path from the folders and files under it as it is typed: Tab or the arrows
    take a completion, and Enter always submits what the field holds (the library's Enter
    would take the highlighted completion instead, so a complete path could never be
    submitted while a longer name starts with it: ``runs/hybrid`` beside ``runs/hybrid-2``).

    A name with control characters is not offered: shown inert it would complete to a path
    that does not exist, and shown as it is the terminal would act on it."""

    def get_candidates(self, target_state: Any) -> list[Any]:
        return [c for c in super().get_candidates(target_state) if inert(c.value) == c.value]

    def _listen_to_messages(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and event.key == "enter":
            self.action_hide()
            return
        super()._listen_to_messages(event)
