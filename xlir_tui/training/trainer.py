"""Hybrid batch training with sentence-transformers: the run from a plan to its last event.

``train`` fine-tunes a base encoder on the (question, answer sentence) pairs of parallel QA
collections with ``MultipleNegativesRankingLoss`` (InfoNCE with in-batch negatives, optional hard
negatives) and a :class:`~xlir_tui.training.batch_sampler.LanguageBatchSampler`. What it needs
comes from modules of one idea each:

- :mod:`~xlir_tui.training.config`: every setting, declared once (:class:`TrainConfig`);
- :mod:`~xlir_tui.training.plan`: everything a person can get wrong, checked before torch is
  imported (:func:`~xlir_tui.training.plan.plan_run`);
- :mod:`~xlir_tui.training.forward`: how the model computes during training (mixed precision,
  length groups, frozen embeddings);
- :mod:`~xlir_tui.training.events`: ``events.jsonl``, which another program can follow;
- :mod:`~xlir_tui.training.saving` and :mod:`~xlir_tui.training.checkpoints`: the step
  checkpoints ``--resume`` reads and the final model;
- :mod:`~xlir_tui.training.evaluating`: the evaluations during the run, early stopping;
- :mod:`~xlir_tui.training.signals`: Ctrl-C, SIGTERM and SIGHUP stop a run as
  :class:`~xlir_tui.training.signals.StopSignals` describes.

Here: :func:`train` loads the model, makes the output folder and runs the trainer
(:func:`build_trainer`), whose callback reports every step to :class:`Run`.

The same call works under ``torchrun`` or ``accelerate launch`` (DDP): the trainer shards whole
batches across ranks, and only rank 0 writes files.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import XlirError
from ..models.run_files import EVENTS_FILE
from ..progress import Rate
from ..storage.files import Terminated, remove_own_output, write_marker
from .checkpoints import CHECKPOINTS, frozen_digests, load_optimizer, load_trainable
from .config import TrainConfig
from .evaluating import Evaluator
from .events import EventLog, EventSink
from .forward import check_precision, default_precision, freeze_input_embeddings, training_forward
from .plan import RunPlan, is_main, plan_run, world_size
from .saving import RunWriter
from .signals import StopSignals


def train(config: TrainConfig, on_event: EventSink | None = None) -> Path:
    """Run a training job to the end, or until a signal stops it; return the output folder.

    Everything a person can get wrong is checked first (:func:`plan_run`), before torch loads
    and before the output folder is made. Ctrl-C, SIGTERM and SIGHUP (:class:`StopSignals`)
    before the folder exists end the run at once with nothing written; later, the first one
    stops it after the current step with a checkpoint and a usable model (a ``stopped``
    event, and the CLI's exit status 128 + the signal). A run that fails or is interrupted
    twice before its first checkpoint removes the folder it made, so the same command works
    again; one with a checkpoint keeps it for ``--resume``.
    """
    out = Path(config.out)
    with StopSignals() as signals:
        try:
            plan = plan_run(config)
            from ..models.encoders import load_encoder

            old_checkpoint = plan.model_from != plan.config.base
            encoder = load_encoder(  # training runs in torch, whatever backend encodes elsewhere
                plan.model_from,
                use_cache=False,
                pooling=None if old_checkpoint else plan.config.pooling,
                backend="torch",
            )
        except (KeyboardInterrupt, Terminated):
            if on_event is not None:  # no folder, no event log: the person hears it all the same
                on_event(
                    {
                        "event": "stopped",
                        "time": round(time.time(), 3),
                        "step": 0,
                        "started": False,
                        "path": str(out),
                        "signal": signals.name,
                        "reason": "before training began: nothing was written",
                    }
                )
            raise
        return _run(plan, encoder, on_event, signals)


def _run(plan: RunPlan, encoder: Any, on_event: EventSink | None, signals: StopSignals) -> Path:
    """The training itself, from a loaded model: the folder, the trainer, the end."""
    config, frozen = _prepare_model(plan, encoder)
    out = Path(config.out)
    main = is_main()
    history = list(plan.history)
    if plan.changes:
        changes = {k: {"before": a, "after": b} for k, (a, b) in plan.changes.items()}
        history.append({"step": plan.done, "before": plan.recorded, "changes": changes})
    made = main and plan.resume_from is None  # this run makes the folder, removes it on failure
    if main:
        _make_folder(config, out, fresh=plan.resume_from is None)
    log = EventLog(out / EVENTS_FILE, on_event, enabled=main)
    writer = RunWriter(config, out, log, main=main, history=history, frozen=frozen)
    evaluator = (
        Evaluator(config, out, encoder, plan.eval_collection, log)
        if main and plan.eval_collection is not None
        else None
    )
    run = Run(config, encoder.model, log, signals, plan.total, plan.done, writer, evaluator)
    signals.gentle = True  # from here a first signal stops after the step, and saves
    try:
        _emit_start(log, plan, config, device=str(encoder.model.device))
        _train(run, plan)
    except XlirError as e:
        log.emit("failed", reason=str(e), step=run.step)
        _discard(out, made and not writer.count, log)
        raise
    except (KeyboardInterrupt, Terminated):
        # a second signal: no checkpoint of this step, but followers learn that the run ended
        discard = made and not writer.count
        log.emit(
            "stopped",
            step=run.step,
            total_steps=plan.total,
            path=str(out),
            signal=signals.name,
            reason="interrupted before the first checkpoint: nothing kept"
            if discard
            else "interrupted twice: the last checkpoint is the one to resume from",
        )
        _discard(out, discard, log)
        raise
    except Exception as e:
        reason = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
        log.emit("failed", reason=reason, step=run.step)
        _discard(out, made and not writer.count, log)
        raise XlirError(f"training failed at step {run.step}: {reason}") from e
    finally:
        log.close()
    return out


def _prepare_model(plan: RunPlan, encoder: Any) -> tuple[TrainConfig, dict[str, str]]:
    """The loaded model made ready to train as the settings say (its prompts, precision,
    length, frozen part; on resume, the checkpoint's weights); the settings with what the
    model and the machine filled in, and the digests of the frozen parameters."""
    model = encoder.model
    config = plan.config.with_prompts_of(encoder)
    device = str(model.device)
    if config.precision is None:
        config = config.replaced(precision=default_precision(device))
    check_precision(config.precision or "float32", device)
    if config.max_seq_length:
        model.max_seq_length = config.max_seq_length
    if config.freeze_embeddings:
        freeze_input_embeddings(model)
    frozen = frozen_digests(model)
    if plan.resume_from is not None and plan.model_from == config.base:
        load_trainable(model, plan.resume_from, frozen, config.base)
    training_forward(model, config.precision or "float32", config.length_group_size)
    return config, frozen


def _make_folder(config: TrainConfig, out: Path, fresh: bool) -> None:
    """The output folder with its marker and ``checkpoints/`` (rank 0 only); a folder
    ``--overwrite`` replaces is checked again now, and removed only if this tool wrote it."""
    try:
        if config.overwrite and fresh:
            remove_own_output(out)  # checked again now: only a folder this tool wrote
        out.mkdir(parents=True, exist_ok=True)
        if fresh:  # a resumed run keeps its marker (and a run from before markers stays
            write_marker(out, "train")  # without one: never replaced)
        (out / CHECKPOINTS).mkdir(exist_ok=True)
    except OSError as e:
        raise XlirError(f"cannot write the output folder: {e.strerror or e}", path=out) from None


def _emit_start(log: EventLog, plan: RunPlan, config: TrainConfig, device: str) -> None:
    """The ``start`` event: the settings as the run uses them, and what it trains on."""
    log.emit(
        "start",
        settings=asdict(config),
        total_steps=plan.total,
        resumed_from_step=plan.done,
        changes=plan.changes,
        train_rows=len(plan.data),
        languages=plan.pairs.langs,
        world_size=world_size(),
        device=device,
        **({"scale_from": plan.scale_from} if plan.scale_from else {}),
        version=__version__,
    )


def _train(run: Run, plan: RunPlan) -> None:
    """The trainer over the plan's rows, with batches that go on where a resumed run stopped,
    run to its end; then the run's end (:meth:`Run.finish`)."""
    from .batch_sampler import sampler_factory

    c = run.config
    consumed = plan.done * world_size()  # batches every rank together has used
    sampler = sampler_factory(
        plan.pairs,
        c.strategy,
        c.alpha,
        c.lang_weighting,
        skip=consumed % plan.batches_per_epoch,
        epoch_offset=consumed // plan.batches_per_epoch,
    )
    trainer = build_trainer(run, plan.data, sampler, plan.resume_from)
    trainer.train()
    run.finish()


def _discard(out: Path, really: bool, log: EventLog) -> None:
    """Remove an output folder that holds no checkpoint yet: nothing in it is of use, and it
    would make the next try fail with 'output folder exists'."""
    if really:
        log.close()
        shutil.rmtree(out, ignore_errors=True)


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)


class Run:
    """A run in progress: its step, its speed, whether it is asked to stop. The trainer's
    callback (:func:`build_trainer`) reports each step here; the checkpoints and models go
    through its :class:`~xlir_tui.training.saving.RunWriter`, the evaluations through its
    :class:`~xlir_tui.training.evaluating.Evaluator` (None without ``--eval``, and on every
    rank but 0)."""

    def __init__(
        self,
        config: TrainConfig,
        model: Any,
        log: EventLog,
        signals: StopSignals,
        total: int,
        done: int,
        writer: RunWriter,
        evaluator: Evaluator | None,
    ) -> None:
        self.config = config
        self.model = model
        self.log = log
        self.signals = signals
        self.total = total
        self.done = done
        self.writer = writer
        self.evaluator = evaluator
        self.step = done
        self.stopped = False  # stopped before its last step (finish() decides)
        self.last_step_time = time.perf_counter()
        self.rate = 0.0
        self.step_rate = Rate()
        """Steps per second over wall time (checkpoints and evaluations in): the ETA's rate."""

    @property
    def early_stopped(self) -> bool:
        return self.evaluator is not None and self.evaluator.early_stopped

    def begin(self, optimizer: Any, resume_from: Path | None) -> None:
        """The trainer starts: its optimizer, with a resumed run's state put back."""
        self.writer.optimizer = optimizer
        if resume_from is not None and optimizer is not None:
            load_optimizer(optimizer, resume_from)
        self.last_step_time = time.perf_counter()
        self.step_rate.update(self.step, time.monotonic())

    def logged(self, logs: dict[str, Any], epoch: float | None) -> None:
        """The trainer logged a step's loss: the ``step`` event."""
        self.log.emit(
            "step",
            step=self.step,
            total_steps=self.total,
            loss=float(logs["loss"]),
            lr=float(logs.get("learning_rate", self.config.lr)),
            examples_per_s=round(self.rate, 2),
            eta_s=_rounded(self.step_rate.eta(self.total)),
            epoch=epoch,
        )

    def step_ended(self, global_step: int) -> bool:
        """One more step done: its speed, then any checkpoint and evaluation due (none at the
        last step: :meth:`finish` writes those); True when the run should stop."""
        c = self.config
        # the time since the last step ended, evaluations and checkpoints excluded
        elapsed = max(time.perf_counter() - self.last_step_time, 1e-9)
        self.rate = c.batch_size * world_size() / elapsed
        self.step = self.done + global_step
        self.step_rate.update(self.step, time.monotonic())
        last = self.step >= self.total
        if self.step % c.checkpoint_every == 0 and not last:
            self.checkpoint()
        every = c.eval_every or c.checkpoint_every
        if self.evaluator is not None and self.step % every == 0 and not last:
            self.evaluate()
        stop = self.early_stopped or self.signals.stop.is_set()
        self.last_step_time = time.perf_counter()
        return stop

    def checkpoint(self, name: str | None = None) -> Path | None:
        best = self.evaluator.best if self.evaluator is not None else None
        return self.writer.checkpoint(self.model, self.step, self.total, best, name)

    def evaluate(self) -> None:
        """Score the model now; early stopping keeps it (``best``) when it is the best yet."""
        if self.evaluator is None:
            return
        if self.evaluator.evaluate(self.model, self.step):
            self.checkpoint("best")
        self.model.train()

    def finish(self) -> None:
        """Final checkpoint, final model, final evaluation and the closing event.

        A stop asked for once the last step is done leaves a whole run (``done``, not
        ``stopped``: its model is the one its settings describe), only without the final
        evaluation it would have waited for."""
        interrupted = self.signals.stop.is_set()
        self.stopped = interrupted and self.step < self.total
        if self.writer.main:
            self.checkpoint()
            if not interrupted and not self.early_stopped:
                self.evaluate()
            out = self.writer.out
            best = out / CHECKPOINTS / "best"
            if self.early_stopped and best.exists():
                from sentence_transformers import SentenceTransformer

                self.model = SentenceTransformer(str(best), device=str(self.model.device))
            self.writer.write_final(self.model, self._outcome())
            with contextlib.suppress(OSError):  # the trainer's own output folder, left empty
                (out / CHECKPOINTS / ".trainer").rmdir()
        ending = {"step": self.step, "total_steps": self.total, "path": str(self.writer.out)}
        if self.stopped:
            self.log.emit("stopped", **ending, signal=self.signals.name, reason="interrupted")
        else:
            last_eval = self.evaluator.last if self.evaluator is not None else None
            self.log.emit("done", **ending, early_stopped=self.early_stopped, eval=last_eval)

    def _outcome(self) -> dict[str, Any]:
        """What the final ``xlir_train.json`` says of the run besides its settings."""
        return {
            "steps": self.step,
            "total_steps": self.total,
            "stopped": self.stopped,
            "early_stopped": self.early_stopped,
            "eval": self.evaluator.last if self.evaluator is not None else None,
        }


def contrastive_loss(model: Any, config: TrainConfig) -> Any:
    """InfoNCE over the batch (each question against its passage, every other passage of the
    batch and the hard negatives): sentence-transformers' MultipleNegativesRankingLoss, or,
    with ``mini_batch_size`` below the batch size, its GradCache form, which embeds the batch
    in mini-batches without gradients, takes the loss's gradient with respect to the
    embeddings, then runs each mini-batch again with gradients: the same gradient as the
    whole batch at once (up to rounding) in the memory of a mini-batch."""
    from sentence_transformers.sentence_transformer.losses import (
        CachedMultipleNegativesRankingLoss,
        MultipleNegativesRankingLoss,
    )

    mini = config.mini_batch_size
    if mini is not None and mini < config.batch_size:
        return CachedMultipleNegativesRankingLoss(
            model, scale=config.scale, mini_batch_size=mini, show_progress_bar=False
        )
    return MultipleNegativesRankingLoss(model, scale=config.scale)


def build_trainer(run: Run, data: Any, sampler: Any, resume_from: Path | None) -> Any:
    """A sentence-transformers trainer over ``data`` with ``sampler``'s batches, whose
    callback reports to ``run``; its own printing and progress bars removed (progress and
    logs go through the event log)."""
    import datasets
    from sentence_transformers import SentenceTransformerTrainer
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    dataset = datasets.Dataset.from_dict(data.to_dict(as_series=False))
    args = _training_args(run, "negative" in data.columns, sampler)
    loss = contrastive_loss(run.model, run.config)
    # The model card's example texts, from our own first pairs: left empty, the trainer picks
    # them itself behind a progress bar of its own that nothing can switch off.
    first = data.head(3)
    run.model.model_card_data.widget = [
        {"source_sentence": q, "sentences": list(first["passage"])}
        for q in list(first["query"])[:1]
    ]
    trainer = SentenceTransformerTrainer(
        model=run.model,
        args=args,
        train_dataset=dataset,
        loss=loss,
        callbacks=[_callback(run, resume_from)],
    )
    batch_log = os.environ.get("XLIR_TUI_BATCH_LOG")
    if batch_log:  # an audit trail of the texts each rank trained on, batch by batch
        trainer.data_collator = _LoggingCollator(
            trainer.data_collator, Path(f"{batch_log}.rank{os.environ.get('RANK', '0')}.jsonl")
        )
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    logging.getLogger("transformers.trainer_utils").addFilter(_no_token_alignment_notice)
    return trainer


def _no_token_alignment_notice(record: logging.LogRecord) -> bool:
    """transformers' notice that it copied the tokenizer's special-token ids into the model's
    config when training starts: the ids are the tokenizer's either way, nothing in the run
    changes, and on the default encoder it is printed on every run, into a line a person reads
    for the run's own progress. Every other message of transformers still shows."""
    return "new PAD/BOS/EOS tokens" not in record.getMessage()


def _training_args(run: Run, negatives: bool, sampler: Any) -> Any:
    """The trainer's arguments: the steps left, AdamW's settings, the prompts of each column,
    the batch sampler; no saving and no reporting of its own."""
    from sentence_transformers import SentenceTransformerTrainingArguments

    c = run.config
    prompts = {"query": c.query_prompt, "passage": c.passage_prompt}
    if negatives:
        prompts["negative"] = c.passage_prompt
    return SentenceTransformerTrainingArguments(
        output_dir=str(run.writer.out / CHECKPOINTS / ".trainer"),
        max_steps=run.total - run.done,
        per_device_train_batch_size=c.batch_size,
        learning_rate=c.lr,
        weight_decay=c.weight_decay,
        warmup_steps=max(0, c.warmup_steps - run.done),
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


def _callback(run: Run, resume_from: Path | None) -> Any:
    """The trainer's callback: every event it sees handed to ``run``."""
    from transformers import TrainerCallback

    class Callback(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            run.begin(kw.get("optimizer"), resume_from)

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if logs and "loss" in logs:
                run.logged(logs, state.epoch)

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if run.step_ended(state.global_step):
                control.should_training_stop = True

    return Callback()


class _LoggingCollator:
    """Wraps the trainer's collator; appends each batch's texts to a JSON-lines file."""

    def __init__(self, inner: Any, path: Path) -> None:
        self.inner = inner
        self.path = path

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __call__(self, features: list[dict[str, Any]]) -> Any:
        texts = {
            "query": [x["query"] for x in features],
            "passage": [x["passage"] for x in features],
        }
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(texts, ensure_ascii=False) + "\n")
        return self.inner(features)


def _cuda() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # pragma: no cover
        return False
