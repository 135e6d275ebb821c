"""Experiment: which int8 settings narrow the gap to torch on XQuAD-R (mAP, cosine, speed).

    .venv/bin/python bench/int8_variants.py [--data ../shared/data/xquad-r]
        [--calibration ../shared/data/mlqa-r] [--variants ort-tensor,ort-keep-ends,ov-mlqa]

The shipped int8 backends (``onnx-int8``: dynamic, per-channel weights; ``openvino-int8``:
NNCF static, calibrated on the project's sample texts) are measured by
``bench/bench_backends.py``. This script measures the alternatives next to torch, each exported
into a temporary folder (never the cache) and evaluated without the embedding cache:

- ``ort-tensor``: ONNX Runtime dynamic int8 with one scale per weight tensor (the plain
  ``quantize_dynamic`` default);
- ``ort-keep-ends``: per-channel weights, with the first and the last transformer layer and the
  word embeddings left in float32;
- ``ov-mlqa``: NNCF static int8 calibrated on MLQA-R texts (300, fixed seed; never XQuAD-R);
- ``ov-mlqa-keep-ends``: the same with the first and last layers left in float.

mAP differences are against torch's ``evaluate`` (served by the embedding cache when filled).
Figures go to the console and to ``bench/results/int8_variants.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
VARIANTS = ("ort-tensor", "ort-keep-ends", "ov-mlqa", "ov-mlqa-keep-ends")


def ends(layers: int) -> list[str]:
    """Name fragments of the first and the last transformer layer in the exported graphs."""
    return ["layer.0/", f"layer.{layers - 1}/", "layer.0.", f"layer.{layers - 1}."]


def export_variant(name: str, enc, out: Path, calibration: list[str]) -> str:
    """Write variant ``name`` of ``enc``'s model into ``out``; returns the backend that runs it."""
    import xlir_tui.models.backends as b

    model = enc.model
    names = b._input_names(model)
    layers = int(model[0].model.config.num_hidden_layers)
    if name.startswith("ort"):
        import onnx
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic

        module, example = b._token_states_module(model, names)
        fp32 = out / "float32.onnx"
        dims = {0: "batch", 1: "sequence"}
        with torch.no_grad():
            torch.onnx.export(
                module,
                example,
                str(fp32),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes={n: dims for n in [*names, "last_hidden_state"]},
                opset_version=17,
                dynamo=False,
            )
        exclude: list[str] = []
        ops = None
        if name == "ort-keep-ends":
            graph = onnx.load(str(fp32), load_external_data=False).graph
            exclude = [n.name for n in graph.node if any(f in n.name for f in ends(layers))]
            ops = ["MatMul"]  # the word-embedding Gather stays float
        quantize_dynamic(
            str(fp32),
            str(out / "model.onnx"),
            weight_type=QuantType.QInt8,
            per_channel=name != "ort-tensor",
            nodes_to_exclude=exclude,
            op_types_to_quantize=ops,
        )
        fp32.unlink()
        return "onnx-int8"
    import nncf
    import openvino as ov

    module, example = b._token_states_module(model, names)
    import torch

    with torch.no_grad():
        converted = ov.convert_model(module, example_input=example)
    batches = []
    for s in range(0, len(calibration), 8):
        tok = model.tokenize(calibration[s : s + 8])
        batches.append(tuple(tok[n].numpy() for n in names))
    ignored = None
    if name == "ov-mlqa-keep-ends":
        pattern = "|".join(f".*{f.replace('.', '[.]')}.*" for f in ends(layers))
        ignored = nncf.IgnoredScope(patterns=[pattern], validate=False)
    converted = nncf.quantize(
        converted,
        nncf.Dataset(batches),
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(batches),
        **({"ignored_scope": ignored} if ignored else {}),
    )
    ov.save_model(converted, str(out / "openvino_model.xml"), compress_to_fp16=False)
    return "openvino-int8"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "xquad-r"))
    parser.add_argument("--calibration", default=str(ROOT.parent / "shared" / "data" / "mlqa-r"))
    parser.add_argument("--model", default="default")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "int8_variants.json"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import xlir_tui.models.backends as b
    from xlir_tui.data.collections import load_collection
    from xlir_tui.evaluation.evaluate import evaluate
    from xlir_tui.models.encoders import load_encoder

    collection = load_collection(args.data)
    mlqa = load_collection(args.calibration)
    ref = load_encoder(args.model)
    rng = random.Random(1)
    calibration = [
        ref.passage_prompt + t for t in rng.sample(mlqa.candidates["text"].to_list(), 200)
    ]
    calibration += [ref.query_prompt + t for t in rng.sample(mlqa.questions["text"].to_list(), 100)]
    t = time.perf_counter()
    base = evaluate(collection, ref).entry["summary"]
    torch_map = {s: float(base[s]["map"]) for s in ("mono", "cross", "multi")}
    print(f"torch: mAP {torch_map} ({time.perf_counter() - t:.0f} s, embedding cache on)")
    sample = rng.sample(collection.candidates["text"].to_list(), 384)
    ref_vec = ref.encode_passages(sample, cache=False)
    results: dict = {"torch": {"map": torch_map}, "load_average": os.getloadavg()}
    for name in [v.strip() for v in args.variants.split(",") if v.strip()]:
        enc = load_encoder(args.model, use_cache=False)
        with tempfile.TemporaryDirectory(prefix="xlir-int8-") as tmp:
            folder = Path(tmp)
            t = time.perf_counter()
            backend = export_variant(name, enc, folder, calibration)
            export_s = time.perf_counter() - t
            names = b._input_names(enc.model)
            run, _ = b._runner(folder, backend, names, b.configure_threads())
            enc.model[0].model = b._runtime_module(enc.model[0], run, names)
            t = time.perf_counter()
            vec = enc.encode_passages(sample, cache=False)
            rate = len(sample) / (time.perf_counter() - t)
            cos = (vec * ref_vec).sum(axis=1)
            t = time.perf_counter()
            summary = evaluate(collection, enc).entry["summary"]
            wall = time.perf_counter() - t
        maps = {s: float(summary[s]["map"]) for s in ("mono", "cross", "multi")}
        diff = {s: round(maps[s] - torch_map[s], 5) for s in maps}
        results[name] = {
            "map": maps,
            "map_diff": diff,
            "cosine_mean": float(cos.mean()),
            "cosine_min": float(cos.min()),
            "texts_per_s": round(rate, 1),
            "export_s": round(export_s, 1),
            "evaluate_s": round(wall, 1),
        }
        print(
            f"{name}: diff "
            + ", ".join(f"{s} {d:+.4f}" for s, d in diff.items())
            + f"; cosine mean {cos.mean():.4f} min {cos.min():.4f}; {rate:.1f} texts/s; "
            f"export {export_s:.0f} s, evaluate {wall / 60:.1f} min",
            flush=True,
        )
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)  # after each: runs are long
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
