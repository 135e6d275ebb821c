"""How the model computes during training: its precision, its length groups, what is frozen.

``--precision bfloat16`` trains in mixed precision (:func:`training_forward`): the weights and
the optimizer stay float32 and only the transformer's matrix products run in bfloat16.
"""

from __future__ import annotations

import contextlib
from typing import Any

from ..errors import XlirError


def default_precision(device: str) -> str:
    """``bfloat16`` where the device computes it natively (a CPU with AVX512-BF16 or AMX, which
    oneDNN uses; a CUDA GPU that supports it), else ``float32``: emulated bfloat16 would be
    slower than float32, not faster."""
    import torch

    if device.startswith("cuda"):
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    if device == "cpu":
        supported = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
        with contextlib.suppress(Exception):
            return "bfloat16" if supported is not None and supported() else "float32"
    return "float32"


def freeze_input_embeddings(model: Any) -> int:
    """Keep the word-embedding matrix as it is (no gradient, no optimizer state); return how many
    parameters that leaves out. In multilingual-e5-small it holds 96M of the 118M parameters, for
    250k pieces of which one batch touches a few hundred: training the rest costs a fraction of
    the time and memory, and the vocabulary of languages absent from the training data is kept.
    """
    frozen = 0
    for module in model:
        auto = getattr(module, "auto_model", None)
        if auto is not None and hasattr(auto, "get_input_embeddings"):
            weight = auto.get_input_embeddings().weight
            weight.requires_grad_(False)
            frozen += weight.numel()
    if not frozen:
        raise XlirError("--freeze-embeddings: this model has no word-embedding matrix to freeze")
    return frozen


def check_precision(precision: str, device: str) -> None:
    """Refuse bfloat16 on a GPU that cannot compute it (a CPU without native bfloat16 emulates
    it: slower, but the same arithmetic, so it is allowed when asked for)."""
    if precision == "bfloat16" and device.startswith("cuda"):
        import torch

        if not torch.cuda.is_bf16_supported():
            raise XlirError(
                f"--precision bfloat16: this GPU ({torch.cuda.get_device_name()}) has no "
                "bfloat16 arithmetic (use --precision float32)"
            )


def training_forward(model: Any, precision: str, group_size: int) -> None:
    """How the transformer computes during training steps: in ``precision`` and in length
    groups of ``group_size`` texts. A model in eval mode (encoding, the evaluations during a
    run) computes as before: float32, the whole batch at once.

    **Mixed precision** (``bfloat16``): the forward pass, and so its backward pass, runs under
    ``torch.autocast``, which keeps the float32 weights as they are (the optimizer updates
    float32 master weights) and casts per operation: matrix products in bfloat16, reductions
    and softmax in float32. The token states leave the transformer as float32, so pooling,
    normalisation, the similarities (multiplied by a scale of up to 100, where bfloat16's 3
    significant digits would blur the logits) and the loss stay float32. bfloat16 has
    float32's exponent range, so no gradient scaler is needed (float16 would need one). Why
    not the trainer's ``bf16=True``: accelerate then wraps the whole model's forward for good,
    so every ``encode`` after it (the evaluations during training too) and the pooling would
    run in bfloat16 as well.

    **Length groups**: the texts of one column of a batch (the queries; the passages with
    their negatives) are padded to the longest of them, so on hybrid MLQA-R batches more than
    half of the positions the transformer computes are padding (``bench/bench_train_step.py``).
    The batch stays what the sampler made it (the same pairs, the same in-batch negatives, one
    loss over all of them); only its forward pass is split: the texts sorted by length, run
    ``group_size`` at a time, each group cut to its own longest text, and the token states put
    back in the batch's order. Padding is masked out of attention and pooling, so the states
    are those of the whole batch up to rounding. Not with left padding (last-token pooling),
    where cutting the padding would move the positions of the real tokens.

    The wrapper is set on the module instance and calls the class's own forward, so a deep
    copy (a fast backend's evaluation copy) runs its own module.
    """
    if precision == "float32" and not group_size:
        return
    import types

    import torch

    dtype = getattr(torch, precision) if precision != "float32" else None
    device_type = next(model.parameters()).device.type
    transformer = model[0]
    right_padded = getattr(getattr(model, "tokenizer", None), "padding_side", "right") == "right"

    def forward(self: Any, features: dict[str, Any], **kwargs: Any) -> Any:
        if not self.training or kwargs:
            return type(self).forward(self, features, **kwargs)
        if group_size and right_padded and _groupable(self, features, group_size):
            return _forward_in_groups(self, features, group_size, device_type, dtype)
        return _forward_once(self, features, device_type, dtype)

    transformer.forward = types.MethodType(forward, transformer)


def _forward_once(module: Any, features: dict[str, Any], device_type: str, dtype: Any) -> Any:
    """The module's own forward, under autocast to ``dtype`` (None: as it is), its token
    states handed on as float32."""
    import torch

    context = (
        torch.autocast(device_type, dtype=dtype) if dtype is not None else contextlib.nullcontext()
    )
    with context:
        out = type(module).forward(module, features)
    states = out.get("token_embeddings")
    if isinstance(states, torch.Tensor) and states.is_floating_point():
        out["token_embeddings"] = states.float()
    return out


def _groupable(module: Any, features: dict[str, Any], group_size: int) -> bool:
    """Whether a batch of text can run in length groups: a 2-D attention mask with more rows
    than a group, and no hidden states asked for (they would come back cut and shuffled)."""
    import torch

    mask = features.get("attention_mask")
    return bool(
        features.get("modality", "text") == "text"
        and isinstance(mask, torch.Tensor)
        and mask.dim() == 2
        and mask.shape[0] > group_size
        and not getattr(module.model.config, "output_hidden_states", False)
    )


def _forward_in_groups(
    module: Any, features: dict[str, Any], group_size: int, device_type: str, dtype: Any
) -> dict[str, Any]:
    """The texts sorted by length, run ``group_size`` at a time, each group cut to its own
    longest text; the token states padded back and put in the batch's order."""
    import torch

    mask = features["attention_mask"]
    rows, width = mask.shape
    lengths = mask.sum(dim=1)
    order = torch.argsort(lengths, descending=True, stable=True)
    pieces = []
    for start in range(0, rows, group_size):
        index = order[start : start + group_size]
        cut = int(lengths[index].max())
        part = {}
        for key, value in features.items():
            if isinstance(value, torch.Tensor) and value.shape[:1] == (rows,):
                value = value[index]
                if value.dim() == 2 and value.shape[1] == width:
                    value = value[:, :cut]
            part[key] = value
        states = _forward_once(module, part, device_type, dtype)["token_embeddings"]
        pieces.append(torch.nn.functional.pad(states, (0, 0, 0, width - cut)))
    features["token_embeddings"] = torch.cat(pieces)[torch.argsort(order)]
    return features
