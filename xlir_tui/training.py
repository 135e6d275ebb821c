"""Hybrid batch training with sentence-transformers: settings, events, checkpoints, resume.

``train`` fine-tunes a base encoder on the (question, answer sentence) pairs of parallel QA
collections with ``MultipleNegativesRankingLoss`` (InfoNCE with in-batch negatives, optional hard
negatives) and a :class:`~xlir_tui.sampling.LanguageBatchSampler`. The output folder is a
sentence-transformers model (safetensors) with its query and passage prompts, plus:

- ``events.jsonl``: one JSON object per line, flushed as written, so another program (the
  explorer) can follow a run: ``start`` (settings), ``step`` (loss, lr, examples/s), ``eval``
  (bias-report figures on a held-out collection), ``checkpoint``, and last ``done``, ``stopped``
  or ``failed`` (with the reason);
- ``checkpoints/step-N/``: the model plus the optimizer state (safetensors + JSON, never pickle),
  from which ``--resume`` continues with the same batches it would have seen;
- ``xlir_train.json``: the settings and the final figures.

The same call works under ``torchrun`` or ``accelerate launch`` (DDP): the trainer shards whole
batches across ranks, and only rank 0 writes files.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from . import __version__
from .errors import XlirError
from .paths import atomic_dir

EventSink = Callable[[dict[str, Any]], None]
DEFAULT_QUERY_PROMPT = "Query: "
DEFAULT_PASSAGE_PROMPT = "Passage: "
TRAIN_FILE = "xlir_train.json"
EVENTS_FILE = "events.jsonl"
CHECKPOINTS = "checkpoints"


@dataclass
class TrainConfig:
    """Every training setting; field names are the TOML keys and, with dashes, the CLI flags."""

    collections: list[str] = field(default_factory=list)
    out: str = ""
    base: str = "default"
    strategy: str = "hybrid"
    alpha: float = 0.5
    lang_weighting: str = "uniform"
    batch_size: int = 32
    steps: int | None = None
    epochs: float | None = None
    lr: float = 3e-5
    weight_decay: float = 0.01
    warmup_steps: int = 0
    scale: float = 20.0
    hard_negatives: bool = False
    passage_context: bool = False
    max_seq_length: int | None = 128
    query_prompt: str | None = None
    passage_prompt: str | None = None
    freeze_embeddings: bool = False
    pooling: str | None = None
    seed: int = 0
    lang: str | None = None
    eval: list[str] = field(default_factory=list)
    eval_every: int | None = None
    early_stopping: int | None = None
    checkpoint_every: int = 100
    overwrite: bool = False
    resume: bool = False

    @classmethod
    def from_toml(cls, path: Path) -> dict[str, Any]:
        """Read settings from a TOML file (top level or a ``[train]`` table)."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise XlirError("no such config file", path=path) from None
        except tomllib.TOMLDecodeError as e:
            raise XlirError(f"malformed TOML: {e}", path=path) from None
        data = data.get("train", data)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise XlirError(
                f"unknown setting {', '.join(map(repr, unknown))} (known: "
                f"{', '.join(sorted(known))})",
                path=path,
            )
        for key in ("collections", "eval"):
            if isinstance(data.get(key), str):
                data[key] = [data[key]]
        return data

    @classmethod
    def merged(cls, file_values: dict[str, Any], cli_values: dict[str, Any]) -> TrainConfig:
        """Defaults, then the config file, then the command line (which wins)."""
        values = {**file_values, **{k: v for k, v in cli_values.items() if v is not None}}
        try:
            return cls(**values)
        except TypeError as e:
            raise XlirError(f"bad settings: {e}") from None

    def with_prompts_of(self, encoder: Any) -> TrainConfig:
        """The prompts left unset become the base model's own (``query: `` / ``passage: `` for
        multilingual-e5), or the paper's ``Query: `` / ``Passage: `` for a model without any:
        a model fine-tuned on other prefixes first has to unlearn the ones it was trained with.
        """
        from dataclasses import replace

        return replace(
            self,
            query_prompt=self.query_prompt
            if self.query_prompt is not None
            else (encoder.query_prompt or DEFAULT_QUERY_PROMPT),
            passage_prompt=self.passage_prompt
            if self.passage_prompt is not None
            else (encoder.passage_prompt or DEFAULT_PASSAGE_PROMPT),
        )

    def validate(self) -> None:
        from .sampling import LANG_WEIGHTINGS, STRATEGIES

        if not self.collections:
            raise XlirError("no training collection given")
        if not self.out:
            raise XlirError("no output folder given (--out)")
        if self.pooling is not None and self.pooling not in ("mean", "lasttoken"):
            raise XlirError(f"--pooling must be mean or lasttoken, got {self.pooling!r}")
        if self.strategy not in STRATEGIES:
            raise XlirError(
                f"--strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}"
            )
        if not 0.0 <= self.alpha <= 1.0:
            raise XlirError(f"--alpha must be between 0 and 1, got {self.alpha}")
        if self.lang_weighting not in LANG_WEIGHTINGS:
            raise XlirError(f"--lang-weighting must be one of {', '.join(LANG_WEIGHTINGS)}")
        if self.steps is not None and self.epochs is not None:
            raise XlirError("give --steps or --epochs, not both")
        for name in ("batch_size", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise XlirError(f"--{name.replace('_', '-')} must be at least 1")
        if self.steps is not None and self.steps < 1:
            raise XlirError(f"--steps must be at least 1, got {self.steps}")
        if self.epochs is not None and self.epochs <= 0:
            raise XlirError(f"--epochs must be positive, got {self.epochs}")
        if self.lr <= 0:
            raise XlirError(f"--lr must be positive, got {self.lr}")
        if self.early_stopping is not None and not self.eval:
            raise XlirError("--early-stopping needs --eval")


class EventLog:
    """``events.jsonl``: append-only, one flushed line per event, readable while written."""

    def __init__(self, path: Path, sink: EventSink | None = None, enabled: bool = True) -> None:
        self.path = path
        self.sink = sink
        self.enabled = enabled
        self._file = path.open("a", encoding="utf-8") if enabled else None

    def emit(self, event: str, **data: Any) -> dict[str, Any]:
        record = {"event": event, "time": round(time.time(), 3), **data}
        if self._file is not None:
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._file.flush()
        if self.sink is not None and self.enabled:
            self.sink(record)
        return record

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_events(path: Path) -> list[dict[str, Any]]:
    """The events of a run so far; a half-written last line (a run in progress) is left out."""
    out = []
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            out.append(json.loads(line))
    return out


def latest_checkpoint(out: Path) -> Path | None:
    folder = out / CHECKPOINTS
    steps = []
    if folder.is_dir():
        for p in folder.iterdir():
            if p.name.startswith("step-") and (p / "trainer_state.json").exists():
                with contextlib.suppress(ValueError):
                    steps.append((int(p.name[5:]), p))
    return max(steps)[1] if steps else None


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
    save_file(tensors, str(folder / "optimizer.safetensors"))
    (folder / "optimizer.json").write_text(
        json.dumps({"param_groups": state["param_groups"], "scalars": scalars}, indent=1)
    )


def load_optimizer(optimizer: Any, folder: Path) -> None:
    from safetensors.torch import load_file

    meta = json.loads((folder / "optimizer.json").read_text())
    tensors = load_file(str(folder / "optimizer.safetensors"))
    state: dict[int, dict[str, Any]] = {}
    for key, value in [*tensors.items(), *meta["scalars"].items()]:
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def _is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def train(config: TrainConfig, on_event: EventSink | None = None) -> Path:
    """Run a training job to the end (or to Ctrl-C); return the output folder."""
    config.validate()
    out = Path(config.out)
    main = _is_main()
    resume_from = None
    if config.resume:
        resume_from = latest_checkpoint(out)
        if resume_from is None:
            raise XlirError("nothing to resume: no checkpoint in this folder", path=out)
    elif main and out.exists() and any(out.iterdir()) and not config.overwrite:
        # rank 0 alone: under DDP the other ranks would see the folder rank 0 just made
        raise XlirError(
            "output folder exists (pass --overwrite to replace it, or --resume)", path=out
        )
    # everything that can fail on bad input fails before the output folder is touched
    from .collections import load_collection
    from .sampling import build_pairs, check_sampling, sampler_factory

    collection = load_collection(config.collections, lang=config.lang)
    data, pairs = build_pairs(
        collection,
        hard_negatives=config.hard_negatives,
        seed=config.seed,
        passage_context=config.passage_context,
    )
    check_sampling(pairs, config.strategy, config.alpha, config.lang_weighting, config.batch_size)
    eval_collection = load_collection(config.eval, lang=config.lang) if config.eval else None
    from .encoders import load_encoder

    start_model = str(resume_from) if resume_from else config.base
    encoder = load_encoder(
        start_model, use_cache=False, pooling=None if resume_from else config.pooling
    )
    model = encoder.model
    config = config.with_prompts_of(encoder)
    if config.max_seq_length:
        model.max_seq_length = config.max_seq_length
    if config.freeze_embeddings:
        freeze_input_embeddings(model)
    if main:
        try:
            if config.overwrite and out.exists() and not config.resume:
                shutil.rmtree(out)
            out.mkdir(parents=True, exist_ok=True)
            (out / CHECKPOINTS).mkdir(exist_ok=True)
        except OSError as e:
            raise XlirError(f"cannot write the output folder: {e.strerror}", path=out) from None
    batches_per_epoch = max(len(data) // config.batch_size, 1)
    total = config.steps or max(
        1, math.ceil((config.epochs or 1.0) * batches_per_epoch / _world_size())
    )
    done_steps = 0
    if resume_from is not None:
        done_steps = json.loads((resume_from / "trainer_state.json").read_text())["step"]
        if done_steps >= total:
            raise XlirError(f"the run already reached step {done_steps} of {total}", path=out)
    log = EventLog(out / EVENTS_FILE, on_event, enabled=main)
    settings = asdict(config)
    log.emit(
        "start",
        settings=settings,
        total_steps=total,
        resumed_from_step=done_steps,
        train_rows=len(data),
        languages=pairs.langs,
        world_size=_world_size(),
        version=__version__,
    )
    stop = threading.Event()
    previous = (
        _install_sigint(stop) if threading.current_thread() is threading.main_thread() else None
    )
    runner = _Runner(
        config, out, model, encoder, log, stop, total, done_steps, eval_collection, main
    )
    try:
        consumed = done_steps * _world_size()  # batches every rank together has used
        trainer = runner.build_trainer(
            data,
            sampler_factory(
                pairs,
                config.strategy,
                config.alpha,
                config.lang_weighting,
                skip=consumed % batches_per_epoch,
                epoch_offset=consumed // batches_per_epoch,
            ),
            resume_from,
        )
        trainer.train()
        runner.finish(trainer)
    except XlirError as e:
        log.emit("failed", reason=str(e), step=runner.step)
        raise
    except KeyboardInterrupt:
        # a second Ctrl-C: no checkpoint of this step, but followers learn that the run ended
        log.emit(
            "stopped",
            step=runner.step,
            total_steps=total,
            path=str(out),
            reason="interrupted twice: the last checkpoint is the one to resume from",
        )
        raise
    except Exception as e:
        reason = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
        log.emit("failed", reason=reason, step=runner.step)
        raise XlirError(f"training failed at step {runner.step}: {reason}") from e
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        log.close()
    return out


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


def _install_sigint(stop: threading.Event) -> Any:
    """First Ctrl-C: stop after the current step and save; a second one interrupts at once."""
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGINT, handler)
    return previous


class _Runner:
    """State shared by the trainer callback and the end of the run."""

    def __init__(
        self,
        config: TrainConfig,
        out: Path,
        model: Any,
        encoder: Any,
        log: EventLog,
        stop: threading.Event,
        total: int,
        done: int,
        eval_collection: Any,
        main: bool,
    ) -> None:
        self.config = config
        self.out = out
        self.model = model
        self.encoder = encoder
        self.log = log
        self.stop = stop
        self.total = total
        self.done = done
        self.eval_collection = eval_collection
        self.main = main
        self.step = done
        self.best: float | None = None
        self.bad_evals = 0
        self.early_stopped = False
        self.last_eval: dict[str, Any] | None = None
        self.last_step_time = time.perf_counter()
        self.rate = 0.0
        self.optimizer: Any = None

    def build_trainer(self, data: Any, sampler: Any, resume_from: Path | None) -> Any:
        import datasets
        from sentence_transformers import (
            SentenceTransformerTrainer,
            SentenceTransformerTrainingArguments,
        )
        from sentence_transformers.sentence_transformer.losses import (
            MultipleNegativesRankingLoss,
        )
        from transformers import TrainerCallback
        from transformers.trainer_callback import PrinterCallback, ProgressCallback

        dataset = datasets.Dataset.from_dict(data.to_dict(as_series=False))
        c = self.config
        prompts = {"query": c.query_prompt, "passage": c.passage_prompt}
        if "negative" in data.columns:
            prompts["negative"] = c.passage_prompt
        args = SentenceTransformerTrainingArguments(
            output_dir=str(self.out / CHECKPOINTS / ".trainer"),
            max_steps=self.total - self.done,
            per_device_train_batch_size=c.batch_size,
            learning_rate=c.lr,
            weight_decay=c.weight_decay,
            warmup_steps=max(0, c.warmup_steps - self.done),
            lr_scheduler_type="constant_with_warmup",
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            seed=c.seed,
            batch_sampler=sampler,
            dataloader_drop_last=True,
            disable_tqdm=True,
            prompts={k: v for k, v in prompts.items() if v},
            use_cpu=not _cuda(),
        )
        runner = self

        class Callback(TrainerCallback):
            def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                runner.optimizer = kw.get("optimizer")
                if resume_from is not None and runner.optimizer is not None:
                    load_optimizer(runner.optimizer, resume_from)
                runner.last_step_time = time.perf_counter()

            def on_log(
                self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any
            ) -> None:
                if logs and "loss" in logs:
                    runner.log.emit(
                        "step",
                        step=runner.step,
                        total_steps=runner.total,
                        loss=float(logs["loss"]),
                        lr=float(logs.get("learning_rate", c.lr)),
                        examples_per_s=round(runner.rate, 2),
                        epoch=state.epoch,
                    )

            def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                # the time since the last step ended, evaluations and checkpoints excluded
                elapsed = max(time.perf_counter() - runner.last_step_time, 1e-9)
                runner.rate = c.batch_size * _world_size() / elapsed
                runner.step = runner.done + state.global_step
                last = runner.step >= runner.total
                if runner.step % c.checkpoint_every == 0 and not last:
                    runner.checkpoint()
                every = c.eval_every or c.checkpoint_every
                if runner.eval_collection is not None and runner.step % every == 0 and not last:
                    runner.evaluate()
                    if runner.early_stopped:
                        control.should_training_stop = True
                if runner.stop.is_set():
                    control.should_training_stop = True
                runner.last_step_time = time.perf_counter()

        loss = MultipleNegativesRankingLoss(self.model, scale=c.scale)
        trainer = SentenceTransformerTrainer(
            model=self.model, args=args, train_dataset=dataset, loss=loss, callbacks=[Callback()]
        )
        batch_log = os.environ.get("XLIR_TUI_BATCH_LOG")
        if batch_log:  # an audit trail of the texts each rank trained on, batch by batch
            trainer.data_collator = _LoggingCollator(
                trainer.data_collator, Path(f"{batch_log}.rank{os.environ.get('RANK', '0')}.jsonl")
            )
        # progress and logs go through the event log, not the trainer's own printing
        trainer.remove_callback(PrinterCallback)
        trainer.remove_callback(ProgressCallback)
        return trainer

    def checkpoint(self, name: str | None = None) -> Path | None:
        if not self.main:
            return None
        folder = self.out / CHECKPOINTS / (name or f"step-{self.step}")
        with atomic_dir(folder, overwrite=True) as tmp:
            self._save_model(tmp)
            if self.optimizer is not None:
                save_optimizer(self.optimizer, tmp)
            (tmp / "trainer_state.json").write_text(
                json.dumps({"step": self.step, "total_steps": self.total, "best": self.best})
            )
        self.log.emit("checkpoint", step=self.step, path=str(folder))
        return folder

    def _save_model(self, folder: Path) -> None:
        """The model with its prompts, and the settings every command reads back from it."""
        c = self.config
        self.model.prompts = {"query": c.query_prompt, "document": c.passage_prompt}
        self.model.default_prompt_name = None
        self.model.save(str(folder))
        (folder / TRAIN_FILE).write_text(json.dumps({"settings": asdict(c)}, indent=2))

    def evaluate(self) -> dict[str, Any] | None:
        if not self.main or self.eval_collection is None:
            return None
        from dataclasses import replace

        from .report import evaluate_encoder

        enc = replace(
            self.encoder,
            model=self.model,
            use_cache=False,
            fingerprint=f"training-step-{self.step}",
            query_prompt=self.config.query_prompt,
            passage_prompt=self.config.passage_prompt,
            passage_context=self.config.passage_context,
        )
        enc._caches = {}
        entry = evaluate_encoder(self.eval_collection, enc).entry
        s = entry["summary"]
        metrics = {
            "mono": (s["mono"] or {}).get("map"),
            "cross": (s["cross"] or {}).get("map"),
            "multi": (s["multi"] or {}).get("map"),
            "rank_distance": (s["multi"] or {}).get("rank_distance"),
        }
        self.last_eval = metrics
        self.log.emit("eval", step=self.step, collection=self.eval_collection.name, metrics=metrics)
        score = metrics["multi"] if metrics["multi"] is not None else metrics["mono"]
        if self.config.early_stopping is not None and score is not None:
            if self.best is None or score > self.best:
                self.best = score
                self.bad_evals = 0
                self.checkpoint("best")
            else:
                self.bad_evals += 1
                if self.bad_evals >= self.config.early_stopping:
                    self.early_stopped = True
        self.model.train()
        return metrics

    def finish(self, trainer: Any) -> None:
        """Final checkpoint, final model, final evaluation and the closing event."""
        stopped = self.stop.is_set()
        if self.main:
            self.checkpoint()
            if not stopped and self.eval_collection is not None and not self.early_stopped:
                self.evaluate()
            best = self.out / CHECKPOINTS / "best"
            if self.early_stopped and best.exists():
                from sentence_transformers import SentenceTransformer

                self.model = SentenceTransformer(str(best), device=str(self.model.device))
            self._write_final()
        if stopped:
            self.log.emit(
                "stopped",
                step=self.step,
                total_steps=self.total,
                path=str(self.out),
                reason="interrupted",
            )
        else:
            self.log.emit(
                "done",
                step=self.step,
                total_steps=self.total,
                path=str(self.out),
                early_stopped=self.early_stopped,
                eval=self.last_eval,
            )

    def _write_final(self) -> None:
        """The model at the top of the output folder, moved in only once completely written."""
        tmp = self.out / ".final.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        self._save_model(tmp)
        (tmp / TRAIN_FILE).write_text(
            json.dumps(
                {
                    "settings": asdict(self.config),
                    "steps": self.step,
                    "total_steps": self.total,
                    "stopped": self.stop.is_set(),
                    "early_stopped": self.early_stopped,
                    "eval": self.last_eval,
                    "created_by": f"xlir-tui {__version__}",
                },
                indent=2,
            )
        )
        for entry in tmp.iterdir():
            target = self.out / entry.name
            if target.is_dir():
                shutil.rmtree(target)
            entry.rename(target)
        tmp.rmdir()


class _LoggingCollator:
    """Wraps the trainer's collator; appends each batch's texts to a JSON-lines file."""

    def __init__(self, inner: Any, path: Path) -> None:
        self.inner = inner
        self.path = path

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __call__(self, features: list[dict[str, Any]]) -> Any:
        with self.path.open("a", encoding="utf-8") as f:
            f.write(
                json.dumps(
                    {
                        "query": [x["query"] for x in features],
                        "passage": [x["passage"] for x in features],
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
        return self.inner(features)


def _cuda() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # pragma: no cover
        return False


class EventFollower:
    """Follows a growing ``events.jsonl``: each :meth:`poll` returns the new complete lines."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.offset = 0
        self.buffer = b""

    def poll(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as f:
            f.seek(self.offset)
            data = f.read()
        self.offset += len(data)
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        out = []
        for line in lines:
            with contextlib.suppress(json.JSONDecodeError, UnicodeDecodeError):
                out.append(json.loads(line))
        return out


def start_training_process(args: list[str], log: Path) -> Any:
    """Start ``xlir-tui train ARGS`` as a separate process; its stderr goes to ``log``."""
    import subprocess
    import sys

    log.parent.mkdir(parents=True, exist_ok=True)
    handle = log.open("w", encoding="utf-8")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "xlir_tui.cli", "train", *args],
            stdout=subprocess.DEVNULL,
            stderr=handle,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        handle.close()


def tail(path: Path, lines: int = 8) -> list[str]:
    """The last ``lines`` lines of a text file (a dead training process's last words)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [x for x in text.splitlines() if x.strip()][-lines:]
