"""Step checkpoints: what ``--resume`` reads, written as safetensors and JSON, never pickle.

``checkpoints/step-N/`` holds what ``--resume`` needs and no more: the trained parameters in
float32 (:data:`TRAINABLE_FILE`; frozen word embeddings are not copied: a resumed run reads them
from the base model and checks their digest) and AdamW's state of those parameters; only the
latest ``keep_checkpoints`` stay (and ``best``, early stopping's model). The model at the top of
the output folder carries no optimizer state; its weights are stored in ``--save-dtype``
(:func:`store_weights_as`) and load as float32.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path
from typing import Any

from ..errors import XlirError

CHECKPOINTS = "checkpoints"
TRAINABLE_FILE = "trainable.safetensors"
"""A step checkpoint's float32 weights: the trained parameters only (the frozen ones are the
base model's, checked by digest on resume)."""
STATE_FILE = "trainer_state.json"
"""A checkpoint's step, total steps, best score and the digests of the frozen parameters."""
OPTIMIZER_FILE = "optimizer.safetensors"
"""The optimizer's tensors; the rest of its state is ``optimizer.json``."""


def resume_point(out: Path) -> Path:
    """The checkpoint ``--resume`` continues from, or the one-line reason there is none."""
    found = latest_checkpoint(out)
    if found is None:
        raise XlirError("nothing to resume: no checkpoint in this folder", path=out)
    return found


def latest_checkpoint(out: Path) -> Path | None:
    folder = out / CHECKPOINTS
    steps = []
    if folder.is_dir():
        for p in folder.iterdir():
            if p.name.startswith("step-") and (p / STATE_FILE).exists():
                with contextlib.suppress(ValueError):
                    steps.append((int(p.name[5:]), p))
    return max(steps)[1] if steps else None


def prune_checkpoints(out: Path, keep: int) -> None:
    """Remove all but the latest ``keep`` step checkpoints: each holds the optimizer state,
    twice the model's size for AdamW."""
    steps = []
    for p in (out / CHECKPOINTS).glob("step-*"):
        with contextlib.suppress(ValueError):
            steps.append((int(p.name[5:]), p))
    for _, old in sorted(steps)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def save_optimizer(optimizer: Any, folder: Path) -> None:
    """Optimizer state as safetensors (tensors) plus JSON (everything else): no pickle."""
    from safetensors.torch import save_file

    state = optimizer.state_dict()
    tensors: dict[str, Any] = {}
    scalars: dict[str, Any] = {}
    for pid, entry in state["state"].items():
        for name, value in entry.items():
            key = f"{pid}.{name}"
            if hasattr(value, "detach"):
                tensors[key] = value.detach().cpu().contiguous()
            else:
                scalars[key] = value
    save_file(tensors, str(folder / OPTIMIZER_FILE))
    (folder / "optimizer.json").write_text(
        json.dumps({"param_groups": state["param_groups"], "scalars": scalars}, indent=1)
    )


def load_optimizer(optimizer: Any, folder: Path) -> None:
    from safetensors.torch import load_file

    meta = json.loads((folder / "optimizer.json").read_text())
    tensors = load_file(str(folder / OPTIMIZER_FILE))
    state: dict[int, dict[str, Any]] = {}
    for key, value in [*tensors.items(), *meta["scalars"].items()]:
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def frozen_digests(model: Any) -> dict[str, str]:
    """A digest of every frozen parameter's bytes: what a step checkpoint leaves out, so that a
    resumed run can check that the base model still holds the same values."""
    import hashlib

    import torch

    out = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            raw = param.detach().cpu().contiguous().view(torch.uint8).numpy()
            out[name] = hashlib.blake2b(memoryview(raw), digest_size=16).hexdigest()
    return out


def save_trainable(model: Any, folder: Path) -> None:
    """The trained parameters in float32: with the optimizer state, all ``--resume`` needs
    besides the base model."""
    from safetensors.torch import save_file

    tensors = {
        name: param.detach().cpu().contiguous()
        for name, param in model.named_parameters()
        if param.requires_grad
    }
    save_file(tensors, str(folder / TRAINABLE_FILE), metadata={"format": "pt"})


def load_trainable(model: Any, checkpoint: Path, frozen: dict[str, str], base: str) -> None:
    """Put a step checkpoint's trained parameters into ``model`` (the base model as the run
    loaded it, frozen as it froze it), after checking that the frozen ones are the same."""
    import torch
    from safetensors.torch import load_file

    state = checkpoint / STATE_FILE
    try:
        recorded = json.loads(state.read_text(encoding="utf-8")).get("frozen", {})
    except (OSError, ValueError, AttributeError):
        raise XlirError("cannot read the checkpoint's state", path=state) from None
    if recorded != frozen:
        raise XlirError(
            f"the base model {base} is not the one this run started from (its frozen "
            "parameters differ from the checkpoint's record): --resume needs that model",
            path=checkpoint,
        )
    try:
        tensors = load_file(str(checkpoint / TRAINABLE_FILE))
    except Exception as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise XlirError(
            f"cannot read the checkpoint's weights: {reason}", path=checkpoint
        ) from None
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    if set(tensors) != set(params) or any(tensors[n].shape != params[n].shape for n in params):
        raise XlirError(
            f"the checkpoint's weights do not fit the base model {base}", path=checkpoint
        )
    with torch.no_grad():
        for name, param in params.items():
            param.copy_(tensors[name])


def store_weights_as(folder: Path, dtype: str) -> None:
    """Rewrite the safetensors weights of a saved model with their floating tensors in
    ``dtype``. The configuration keeps float32, so sentence-transformers and transformers load
    them as float32 (and every backend starts from float32): only the storage is halved."""
    if dtype == "float32":
        return
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    target = getattr(torch, dtype)
    for path in sorted(folder.rglob("*.safetensors")):
        if path.name in (TRAINABLE_FILE, OPTIMIZER_FILE):
            continue
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata()
        tensors = {
            k: v.to(target) if v.is_floating_point() else v for k, v in load_file(str(path)).items()
        }
        save_file(tensors, str(path), metadata=metadata)
