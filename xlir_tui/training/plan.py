"""Everything a person can get wrong about a run, checked before torch is imported.

:func:`plan_run` checks the settings, the output folder, settings changed on resume, the base
model's folder, the training and evaluation data and the free space, in seconds, before the
output folder is touched; what it finds (:class:`RunPlan`) is what the run then trains on.

Under ``torchrun`` or ``accelerate launch`` (DDP) every rank plans; only rank 0
(:func:`is_main`) checks and writes the output folder.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..errors import XlirError
from ..models.run_files import TRAIN_FILE
from ..storage.files import check_apart, check_replaceable, check_writable
from .checkpoints import CHECKPOINTS, STATE_FILE, TRAINABLE_FILE, resume_point
from .config import DEFAULT_SCALE, TrainConfig, changes_text, recorded_settings
from .sizing import check_disk_space, model_size


def is_main() -> bool:
    """Whether this process is rank 0 (or the only one): the one that writes files."""
    return int(os.environ.get("RANK", "0")) == 0


def world_size() -> int:
    """How many processes train together (DDP), each on its own batches."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def check_out_folder(config: TrainConfig) -> Path | None:
    """The output folder is usable for this run: the checkpoint to resume from (with
    ``resume``), else a folder that is absent or empty, or (with ``overwrite``) a folder this
    tool wrote (:func:`xlir_tui.storage.files.check_replaceable`); either way one that can be
    written (a read-only folder, a path under a regular file: said now, not after the model has
    loaded). Never one of the run's inputs (its collections, its evaluation collection, its base
    model's folder) nor inside or around one."""
    out = Path(config.out)
    check_apart(out, [*config.collections, *(config.eval or []), _base_folder(config)])
    if config.resume:
        found = resume_point(out)
        if is_main():
            check_writable(out / CHECKPOINTS / "next")
        return found
    if is_main():  # rank 0 alone: under DDP the other ranks would see the folder rank 0 made
        check_replaceable(
            out, config.overwrite, empty_ok=True, hint="pass --overwrite to replace it, or --resume"
        )
        check_writable(out)
    return None


def _base_folder(config: TrainConfig) -> str | None:
    """The base model's folder when it is one (not an embedded model's name nor a hub name)."""
    from ..models.embedded import embedded_name

    if not config.base or embedded_name(config.base) is not None:
        return None
    return config.base if os.path.isdir(os.path.expanduser(config.base)) else None


def base_scale(spec: str) -> tuple[float, str]:
    """The InfoNCE scale to train ``spec`` with when ``--scale`` is not given, and where it
    comes from, without loading the model.

    An embedded model has its own (:data:`xlir_tui.models.embedded.EMBEDDED`: multilingual-e5 was
    pre-trained at temperature 0.01, so 100; fine-tuning it at 20 first flattens what it
    learned). A model trained here keeps the scale it was trained with (its
    ``xlir_train.json``), so training it further goes on at the same temperature. Any other
    model (a folder, a hub name) gets sentence-transformers' default, 20: nothing says what
    it was trained with."""
    from ..models.embedded import EMBEDDED, embedded_name

    name = embedded_name(spec)
    if name is not None:
        return EMBEDDED[name].scale, name
    from ..models.encoders import _looks_like_path

    if _looks_like_path(spec):
        path = Path(spec).expanduser() / TRAIN_FILE
        with contextlib.suppress(OSError, ValueError, AttributeError, TypeError):
            scale = json.loads(path.read_text(encoding="utf-8"))["settings"]["scale"]
            if isinstance(scale, int | float) and not isinstance(scale, bool) and scale > 0:
                return float(scale), str(path)
    return DEFAULT_SCALE, "sentence-transformers' default"


@dataclass
class RunPlan:
    """What :func:`plan_run` found: the checkpoint to resume from and what changed since, the
    training rows, the evaluation collection and the number of steps."""

    resume_from: Path | None
    recorded: dict[str, Any]
    history: list[dict[str, Any]]
    changes: dict[str, tuple[Any, Any]]
    data: Any
    pairs: Any
    eval_collection: Any
    batches_per_epoch: int
    total: int
    done: int
    config: TrainConfig
    """The settings with the base model's scale filled in (:func:`base_scale`)."""
    scale_from: str = ""
    """Where the scale came from, when the model gave it."""

    @property
    def model_from(self) -> str:
        """What the model is loaded from: the base model (a step checkpoint holds only the
        trained parameters) or, for a checkpoint written before that, the checkpoint."""
        return _model_from(self.config.base, self.resume_from)


