"""Inference backends for encoders: one model run by ONNX Runtime or OpenVINO, float or int8.

Encoding is almost all of the time of a report, an index build or an evaluation, and a CPU runs a
transformer two to four times faster in an inference runtime with bfloat16 or int8 arithmetic
than in torch's float32 eager mode (``docs/benchmarks.md``). A backend replaces only the
transformer's forward pass inside the loaded sentence-transformers model: tokenisation, prompts,
truncation, pooling and normalisation stay sentence-transformers' own, so every backend reads
exactly the same token ids and pools them the same way, and
:class:`xlir_tui.models.encoders.Encoder` works unchanged on top.

Backends (``BACKENDS``):

- ``torch``: sentence-transformers as loaded, float32. Training always runs here.
- ``openvino``: the model converted by OpenVINO's own converter (``openvino.convert_model``
  straight from the torch module), float32 weights, run at the CPU plugin's default precision:
  bfloat16 on processors with AMX or AVX-512 BF16, float32 elsewhere. The precision used is
  recorded (``Encoder.describe``) and is part of the embedding cache key.
- ``openvino-int8``: the same, statically quantised to int8 by NNCF (weights and activations,
  ``ModelType.TRANSFORMER``: SmoothQuant and bias correction), calibrated on
  ``calibration.json`` (texts of the project's own sample collection, 10 languages).
- ``onnx-int8``: ``torch.onnx.export`` then ONNX Runtime's dynamic int8 quantisation
  (``quantize_dynamic``, int8 weights per output channel, activations quantised per batch). The
  TorchScript exporter (``dynamo=False``) is used: its graph ran faster after quantisation than
  the dynamo exporter's. ONNX Runtime in float32 was slower than torch here, so there is no
  ``onnx`` float backend.

On XQuAD-R only ``openvino`` stays within 0.005 mAP of torch in mono, cross and multi
(``REPORT_BACKEND``); the int8 backends trade 0.006 to 0.023 mAP for their speed.

Why the export is done here and not through sentence-transformers' ``backend="onnx"`` or
``"openvino"``: those go through ``optimum-onnx`` / ``optimum-intel``, whose releases require
transformers < 4.58 / < 5.6, older than the transformers this project runs. The libraries that
own each step do the work (torch's ONNX exporter, ONNX Runtime's quantiser and runtime,
OpenVINO's converter and runtime, NNCF's quantiser); this module only chooses their settings,
caches what they produce and plugs the runtime into sentence-transformers' ``Transformer``
module, which is the same place sentence-transformers' own backends plug theirs.

An export is made once per model fingerprint and backend, under ``cache_root()/exports``,
written through :func:`xlir_tui.storage.files.atomic_dir` under a lock, with a record of every
file's size and digest. Each load checks the files against that record: a damaged export is refused
with a one-line :class:`ModelError` naming the folder (delete it and it is made again), never used.
A trained model folder is a new fingerprint, so it gets its export the first time it is encoded with
a fast backend."""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import io
import json
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from ..storage.files import atomic_dir, cache_root, file_digest, folder_lock, text_digest

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "REPORT_BACKEND",
    "attach_backend",
    "check_backend",
    "configure_threads",
    "export_folder",
    "thread_count",
]

BACKENDS = ("torch", "onnx-int8", "openvino", "openvino-int8")
"""Every value ``load_encoder(..., backend=...)`` accepts."""
DEFAULT_BACKEND = "torch"
"""What ``load_encoder`` runs when no backend is named: the reference every backend is measured
against, and the only one training uses."""
REPORT_BACKEND = "openvino"
"""The backend whose retrieval scores on XQuAD-R stay within 0.005 mAP of torch in every setting
(mono, cross, multi) while encoding fastest: see ``docs/benchmarks.md``."""

EXPORT_VERSION = 1
"""Bumped whenever an export's content changes for the same model (folder names carry it)."""
RECORD = "xlir_export.json"
CALIBRATION_FILE = Path(__file__).with_name("calibration.json")

_PACKAGES = {"onnx-int8": ("onnxruntime", "onnx"), "openvino": ("openvino",)}
_PACKAGES["openvino-int8"] = ("openvino", "nncf")


