"""The training dialog's form: the settings of ``xlir-tui train``, from
:class:`~xlir_tui.training.config.TrainConfig`'s defaults, checked by the training code's own rules
before anything starts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Container, Horizontal
from textual.content import Content
from textual.widgets import Checkbox, Input, Label, Select

from ...errors import XlirError
from ...safe_text import inert
from ..widgets import INERT
from .dialog import shown_path


class StateBox(Checkbox):
    """A tick box that says its state: ``[x]`` and the words for on, ``[ ]`` and the words for
    off. Space, Enter and a click toggle it, as any Checkbox.

    Textual's ``▐X▌`` differs between on and off only by the colour of the X, which some
    terminals (tmux with few colours) hardly show: the training dialog's ``frozen`` box looked
    ticked while it was off, and a run trained (and saved) every weight unexpectedly.
    """

    def __init__(self, on: str, off: str, value: bool = False, **kwargs: Any) -> None:
        self.words = (off, on)
        super().__init__(on if value else off, value, **kwargs)

    @property
    def _button(self) -> Content:
        return Content.styled("[x]", "bold") if self.value else Content.styled("[ ]", "dim")

    def watch_value(self) -> None:
        super().watch_value()
        self.label = self.words[bool(self.value)]


STATE_WORDS: dict[str, tuple[str, str]] = {
    "freeze_embeddings": ("frozen: not trained", "not frozen: trained"),
}
"""A yes/no setting's words in the training form (on, off); others say ``on`` and ``off``."""


class TrainForm(Container):
    """The form of the training dialog: one row per setting of :attr:`FIELDS`, a choice for a
    setting with choices, a tick box for a yes/no one, a field for the others.

    The training data is never the explored collection by default
    (:func:`~xlir_tui.training.runs.training_suggestion`: MLQA-R beside an explored XQuAD-R, else
    empty and required), and the explored collection is the evaluation data.
    """

    FIELDS: ClassVar[list[tuple[str, str]]] = [
        ("collections", "training data"),
        ("eval", "evaluation data"),
        ("base", "base model"),
        ("strategy", "strategy"),
        ("alpha", "alpha"),
        ("steps", "steps"),
        ("batch_size", "batch size"),
        ("scale", "InfoNCE scale"),
        ("freeze_embeddings", "embeddings"),
        ("precision", "precision"),
        ("out", "output folder"),
    ]

    def __init__(
        self, explored: list[str], out_root: Path, explored_name: str, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.explored = explored  # the files of the collection being explored
        self.explored_name = explored_name
        self.out_root = out_root
        self.suggested = ""  # the training data found for it (runs.training_suggestion)
        self.first_values = self.defaults()
        """The form's first values."""

    def defaults(self) -> dict[str, Any]:
        """The form's first values: TrainConfig's defaults, training data other than the
        explored collection, the explored collection as evaluation data, a new output folder."""
        from ...training.config import TrainConfig
        from ...training.runs import explored_folder, training_suggestion

        config = TrainConfig()
        suggestion = training_suggestion(self.explored)
        explored = explored_folder(self.explored)
        self.suggested = shown_path(suggestion) if suggestion is not None else ""
        return {
            **{name: getattr(config, name) for name, _ in self.FIELDS},
            "collections": self.suggested,
            "eval": shown_path(explored) if explored is not None else "",
            "out": self.new_out(),
        }

    def new_out(self) -> str:
        return str(self.out_root / f"run-{time.strftime('%Y%m%d-%H%M%S')}")

    def compose(self) -> ComposeResult:
        from dataclasses import fields

        from ...training.config import TrainConfig, shown_default

        meta = {f.name: f.metadata for f in fields(TrainConfig)}
        for name, label in self.FIELDS:
            with Horizontal(classes="form-row"):
                yield Label(label, classes="field")
                value = self.first_values[name]
                if "choices" in meta[name]:
                    # an unset setting (chosen when the run starts) is the first choice
                    choices = [(x, x) for x in meta[name]["choices"]]
                    if value is None:
                        brief = meta[name].get("brief") or shown_default(name)
                        choices.insert(0, (f"default: {brief}", ""))
                        value = ""
                    yield Select(choices, value=value, allow_blank=False, id=name)
                elif isinstance(value, bool):
                    on, off = STATE_WORDS.get(name, ("on", "off"))
                    yield StateBox(on, off, value=value, id=name)
                else:
                    if name == "collections":
                        hint = f"required (not {inert(self.explored_name)})"
                    elif name == "scale":
                        hint = self.scale_hint(str(self.first_values["base"]))
                    else:
                        hint = meta[name].get("brief") or f"unset: {shown_default(name)}"
                    yield Input(
                        value="" if value is None else str(value),
                        placeholder=hint,
                        id=name,
                        highlighter=INERT,  # a path from the collection's name
                    )

    @staticmethod
    def scale_hint(base: str) -> str:
        """The scale a run of ``base`` gets when the field is left empty, and why: the figure
        itself (``the base model's`` alone hid that it is 100 for the default encoder). Read
        without loading the model (an embedded model's table, a trained run's settings)."""
        from ...training.plan import base_scale

        scale, source = base_scale(base.strip() or "default")
        if source.endswith(".json"):  # a run trained here: its settings
            return f"{scale:g} (as the base run)"
        if source.startswith("sentence-transformers"):
            return f"{scale:g} (library default)"
        return f"{scale:g} ({source})"  # an embedded model's own

    def data_line(self, values: dict[str, Any]) -> Text:
        """Under the form: what the training and evaluation data are, and why."""
        name = inert(self.explored_name)
        train, evaluate = str(values["collections"]).strip(), str(values["eval"]).strip()
        if train and train == self.suggested:
            return Text(
                f"Trains on {inert(train)}, not on {name} (explored here, and the evaluation "
                "data: its figures stay held out).",
                style="dim",
            )
        if train:
            return Text(
                f"Trains on {inert(train)}, evaluates on {inert(evaluate) or 'nothing'}; Start "
                f"asks first if {inert(train)} holds the questions of {name}, explored here.",
                style="dim",
            )
        return Text(
            f"Name the training data: not {name}, explored here (its figures would then come "
            "from memory); xlir-tui data get mlqa-r fetches MLQA-R.",
            style="dim",
        )

    def settings(self) -> Any:
        """The form as training settings, checked as ``xlir-tui train`` checks them (types,
        ranges, the output folder); an :class:`XlirError` names what is wrong."""
        from ...training.config import TrainConfig, settings_from_text
        from ...training.plan import check_out_folder

        texts: dict[str, str | bool] = {}
        for name, _ in self.FIELDS:
            widget = self.query_one(f"#{name}")
            if isinstance(widget, Select) and widget.value == "":
                continue  # the default choice: left to the run, as the command line leaves it
            texts[name] = widget.value if isinstance(widget, Checkbox) else str(widget.value)
        if not str(texts["collections"]).strip():
            raise XlirError(
                f"training data: name a collection to train on (not {self.explored_name}, "
                "which is explored here)"
            )
        config = TrainConfig.merged({}, settings_from_text(texts))
        config.validate()
        check_out_folder(config)
        return config