def plan_run(config: TrainConfig) -> RunPlan:
    """Everything a person can get wrong, checked before torch is imported (seconds) and before
    the output folder is touched: the settings, the output folder, settings changed on resume,
    the base model's folder, the training and evaluation data, and the free space its
    checkpoints and model need (an estimate from the base model's size)."""
    config.validate()
    out = Path(config.out)
    resume_from = check_out_folder(config)
    recorded: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    changes: dict[str, tuple[Any, Any]] = {}
    done = 0
    if resume_from is not None:
        recorded, history, changes = _resume_changes(config, resume_from)
        done = _checkpoint_step(resume_from)
    from ..models.encoders import local_model_folder

    model_from = _model_from(config.base, resume_from)
    local_model_folder(model_from)  # a missing folder
    scale_from = ""
    if config.scale is None:
        scale, scale_from = base_scale(config.base)
        config = config.replaced(scale=scale)
    data, pairs, eval_collection = _training_data(config)
    batches_per_epoch = max(len(data) // config.batch_size, 1)
    total = config.steps or max(
        1, math.ceil((config.epochs or 1.0) * batches_per_epoch / world_size())
    )
    if done >= total:
        raise XlirError(f"the run already reached step {done} of {total}", path=out)
    size = model_size(model_from)
    if size is not None and is_main():
        check_disk_space(config, size, total, done)
    return RunPlan(
        resume_from,
        recorded,
        history,
        changes,
        data,
        pairs,
        eval_collection,
        batches_per_epoch,
        total,
        done,
        config,
        scale_from,
    )


def _model_from(base: str, resume_from: Path | None) -> str:
    """The base model, or a checkpoint written with the whole model in it (before step
    checkpoints held only the trained parameters)."""
    if resume_from is not None and not (resume_from / TRAINABLE_FILE).exists():
        return str(resume_from)
    return base


def _resume_changes(
    config: TrainConfig, resume_from: Path
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, tuple[Any, Any]]]:
    """The run's recorded settings, their history, and what this invocation changes: refused
    where the checkpoint cannot go on with it (``fixed``), and where it is more than a longer
    run unless ``--resume-with-changes`` allows it."""
    out = Path(config.out)
    recorded, history, _ = recorded_settings(resume_from)
    changes = config.changes_from(recorded)
    fixed_names = {f.name for f in fields(TrainConfig) if f.metadata.get("fixed")}
    fixed = {k: v for k, v in changes.items() if k in fixed_names}
    if fixed:
        raise XlirError(
            f"--resume goes on from the run's own checkpoint (its model and optimizer "
            f"state), so these cannot change, even with --resume-with-changes: "
            f"{changes_text(fixed)} (start a new run with another --out for that)",
            path=out,
        )
    refused = {k: v for k, v in changes.items() if not _extends(k, *v)}
    if refused and not config.resume_with_changes:
        raise XlirError(
            f"--resume: the run was trained with other settings: {changes_text(refused)} "
            "(pass --resume-with-changes to continue with these)",
            path=out,
        )
    return recorded, history, changes


def _checkpoint_step(checkpoint: Path) -> int:
    """The step a checkpoint was written at."""
    state = checkpoint / STATE_FILE
    try:
        return int(json.loads(state.read_text(encoding="utf-8"))["step"])
    except (OSError, ValueError, KeyError, TypeError):
        raise XlirError("cannot read the checkpoint's step", path=state) from None


def _training_data(config: TrainConfig) -> tuple[Any, Any, Any]:
    """The training rows and their language index, checked against the sampling settings, and
    the evaluation collection (None without ``--eval``)."""
    from ..data.collections import load_collection
    from .sampler import build_pairs, check_sampling

    collection = load_collection(config.collections, lang=config.file_lang)
    data, pairs = build_pairs(
        collection,
        hard_negatives=config.hard_negatives,
        seed=config.seed,
        passage_context=config.passage_context,
    )
    check_sampling(
        pairs,
        config.strategy,
        config.alpha,
        config.lang_weighting,
        config.batch_size,
        error=config.error,
    )
    eval_collection = load_collection(config.eval, lang=config.file_lang) if config.eval else None
    return data, pairs, eval_collection


def _extends(name: str, old: Any, new: Any) -> bool:
    """A longer run with the same settings: more steps (or epochs) than recorded."""
    return name in ("steps", "epochs") and old is not None and new is not None and new >= old
