"""The evaluations during a run: bias-report figures on a held-out collection, early stopping.

At every ``--eval-every`` steps and at the end, the model in training scores the ``--eval``
collection as ``bias-report`` would (mono, cross and multi mAP, rank distance); early stopping
counts the evaluations without a better multi mAP.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from .config import TrainConfig
from .events import EventLog


class Evaluator:
    """Scores the model in training on the evaluation collection and keeps early stopping's
    count: the best score so far, the evaluations since, whether to stop."""

    def __init__(
        self, config: TrainConfig, out: Path, encoder: Any, collection: Any, log: EventLog
    ) -> None:
        self.config = config
        self.out = out
        self.encoder = encoder
        self.collection = collection
        self.log = log
        self.best: float | None = None
        self.bad_evals = 0
        self.early_stopped = False
        self.last: dict[str, Any] | None = None

    def evaluate(self, model: Any, step: int) -> bool:
        """Score ``model`` at ``step`` and emit the ``eval`` event; True when early stopping
        should keep this model as the best so far."""
        from ..evaluation.evaluate import evaluate_encoder

        enc, runtime = self._encoder_of(model, step)
        try:
            entry = evaluate_encoder(self.collection, enc).entry
        finally:
            if runtime is not None:  # an export of one step's weights serves nothing later
                shutil.rmtree(runtime.folder, ignore_errors=True)
                lock = runtime.folder.parent / f".{runtime.folder.name}.lock"
                lock.unlink(missing_ok=True)  # nothing else ever builds this step's export
        s = entry["summary"]
        metrics = {
            "mono": (s["mono"] or {}).get("map"),
            "cross": (s["cross"] or {}).get("map"),
            "multi": (s["multi"] or {}).get("map"),
            "rank_distance": (s["multi"] or {}).get("rank_distance"),
        }
        self.last = metrics
        self.log.emit("eval", step=step, collection=self.collection.name, metrics=metrics)
        return self._improved(metrics)

    def _encoder_of(self, model: Any, step: int) -> tuple[Any, Any]:
        """An encoder of ``model`` as it is at ``step`` with the run's prompts, and its runtime:
        with a fast backend, an export of a copy (the export replaces the transformer it runs,
        which must never be the model in training)."""
        backend = self.config.backend
        runtime, fingerprint = None, f"training-step-{step}"
        if backend != "torch":
            import copy

            from ..models.backends import attach_backend
            from ..storage.files import text_digest

            fingerprint = text_digest(str(self.out.resolve()), fingerprint)
            model = copy.deepcopy(model).eval()
            prompts = (self.config.query_prompt or "", self.config.passage_prompt or "")
            runtime = attach_backend(model, backend, fingerprint, prompts)
        enc = self.encoder.derived(
            model=model,
            runtime=runtime,
            use_cache=False,
            fingerprint=fingerprint,
            query_prompt=self.config.query_prompt,
            passage_prompt=self.config.passage_prompt,
            passage_context=self.config.passage_context,
        )
        return enc, runtime

    def _improved(self, metrics: dict[str, Any]) -> bool:
        """Early stopping's count after one evaluation (multi mAP, else mono where the
        collection has one language); True for a new best."""
        score = metrics["multi"] if metrics["multi"] is not None else metrics["mono"]
        if self.config.early_stopping is None or score is None:
            return False
        if self.best is None or score > self.best:
            self.best = score
            self.bad_evals = 0
            return True
        self.bad_evals += 1
        if self.bad_evals >= self.config.early_stopping:
            self.early_stopped = True
        return False
