"""How much a run writes, estimated before anything loads, from the base model's files.

A run that would fill the disk is refused before torch is imported (:func:`check_disk_space`):
the estimate needs only the safetensors headers of the base model (:func:`model_size`).
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import XlirError
from ..models.run_files import EVENTS_FILE
from ..storage.files import human_bytes
from .checkpoints import CHECKPOINTS
from .config import TrainConfig


@dataclass(frozen=True)
class ModelSize:
    """A model's size as its files tell it, read without loading it (no torch)."""

    parameters: int
    embeddings: int  # of which the word-embedding matrix: what --freeze-embeddings keeps
    other_bytes: int  # tokenizer, configuration: copied as they are into every saved model

    def model_bytes(self, dtype: str = "float32") -> int:
        """One saved copy of the model, its weights stored in ``dtype``."""
        return (4 if dtype == "float32" else 2) * self.parameters + self.other_bytes


_EMBEDDING_NAMES = ("word_embeddings.weight", "embed_tokens.weight", "wte.weight")
"""How the word-embedding matrix is named in BERT-, Llama- and GPT-2-style models."""


def model_size(spec: str) -> ModelSize | None:
    """The size of the model ``spec`` names, without loading it: the default's from its source
    file's header until it is built, every local folder's (the built default, all-minilm-l6-v2,
    a model or a checkpoint folder) from its safetensors headers. None for a hub name (fetching
    it for an estimate would be the slow work the estimate comes before) and for weights that
    are not safetensors."""
    from ..models.embedded import e5_parameters
    from ..models.encoders import local_model_folder

    folder = local_model_folder(spec)
    if folder is None:
        from ..models.embedded import DEFAULT_NAME, embedded_name

        counted = e5_parameters() if embedded_name(spec) == DEFAULT_NAME else None
        return ModelSize(*counted, 0) if counted else None
    return _folder_size(folder)


def _folder_size(folder: Path) -> ModelSize | None:
    """Weights counted from the safetensors headers (the library reads only the header), the
    other files by their size; optimizer state, checkpoints and the run's logs left out."""
    from safetensors import safe_open

    parameters = embeddings = other = 0
    weights = False
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if not path.is_file() or parts[0] in (CHECKPOINTS, EVENTS_FILE) or parts[0][0] == ".":
            continue
        if path.name.startswith("optimizer."):
            continue
        if path.suffix != ".safetensors":
            other += path.stat().st_size
            continue
        try:
            with safe_open(str(path), framework="numpy") as f:
                for key in f.keys():  # noqa: SIM118 - a safetensors handle, not a dict
                    n = math.prod(f.get_slice(key).get_shape())
                    parameters += n
                    if key.endswith(_EMBEDDING_NAMES):
                        embeddings += n
        except Exception:  # an unreadable header: no estimate rather than a wrong one
            return None
        weights = True
    return ModelSize(parameters, embeddings, other) if weights else None


def disk_need(config: TrainConfig, size: ModelSize, total: int, done: int = 0) -> tuple[int, str]:
    """The most bytes the run adds to its output folder at any moment, and what they are.

    A step checkpoint holds every trained weight in float32 and AdamW's two float32 moments of
    it (``--freeze-embeddings`` leaves the embedding matrix out of all three); a new one is
    written before the oldest is pruned, so ``keep_checkpoints + 1`` exist for a moment; the
    final model (weights in ``--save-dtype``) goes beside the kept ones; early stopping keeps
    its best model as well. A resumed run adds one checkpoint and one model to what its folder
    already holds.
    """
    trained = size.parameters - (size.embeddings if config.freeze_embeddings else 0)
    model = size.model_bytes(config.save_dtype)
    checkpoint = 12 * trained
    every = config.checkpoint_every
    written = max(1, (total - 1) // every - done // every + 1)  # the last one included
    keep = config.keep_checkpoints
    if done:
        at_once, need = 1, checkpoint + model
    else:
        at_once = min(written, keep + 1)
        need = max(at_once * checkpoint, min(written, keep) * checkpoint + model)
    if config.early_stopping is not None:
        need += model
    what = (
        f"the model {human_bytes(model)}, a checkpoint {human_bytes(checkpoint)} of the "
        "trained weights and their optimizer state"
        + (f", {at_once} at a time" if at_once > 1 else "")
    )
    return need, what


def check_disk_space(config: TrainConfig, size: ModelSize, total: int, done: int = 0) -> None:
    """Refuse, before anything loads, a run whose checkpoints and model will not fit where
    ``--out`` goes (an estimate from the base model's size; a folder ``--overwrite`` replaces
    is removed before the run starts, so its space counts as free)."""
    out = Path(config.out)
    need, what = disk_need(config, size, total, done)
    base = next((p for p in (out, *out.absolute().parents) if p.exists()), None)
    if base is None:
        return
    try:
        free = shutil.disk_usage(base).free
    except OSError:
        return
    if config.overwrite and not config.resume and out.is_dir():
        free += sum(p.stat().st_size for p in out.rglob("*") if p.is_file() and not p.is_symlink())
    if need > free:
        raise XlirError(
            f"not enough free space: the run writes about {human_bytes(need)} ({what}), "
            f"{human_bytes(free)} is free on {base}",
            path=out,
        )
