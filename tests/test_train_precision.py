"""How ``train`` computes and what it keeps: ``--precision`` (mixed precision, recorded, kept on
resume), length groups (the same states as the whole batch), ``--save-dtype`` (the stored
weights, loaded back as float32), step checkpoints that hold only what ``--resume`` needs, and
the InfoNCE scale that comes from the base model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import SMALL, build_tiny_model, read_events, run_cli, train_args
from test_bad_input import assert_one_line_error

from xlir_tui.storage.files import MARKER_NAME
from xlir_tui.training.checkpoints import TRAINABLE_FILE
from xlir_tui.training.config import TrainConfig
from xlir_tui.training.forward import default_precision, training_forward
from xlir_tui.training.plan import base_scale


def start_settings(out: Path) -> dict:
    return [e for e in read_events(out / "events.jsonl") if e["event"] == "start"][-1]["settings"]


def linear_dtypes(model) -> list:
    """(training?, output dtype) of the first linear layer's every call, from a forward hook."""
    import torch

    seen: list = []
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Linear))
    first.register_forward_hook(lambda mod, args, out: seen.append((mod.training, out.dtype)))
    return seen


def test_mixed_precision_autocasts_training_passes_only(tiny_model: Path) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tiny_model), device="cpu")
    seen = linear_dtypes(model)
    training_forward(model, "bfloat16", 0)
    model.train()
    out = model(model.tokenize(["a question", "another, longer question here"]))
    assert seen == [(True, torch.bfloat16)]  # the matrix products in bfloat16
    assert out["token_embeddings"].dtype == torch.float32  # pooling and loss in float32
    assert out["sentence_embedding"].dtype == torch.float32
    assert all(p.dtype == torch.float32 for p in model.parameters())  # float32 master weights
    seen.clear()
    model.encode(["an evaluation encodes"])  # eval mode: float32, as before
    assert seen == [(False, torch.float32)]


def test_length_groups_give_the_states_of_the_whole_batch(tiny_model: Path) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    texts = ["a", "a much longer text with many words in it", "b c", "the quick brown fox", "x"]

    def run(group: int, padding_side: str = "right") -> tuple:
        model = SentenceTransformer(str(tiny_model), device="cpu")
        model.tokenizer.padding_side = padding_side
        for m in model.modules():
            if isinstance(m, torch.nn.Dropout):
                m.p = 0.0  # the same arithmetic, not the same random masks
        seen = linear_dtypes(model)
        training_forward(model, "float32", group)
        model.train()
        out = model(model.tokenize(texts))["sentence_embedding"]
        torch.manual_seed(0)
        (out * torch.randn(out.shape)).sum().backward()
        grad = next(p for p in model.parameters() if p.requires_grad and p.dim() == 2).grad
        return out.detach(), grad, len(seen)

    whole, grad, calls = run(0)
    grouped, grouped_grad, grouped_calls = run(2)
    assert (calls, grouped_calls) == (1, 3)  # 5 texts in groups of 2
    assert torch.allclose(whole, grouped, atol=1e-6)
    assert torch.allclose(grad, grouped_grad, atol=1e-6 * grad.abs().max().item())
    # left padding (last-token pooling): the positions would move, so the batch runs whole
    _, _, left_calls = run(2, padding_side="left")
    assert left_calls == 1


def test_the_scale_comes_from_the_model(tiny_model: Path, tmp_path: Path) -> None:
    assert base_scale("default") == (100.0, "multilingual-e5-small")
    assert base_scale("all-minilm-l6-v2")[0] == 20.0
    assert base_scale(str(tiny_model)) == (20.0, "sentence-transformers' default")
    assert base_scale("some-org/some-hub-model")[0] == 20.0
    trained = tmp_path / "trained"
    trained.mkdir()
    (trained / "xlir_train.json").write_text(json.dumps({"settings": {"scale": 50.0}}))
    assert base_scale(str(trained)) == (50.0, str(trained / "xlir_train.json"))
    (trained / "xlir_train.json").write_text("{not json")
    assert base_scale(str(trained))[0] == 20.0
    assert TrainConfig().scale is None and TrainConfig().precision is None