@dataclass(frozen=True)
class Runtime:
    """A loaded export: what runs the transformer, and what the embedding cache and reports
    must know about it."""

    backend: str
    precision: str
    """The arithmetic the runtime uses (``bf16``, ``f32``, ``int8``)."""
    folder: Path
    export: str = ""
    """A digest of the export's files: another exporter or quantiser release gives another."""
    version: str = ""
    """The runtime package and its version (``openvino 2026.4.1``)."""

    @property
    def tag(self) -> str:
        """What distinguishes this runtime's vectors from every other's (the embedding cache
        key): the backend, its precision, the exported files and the runtime's release."""
        return f"{self.backend}/{self.precision}/{self.export[:16]}/{self.version}"


# --------------------------------------------------------------------------- choice and threads


def check_backend(backend: str) -> str:
    """``backend`` if it is known and its runtime is installed; a one-line error otherwise.

    Checked before a model is loaded, so a missing package costs nothing slow.
    """
    if backend not in BACKENDS:
        raise ModelError(f"unknown backend {backend!r} (choose {', '.join(BACKENDS)})")
    missing = [p for p in _PACKAGES.get(backend, ()) if importlib.util.find_spec(p) is None]
    if missing:
        raise ModelError(
            f"backend {backend} needs the package{'s' if len(missing) > 1 else ''} "
            f"{' and '.join(missing)} (pip install {' '.join(missing)})"
        )
    return backend


def thread_count() -> int:
    """The cores this process may run on (its CPU affinity, not the machine's count), shared
    with the other processes ``torchrun`` started on this machine (``LOCAL_WORLD_SIZE``)."""
    try:
        cores = max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        cores = max(1, os.cpu_count() or 1)
    try:
        local = max(1, int(os.environ.get("LOCAL_WORLD_SIZE") or 1))
    except ValueError:
        local = 1
    return max(1, cores // local)


def configure_threads(threads: int | None = None) -> int:
    """Give torch, ONNX Runtime and OpenVINO the same thread count, chosen here only.

    torch sizes its pool by physical cores, ONNX Runtime and OpenVINO by their own rules; loaded
    together they oversubscribe the cores, and a runtime whose idle threads spin steals the cores
    from torch's pooling and numpy's products between batches. This is the one place that
    decides: every runtime gets :func:`thread_count` threads, and the ONNX Runtime session is
    told not to spin (see :func:`_onnx_session`).
    """
    n = threads or thread_count()
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


# --------------------------------------------------------------------------- exports


def export_folder(fingerprint: str, backend: str) -> Path:
    """Where the export of the model with ``fingerprint`` for ``backend`` lives."""
    return cache_root() / "exports" / f"{fingerprint}-{backend}-e{EXPORT_VERSION}"


def calibration_texts(query_prompt: str, passage_prompt: str) -> list[str]:
    """The static-quantisation calibration set, with the model's prompts as it will read them."""
    data = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
    return [query_prompt + t for t in data["query"]] + [passage_prompt + t for t in data["passage"]]


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _transformer(model: Any) -> Any:
    """The model's ``Transformer`` module, which must read text and output token states."""
    first = model[0] if len(model) else None
    config = getattr(first, "modality_config", {}).get("text", {})
    if type(first).__name__ != "Transformer" or config.get("method") != "forward":
        raise ModelError(
            "fast backends run sentence-transformers models whose first module is a text "
            "Transformer (use --backend torch for this model)"
        )
    if config.get("method_output_name") != "last_hidden_state":
        raise ModelError(
            "fast backends run transformers that output token states (last_hidden_state); this "
            f"one outputs {config.get('method_output_name')!r} (use --backend torch)"
        )
    return first


def _input_names(model: Any) -> list[str]:
    """The tokenizer outputs the transformer reads, in the order the export takes them."""
    sample = model.tokenize(["a b", "c"])
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]
    if names[:2] != ["input_ids", "attention_mask"]:
        raise ModelError("fast backends need a tokenizer that returns input_ids and attention_mask")
    return names


