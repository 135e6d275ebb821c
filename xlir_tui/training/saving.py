"""What a run writes into its output folder: step checkpoints, named models, the final model.

The output folder is a sentence-transformers model (safetensors) with its query and passage
prompts, plus ``checkpoints/`` (:mod:`xlir_tui.training.checkpoints`) and ``xlir_train.json``:
the settings, any settings changed on resume (``history``, with the step) and the final
figures. Only rank 0 writes (:class:`RunWriter`); every folder is written under a temporary
name and moved in once complete.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .. import __version__
from ..models.run_files import TRAIN_FILE
from ..storage.files import apply_umask, atomic_dir
from .checkpoints import (
    CHECKPOINTS,
    STATE_FILE,
    prune_checkpoints,
    save_optimizer,
    save_trainable,
    store_weights_as,
)
from .config import TrainConfig
from .events import EventLog


class RunWriter:
    """Writes a run's checkpoints and models; knows what it has written (``count``, the step
    of the latest step checkpoint) so that a stop right after a checkpoint saves nothing twice
    and a failed run knows whether it leaves anything worth keeping."""

    def __init__(
        self,
        config: TrainConfig,
        out: Path,
        log: EventLog,
        *,
        main: bool,
        history: list[dict[str, Any]],
        frozen: dict[str, str],
    ) -> None:
        self.config = config
        self.out = out
        self.log = log
        self.main = main
        self.history = history  # settings changed on resume, with the step
        self.frozen = frozen  # digests of the frozen parameters (not checkpointed)
        self.optimizer: Any = None
        self.count = 0  # checkpoints written by this run
        self.saved_step: int | None = None  # the step of the latest step checkpoint

    def checkpoint(
        self, model: Any, step: int, total: int, best: float | None, name: str | None = None
    ) -> Path | None:
        """``step-N`` (what ``--resume`` reads: the trained parameters in float32, their
        optimizer state, the step and the digests of the frozen parameters; only the latest
        ``keep_checkpoints`` stay), or a named model such as ``best`` (a model as the output
        folder holds one, no optimizer state)."""
        if not self.main:
            return None
        folder = self.out / CHECKPOINTS / (name or f"step-{step}")
        if name is None and self.saved_step == step:
            return folder  # a stop right after a checkpoint: this step is saved already
        with atomic_dir(folder, command="train", ours=True) as tmp:
            if name is None:
                save_trainable(model, tmp)
                self._write_record(tmp)
                if self.optimizer is not None:
                    save_optimizer(self.optimizer, tmp)
            else:
                self._save_model(model, tmp)
            state = {"step": step, "total_steps": total, "best": best, "frozen": self.frozen}
            (tmp / STATE_FILE).write_text(json.dumps(state))
            apply_umask(tmp)  # safetensors writes its files 0600
        self.count += 1
        if name is None:
            self.saved_step = step
            prune_checkpoints(self.out, self.config.keep_checkpoints)
        self.log.emit("checkpoint", step=step, path=str(folder))
        return folder

    def _save_model(self, model: Any, folder: Path) -> None:
        """The model with its prompts, its weights stored in ``save_dtype``, and the settings
        every command reads back from it."""
        c = self.config
        model.prompts = {"query": c.query_prompt, "document": c.passage_prompt}
        model.default_prompt_name = None
        model.save(str(folder))
        store_weights_as(folder, c.save_dtype)
        self._write_record(folder)
        apply_umask(folder)  # the model library writes its weights 0600

    def _write_record(self, folder: Path) -> None:
        """``xlir_train.json``: the settings (what ``--resume`` takes over) and their history."""
        record: dict[str, Any] = {"settings": asdict(self.config)}
        if self.history:
            record["history"] = self.history
        (folder / TRAIN_FILE).write_text(json.dumps(record, indent=2))

    def write_final(self, model: Any, outcome: dict[str, Any]) -> None:
        """The model at the top of the output folder, moved in only once completely written;
        its ``xlir_train.json`` adds the run's ``outcome`` (steps, stopped, final figures)."""
        tmp = self.out / ".final.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        self._save_model(model, tmp)
        (tmp / TRAIN_FILE).write_text(
            json.dumps(
                {
                    "settings": asdict(self.config),
                    **({"history": self.history} if self.history else {}),
                    **outcome,
                    "created_by": f"xlir-tui {__version__}",
                },
                indent=2,
            )
        )
        for entry in tmp.iterdir():
            target = self.out / entry.name
            if target.is_symlink():
                target.unlink()  # a link is replaced, never followed
            elif target.is_dir():
                shutil.rmtree(target)
            entry.rename(target)
        tmp.rmdir()
