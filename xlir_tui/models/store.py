"""The model store: encoders and translation models, each loaded once per process."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Models"]


@dataclass
class Models:
    """Encoders and translation models, each loaded once, with the options every command shares.

    The only place that loads a model for a system: ``open_system`` and ``load_system``
    (:mod:`xlir_tui.retrieval.systems`) both ask it, so a report comparing a dense system and a
    fusion over the same model encodes with one loaded copy.
    """

    options: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of :func:`xlir_tui.models.encoders.load_encoder` (batch_size,
    pooling, ...)."""
    notify: Callable[[str], None] | None = None
    """Told ``loading model X ...`` before a slow load."""
    _encoders: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)
    _translators: dict[str, Any] = field(default_factory=dict, repr=False)

    def _say(self, text: str) -> None:
        if self.notify is not None:
            self.notify(text)

    def encoder(self, model: str) -> Any:
        """The encoder of ``model`` with this store's options."""
        key = (model, json.dumps(self.options, sort_keys=True, default=str))
        if key not in self._encoders:
            from .encoders import display_name, load_encoder

            self._say(f"loading model {display_name(model)} ...")
            options = {k: v for k, v in self.options.items() if v is not None}
            self._encoders[key] = load_encoder(model, **options)
        return self._encoders[key]

    def encoder_of(self, recorded: dict[str, Any], model: str | None = None) -> Any:
        """The encoder an index recorded (``Encoder.describe``): its model, pooling and query
        prompt, so queries are encoded exactly as the candidates were; ``model`` loads other
        weights in its place (checked against the index by the caller)."""
        if model is not None:
            return self.encoder(model)
        key = ("recorded", json.dumps(recorded, sort_keys=True, default=str))
        if key not in self._encoders:
            from .encoders import display_name, load_encoder_of

            self._say(f"loading model {display_name(recorded['model'])} ...")
            options = {
                k: v
                for k, v in self.options.items()
                if v is not None and k not in ("pooling", "query_prompt", "passage_context")
            }
            # queries are encoded as the candidates were, unless another backend is asked for
            options.setdefault("backend", recorded.get("backend", "torch"))
            self._encoders[key] = load_encoder_of(recorded, **options)
        return self._encoders[key]

    def keep(self, encoder: Any) -> None:
        """Serve an encoder loaded elsewhere (an index's own) when its model is asked for."""
        key = (encoder.spec, json.dumps(self.options, sort_keys=True, default=str))
        self._encoders.setdefault(key, encoder)

    def translator(self, mt: str) -> Any:
        if mt not in self._translators:
            from .translator import Translator

            self._say(f"loading translation model {mt} ...")
            self._translators[mt] = Translator.load(mt)
        return self._translators[mt]