def _token_states_module(model: Any, names: Sequence[str]) -> Any:
    """A torch module from the tokenizer's tensors to the last hidden states, for the exporters."""
    import torch

    inner = _transformer(model).model
    accepts_cache = "use_cache" in inspect.signature(inner.forward).parameters

    class TokenStates(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = inner

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor | None = None,
        ) -> torch.Tensor:
            kwargs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                kwargs["token_type_ids"] = token_type_ids
            if accepts_cache:
                kwargs["use_cache"] = False
            return self.inner(**kwargs, return_dict=True).last_hidden_state

    module = TokenStates().eval()
    sample = model.tokenize(["query: an example sentence to trace", "passage: another one"])
    return module, tuple(sample[n] for n in names)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """transformers' own warnings off while a model is traced: tracing touches attributes (a
    saved ``loss_type``, for one) whose advice means nothing to someone encoding text."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


def _export_onnx_int8(model: Any, names: list[str], out: Path) -> dict[str, Any]:
    import logging
    import warnings

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    module, example = _token_states_module(model, names)
    dims = {0: "batch", 1: "sequence"}
    fp32 = out / "float32.onnx"
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad(), _quiet():
        warnings.simplefilter("ignore")
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
    level = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # the quantiser's advice goes to the root logger
    try:
        quantize_dynamic(
            str(fp32), str(out / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True
        )
    finally:
        logging.getLogger().setLevel(level)
    for p in out.iterdir():
        if p.name != "model.onnx":
            p.unlink()
    return {"exporter": "torch.onnx.export", "quantization": "dynamic int8, per-channel weights"}


def _export_openvino(model: Any, names: list[str], out: Path, int8: bool, prompts: tuple[str, str]):
    import warnings

    import openvino as ov
    import torch

    module, example = _token_states_module(model, names)
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad(), _quiet():
        warnings.simplefilter("ignore")
        converted = ov.convert_model(module, example_input=example)
    info: dict[str, Any] = {"exporter": "openvino.convert_model"}
    if int8:
        import logging

        import nncf

        logging.getLogger("nncf").setLevel(logging.ERROR)
        texts = calibration_texts(*prompts)
        batches = []
        for s in range(0, len(texts), 8):
            tok = model.tokenize(texts[s : s + 8])
            batches.append(tuple(tok[n].numpy() for n in names))
        # NNCF draws progress bars on the console; a command's output is its own
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            converted = nncf.quantize(
                converted,
                nncf.Dataset(batches),
                model_type=nncf.ModelType.TRANSFORMER,
                subset_size=len(batches),
            )
        info["quantization"] = (
            f"static int8 (NNCF, transformer preset), calibrated on {len(texts)} texts of "
            f"{CALIBRATION_FILE.name}"
        )
    ov.save_model(converted, str(out / "openvino_model.xml"), compress_to_fp16=False)
    return info


def _write_record(folder: Path, record: dict[str, Any]) -> None:
    record["files"] = {
        p.name: {"size": p.stat().st_size, "blake2b": file_digest(p)}
        for p in sorted(folder.iterdir())
        if p.is_file()
    }
    (folder / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def check_export(folder: Path, fingerprint: str, backend: str) -> dict[str, Any]:
    """The export's record, once every file matches it; a one-line error for anything else."""
    where = f"export for backend {backend}"
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
        files = record["files"]
        if record.get("fingerprint") != fingerprint or record.get("backend") != backend:
            raise ModelError(f"{where} was made for another model or backend", path=folder)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ModelError(
            f"damaged {where} ({RECORD}: {_first_line(e)}); delete the folder to export again",
            path=folder,
        ) from None
    for name, expected in files.items():
        path = folder / name
        try:
            size = path.stat().st_size
        except OSError:
            raise ModelError(
                f"damaged {where}: {name} is missing; delete the folder to export again",
                path=folder,
            ) from None
        if size != expected["size"] or file_digest(path) != expected["blake2b"]:
            raise ModelError(
                f"damaged {where}: {name} does not match its record; delete the folder to "
                "export again",
                path=folder,
            )
    return record