@pytest.mark.slow
def test_precision_scale_and_save_dtype_are_honoured_and_recorded(
    capsys, sample_dir: Path, tiny_model: Path, tmp_path: Path, monkeypatch
) -> None:
    """One bfloat16 run (activations seen through a hook), its records, its stored weights and
    checkpoint; then a run on top of it: the trained model's own scale."""
    import torch
    from safetensors import safe_open

    seen: list = []
    real = training_forward

    def watched(model, precision, group_size):
        seen.extend([linear_dtypes(model)])
        return real(model, precision, group_size)

    monkeypatch.setattr("xlir_tui.training.trainer.training_forward", watched)
    out = tmp_path / "bf16"
    code, _, err = run_cli(
        train_args(
            sample_dir,
            tiny_model,
            out,
            "--steps",
            "2",
            "--precision",
            "bfloat16",
            "--scale",
            "35",
            "--save-dtype",
            "bfloat16",
            "--freeze-embeddings",
            "--eval",
            str(sample_dir),
        ),
        capsys,
    )
    assert code == 0, err
    calls = seen[0]
    assert (True, torch.bfloat16) in calls and (True, torch.float32) not in calls
    assert (False, torch.float32) in calls  # the evaluation at the end: float32
    settings = start_settings(out)
    assert settings["precision"] == "bfloat16" and settings["scale"] == 35.0
    assert settings["save_dtype"] == "bfloat16" and settings["length_group_size"] == 8
    record = json.loads((out / "xlir_train.json").read_text())["settings"]
    assert record["precision"] == "bfloat16" and record["scale"] == 35.0
    # the stored weights: bfloat16; loaded back as float32, and they encode
    with safe_open(str(out / "model.safetensors"), framework="pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"BF16"}  # noqa: SIM118
    from xlir_tui.models.encoders import load_encoder

    enc = load_encoder(str(out))
    assert {p.dtype for p in enc.model.parameters()} == {torch.float32}
    assert enc.encode_queries(["honey bees"]).shape[0] == 1
    assert enc.describe()["precision"] == "f32"
    # the step checkpoint: the trained parameters in float32 and their optimizer state, no model
    ckpt = out / "checkpoints" / "step-2"
    assert sorted(p.name for p in ckpt.iterdir()) == [
        MARKER_NAME,  # the checkpoint is this tool's output
        "optimizer.json",
        "optimizer.safetensors",
        TRAINABLE_FILE,
        "trainer_state.json",
        "xlir_train.json",
    ]
    with safe_open(str(ckpt / TRAINABLE_FILE), framework="pt") as f:
        names = list(f.keys())
        assert {f.get_slice(k).get_dtype() for k in names} == {"F32"}
    assert names and not any("word_embeddings" in n for n in names)  # frozen: not copied
    state = json.loads((ckpt / "trainer_state.json").read_text())
    assert list(state["frozen"]) == ["0.model.embeddings.word_embeddings.weight"]
    # a model trained here is trained further at its own scale
    seen.clear()
    again = tmp_path / "again"
    code, _, err = run_cli(
        ["train", str(sample_dir), "--base", str(out), "--steps", "1", "--out", str(again), *SMALL],
        capsys,
    )
    assert code == 0, err
    start = [e for e in read_events(again / "events.jsonl") if e["event"] == "start"][-1]
    assert start["settings"]["scale"] == 35.0
    assert start["scale_from"] == str(out / "xlir_train.json")
    assert start["settings"]["precision"] == default_precision("cpu")  # the machine's choice
    assert start["settings"]["save_dtype"] == "float16"  # the default
    with safe_open(str(again / "model.safetensors"), framework="pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"F16"}  # noqa: SIM118


@pytest.mark.slow
def test_resume_keeps_the_precision_and_needs_the_same_base(
    capsys, sample_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    base = tmp_path / "base"
    shutil.copytree(tiny_model, base)
    out = tmp_path / "run"
    common = [str(sample_dir), "--base", str(base), "--out", str(out), "--freeze-embeddings"]
    code, _, err = run_cli(
        ["train", *common, "--steps", "2", "--precision", "float32", *SMALL], capsys
    )
    assert code == 0, err
    assert start_settings(out)["scale"] == 20.0  # a model without a record: ST's default
    resume = ["train", "--out", str(out), "--resume", *SMALL]
    code, _, err = run_cli([*resume, "--steps", "3", "--precision", "bfloat16"], capsys)
    assert_one_line_error(code, err, "precision 'float32' -> 'bfloat16'", "--resume-with-changes")
    code, _, err = run_cli([*resume, "--steps", "3"], capsys)  # not given: the run's own
    assert code == 0, err
    settings = start_settings(out)
    assert settings["precision"] == "float32" and settings["scale"] == 20.0
    ev = read_events(out / "events.jsonl")
    assert ev[-1]["event"] == "done" and ev[-1]["step"] == 3
    assert [e["resumed_from_step"] for e in ev if e["event"] == "start"] == [0, 2]
    # the checkpoint holds no frozen embeddings: another base model is refused, not trained on
    shutil.rmtree(base)
    build_tiny_model(base, seed=7)
    code, _, err = run_cli([*resume, "--steps", "4"], capsys)
    assert_one_line_error(code, err, "is not the one this run started from")
    assert read_events(out / "events.jsonl")[-1]["step"] == 3  # nothing trained


# ------------------------------------------------------------------------- mini-batches


def test_mini_batches_give_the_whole_batchs_loss_and_gradient(tiny_model: Path) -> None:
    """``--mini-batch-size 3`` on a batch of 8 pairs with hard negatives: the loss and every
    parameter's gradient equal the whole batch's (dropout off, so that both passes see the
    same network)."""
    import torch
    from sentence_transformers import SentenceTransformer

    from xlir_tui.training.trainer import contrastive_loss

    model = SentenceTransformer(str(tiny_model), device="cpu")
    model.eval()
    texts = [f"question {i} about honey bees" for i in range(8)]
    columns = [texts, [f"bees make honey {i} times" for i in range(8)], texts[::-1]]
    results = []
    for mini in (None, 3):
        config = TrainConfig(batch_size=8, scale=20.0, mini_batch_size=mini)
        loss = contrastive_loss(model, config)
        assert type(loss).__name__ == (
            "MultipleNegativesRankingLoss" if mini is None else "CachedMultipleNegativesRankingLoss"
        )
        model.zero_grad()
        features = [model.tokenize(c) for c in columns]
        value = loss(features, None)
        value.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        results.append((float(value.detach()), grads))
    (whole, g_whole), (mini, g_mini) = results
    assert mini == pytest.approx(whole, abs=1e-6)
    assert g_whole.keys() == g_mini.keys() and len(g_whole) > 10
    for name, grad in g_whole.items():
        torch.testing.assert_close(g_mini[name], grad, atol=1e-6, rtol=1e-4, msg=name)
    # a mini-batch as large as the batch is the whole batch: the plain loss
    config = TrainConfig(batch_size=8, scale=20.0, mini_batch_size=8)
    assert type(contrastive_loss(model, config)).__name__ == "MultipleNegativesRankingLoss"


def test_a_run_in_mini_batches_is_recorded(
    capsys, sample_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "mini"
    args = train_args(sample_dir, tiny_model, out, "--steps", "1", "--mini-batch-size", "3")
    code, _, err = run_cli([*args, "--hard-negatives"], capsys)
    assert code == 0, err
    assert start_settings(out)["mini_batch_size"] == 3
    assert json.loads((out / "xlir_train.json").read_text())["settings"]["mini_batch_size"] == 3
    code, _, err = run_cli(
        train_args(sample_dir, tiny_model, tmp_path / "x", "--mini-batch-size", "0"), capsys
    )
    assert code == 1 and "--mini-batch-size must be at least 1, got 0" in err
    assert not (tmp_path / "x").exists()