def ensure_export(
    model: Any, fingerprint: str, backend: str, prompts: tuple[str, str] = ("", "")
) -> tuple[Path, dict[str, Any]]:
    """The checked export of ``model`` for ``backend``, made now if there is none (once).

    ``prompts`` (query, passage) are prepended to the calibration texts of a static
    quantisation, so calibration sees the inputs the model will see.
    """
    from ..storage.files import mark_used

    folder = export_folder(fingerprint, backend)
    if folder.exists():  # exports appear whole (atomic_dir): one without its record is damaged
        record = check_export(folder, fingerprint, backend)
        mark_used(folder)
        return folder, record
    names = _input_names(model)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        with folder_lock(folder):
            if folder.exists():  # another process made it while this one waited
                return folder, check_export(folder, fingerprint, backend)
            with atomic_dir(folder, command="cache", ours=True) as tmp:
                if backend == "onnx-int8":
                    info = _export_onnx_int8(model, names, tmp)
                else:
                    info = _export_openvino(model, names, tmp, backend == "openvino-int8", prompts)
                _write_record(
                    tmp,
                    {
                        "backend": backend,
                        "fingerprint": fingerprint,
                        "export_version": EXPORT_VERSION,
                        "inputs": names,
                        **info,
                    },
                )
    except ModelError:
        raise
    except OSError as e:
        raise ModelError(
            f"cannot write the export for backend {backend}: {e.strerror or e} (set "
            "XLIR_TUI_CACHE to a writable folder)",
            path=folder,
        ) from None
    except Exception as e:
        raise ModelError(
            f"cannot export this model for backend {backend}: {_first_line(e)} "
            "(use --backend torch)"
        ) from None
    return folder, check_export(folder, fingerprint, backend)


# --------------------------------------------------------------------------- runtimes


def _onnx_session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # idle threads that spin between batches slow torch's pooling and numpy's scoring
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _runner(folder: Path, backend: str, names: list[str], threads: int) -> tuple[Any, str]:
    """A function from the tokenizer's int64 arrays to float32 token states, and its precision."""
    if backend == "onnx-int8":
        session = _onnx_session(folder / "model.onnx", threads)

        def run_onnx(arrays: list[np.ndarray]) -> np.ndarray:
            return session.run(None, dict(zip(names, arrays, strict=True)))[0]

        return run_onnx, "int8"
    import openvino as ov

    compiled = ov.Core().compile_model(
        str(folder / "openvino_model.xml"),
        "CPU",
        {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"},
    )
    request = compiled.create_infer_request()
    output = compiled.outputs[0]
    lock = threading.Lock()  # one request object: encode may be called from worker threads

    def run_openvino(arrays: list[np.ndarray]) -> np.ndarray:
        with lock:
            return np.array(request.infer(arrays)[output], dtype=np.float32, copy=True)

    precision = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()  # bf16, f32
    return run_openvino, "int8" if backend == "openvino-int8" else precision


def _runtime_module(transformer: Any, run: Any, names: list[str]) -> Any:
    """A stand-in for the transformers model inside ``transformer``: same config, same output
    field, its forward pass done by ``run``."""
    import torch
    from transformers.modeling_outputs import BaseModelOutput

    class RuntimeModel(torch.nn.Module):
        def __init__(self, config: Any) -> None:
            super().__init__()
            self.config = config
            self.device = torch.device("cpu")

        def forward(self, **inputs: Any) -> BaseModelOutput:
            missing = [n for n in names if inputs.get(n) is None]
            if missing:
                raise ModelError(f"the tokenizer gave no {', '.join(missing)} to the runtime")
            arrays = [np.ascontiguousarray(inputs[n].cpu().numpy(), dtype=np.int64) for n in names]
            return BaseModelOutput(last_hidden_state=torch.from_numpy(run(arrays)))

    return RuntimeModel(transformer.model.config)


def attach_backend(
    model: Any, backend: str, fingerprint: str, prompts: tuple[str, str] = ("", "")
) -> Runtime:
    """Run ``model``'s transformer with ``backend`` from now on (its export made first if need
    be); the torch weights are released. ``torch`` leaves the model as it is."""
    threads = configure_threads()
    if backend == "torch":
        return Runtime("torch", "f32", Path())
    check_backend(backend)
    transformer = _transformer(model)
    folder, record = ensure_export(model, fingerprint, backend, prompts)
    names = list(record["inputs"])
    try:
        run, precision = _runner(folder, backend, names, threads)
    except Exception as e:
        raise ModelError(
            f"cannot load the export for backend {backend}: {_first_line(e)}; delete the folder "
            "to export again",
            path=folder,
        ) from None
    transformer.model = _runtime_module(transformer, run, names)
    package = "onnxruntime" if backend == "onnx-int8" else "openvino"
    export = text_digest(*(f"{n}={f['blake2b']}" for n, f in sorted(record["files"].items())))
    return Runtime(backend, precision, folder, export, f"{package} {_version(package)}")


def _version(package: str) -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - checked before
        return "unknown"
