"""Hybrid batch training with sentence-transformers: settings, events, checkpoints, resume.

``train`` fine-tunes a base encoder on the (question, answer sentence) pairs of parallel QA
collections with ``MultipleNegativesRankingLoss`` (InfoNCE with in-batch negatives, optional hard
negatives) and a :class:`~xlir_tui.training.batch_sampler.LanguageBatchSampler`. The output folder
is a sentence-transformers model (safetensors) with its query and passage prompts, plus:

- ``events.jsonl``: one JSON object per line, flushed as written, so another program (the
  explorer) can follow a run: ``start`` (settings), ``step`` (loss, lr, examples/s), ``eval``
  (bias-report figures on a held-out collection), ``checkpoint``, and last ``done``, ``stopped``
  (with the signal that stopped it) or ``failed`` (with the reason);
- ``checkpoints/step-N/``: what ``--resume`` needs and no more (safetensors + JSON, never
  pickle): the trained parameters in float32 (``trainable.safetensors``; frozen word embeddings
  are not copied: a resumed run reads them from the base model and checks their digest) and
  AdamW's state of those parameters; ``--resume`` continues with the same batches it would have
  seen; only the latest ``keep_checkpoints`` stay (and ``best``, early stopping's model);
- ``xlir_train.json``: the settings, any settings changed on resume (``history``, with the step)
  and the final figures. The model at the top carries no optimizer state; its weights are stored
  in ``--save-dtype`` (float16 by default) and load as float32.

``--precision bfloat16`` trains in mixed precision (:func:`training_forward`): the weights and
the optimizer stay float32 and only the transformer's matrix products run in bfloat16.

Settings are declared once, in :class:`TrainConfig`: the ``train`` command's options, the TOML
keys of ``--config`` and the explorer's training form all come from its fields.

A run checks everything it can before torch is imported (:func:`plan_run`: settings, output
folder, base model folder, data, free space), then loads; Ctrl-C, SIGTERM and SIGHUP stop it as
:class:`StopSignals` describes.

The same call works under ``torchrun`` or ``accelerate launch`` (DDP): the trainer shards whole
batches across ranks, and only rank 0 writes files.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import shutil
import signal
import threading
import time
import tomllib
import typing
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import XlirError
from ..progress import Rate, format_duration
from ..storage.files import (
    Terminated,
    apply_umask,
    atomic_dir,
    check_apart,
    check_replaceable,
    check_writable,
    human_bytes,
    remove_own_output,
    write_marker,
)

EventSink = Callable[[dict[str, Any]], None]
DEFAULT_QUERY_PROMPT = "Query: "
DEFAULT_PASSAGE_PROMPT = "Passage: "
TRAIN_FILE = "xlir_train.json"
EVENTS_FILE = "events.jsonl"
CHECKPOINTS = "checkpoints"
TRAINABLE_FILE = "trainable.safetensors"
"""A step checkpoint's float32 weights: the trained parameters only (the frozen ones are the
base model's, checked by digest on resume)."""
STRATEGIES = ("mono", "cross", "hybrid")
"""How batches are drawn (:mod:`xlir_tui.training.sampler` draws them); here, with the other
settings, so that checking ``--strategy`` imports nothing."""
LANG_WEIGHTINGS = ("uniform", "size")
PRECISIONS = ("float32", "bfloat16")
"""The arithmetic of training's forward and backward passes (``--precision``). No float16:
its narrow range needs a gradient scaler, which bfloat16 (float32's range) does not."""
SAVE_DTYPES = ("float32", "float16", "bfloat16")
"""How a trained model's weights are stored (``--save-dtype``); they load as float32."""
DEFAULT_SAVE_DTYPE = "float16"
DEFAULT_LENGTH_GROUP_SIZE = 8
DEFAULT_SCALE = 20.0
"""The InfoNCE scale of a model with no recorded one: sentence-transformers' default."""
LEGACY = {"precision": "float32", "save_dtype": "float32"}
"""What a run recorded before these settings existed was trained and saved with."""


def _meta(help: str, **more: Any) -> dict[str, Any]:
    """A :class:`TrainConfig` field's metadata: its help and how the command line spells it."""
    return {"help": help, **more}


@dataclass
class TrainConfig:
    """Every training setting, declared once: the field name is the TOML key and, with dashes,
    the command-line flag; the metadata holds what ``xlir-tui train --help`` shows.

    Metadata keys: ``help``; ``flags`` (spellings other than ``--name``; a bool is
    ``--name/--no-name`` unless ``switch``); ``shown`` (the default as help tells it, where the
    value alone does not say it); ``argument`` (positional, shown as ``metavar``); ``path``
    (the text names a file or folder: ``<path>`` in help); ``required`` (a run needs it, from
    the command line or ``--config``; with ``--resume`` the run's own collections serve);
    ``from_model`` (None means the model's own, so it is no change on resume); ``from_machine``
    (None means what the machine computes best, chosen when the run starts and recorded, so it
    is no change on resume either); ``choices`` (the values allowed); ``brief`` (the default
    in a few words, for the explorer's form); ``per_run``
    (about this invocation, not about the training: never compared on resume, never taken
    over from the recorded run); ``no_state`` (changing it on resume changes nothing the model
    learns, so it is no change either); ``fixed`` (a resumed run goes on from its checkpoint's
    model and optimizer state, which a new value would not reach (``base``, ``pooling``) or
    not fit (``freeze_embeddings``): refused on resume, even with ``--resume-with-changes``,
    rather than recorded as if it had happened).
    """

    collections: list[str] = field(
        default_factory=list,
        metadata=_meta(
            "Training collections (parallel QA, any loader format); with --resume, the run's own.",
            argument=True,
            metavar="COLLECTION",
            path=True,
            required=True,
        ),
    )
    out: str = field(
        default="",
        metadata=_meta(
            "Output folder (the trained model).",
            flags=("--out", "-o"),
            per_run=True,
            path=True,
            required=True,
        ),
    )
    base: str = field(
        default="default",
        metadata=_meta(
            "Model to start from: default (multilingual-e5-small), all-minilm-l6-v2, a folder "
            "or a hub name.",
            fixed=True,
        ),
    )
    strategy: str = field(
        default="hybrid", metadata=_meta("Batches: mono, cross or hybrid.", choices=STRATEGIES)
    )
    alpha: float = field(default=0.5, metadata=_meta("hybrid: probability that a batch is mono."))
    lang_weighting: str = field(
        default="uniform",
        metadata=_meta(
            "mono batches: draw the language uniformly or by data size (uniform, size).",
            choices=LANG_WEIGHTINGS,
        ),
    )
    batch_size: int = field(default=32, metadata=_meta("Pairs per batch (per device)."))
    steps: int | None = field(
        default=None, metadata=_meta("Training steps (instead of --epochs).", shown="1 epoch")
    )
    epochs: float | None = field(
        default=None, metadata=_meta("Passes over the pairs (instead of --steps).", shown="1")
    )
    lr: float = field(default=3e-5, metadata=_meta("AdamW learning rate."))
    weight_decay: float = field(default=0.01, metadata=_meta("AdamW weight decay."))
    warmup_steps: int = field(default=0, metadata=_meta("Linear warm-up steps."))
    scale: float | None = field(
        default=None,
        metadata=_meta(
            "InfoNCE scale (1 / temperature).",
            from_model=True,
            shown="the base model's: 100 for multilingual-e5-small, pre-trained at temperature "
            "0.01; a model trained here keeps its own; others 20, sentence-transformers' default",
            brief="the base model's",
        ),
    )
    hard_negatives: bool = field(
        default=False,
        metadata=_meta("Add another sentence of the answer's paragraph as a hard negative."),
    )
    passage_context: bool = field(
        default=False,
        metadata=_meta(
            "Read each passage as its sentence followed by its paragraph (stored with the model; "
            "index, search and bias-report then do the same)."
        ),
    )
    max_seq_length: int | None = field(
        default=128, metadata=_meta("Truncate inputs to this many tokens.")
    )
    query_prompt: str | None = field(
        default=None,
        metadata=_meta(
            "Prefix of queries, stored with the model.",
            from_model=True,
            shown="the base model's own, else 'Query: '",
        ),
    )
    passage_prompt: str | None = field(
        default=None,
        metadata=_meta(
            "Prefix of passages, stored with the model.",
            from_model=True,
            shown="the base model's own, else 'Passage: '",
        ),
    )
    freeze_embeddings: bool = field(
        default=False,
        metadata=_meta(
            "Keep the word-embedding matrix as it is (in multilingual-e5-small 96M of 118M "
            "parameters): faster steps, far less optimizer state.",
            fixed=True,
        ),
    )
    pooling: str | None = field(
        default=None,
        metadata=_meta(
            "A plain transformers model (e.g. a BloomZ-style causal LM) as an encoder: mean or "
            "lasttoken.",
            from_model=True,
            shown="lasttoken for causal models, else mean",
            fixed=True,
        ),
    )
    precision: str | None = field(
        default=None,
        metadata=_meta(
            "Arithmetic of the training steps: float32, or bfloat16 mixed precision (the "
            "transformer's matrix products in bfloat16; weights, optimizer state, loss and "
            "evaluations stay float32).",
            from_machine=True,
            choices=PRECISIONS,
            shown="bfloat16 where the processor computes it natively: AVX512-BF16, AMX or a "
            "CUDA GPU with bfloat16; else float32",
            brief="bf16 if native",
        ),
    )
    length_group_size: int = field(
        default=DEFAULT_LENGTH_GROUP_SIZE,
        metadata=_meta(
            "Texts per forward pass, grouped by length within each batch, so that little of "
            "what the transformer computes is padding; the batch, its negatives and its loss "
            "stay the same. 0: each column of a batch at once.",
            no_state=True,
        ),
    )
    save_dtype: str = field(
        default=DEFAULT_SAVE_DTYPE,
        metadata=_meta(
            "How the trained model's weights are stored: float16, bfloat16 or float32; they "
            "load as float32 whatever is stored, and checkpoints keep float32 for --resume.",
            choices=SAVE_DTYPES,
            no_state=True,
        ),
    )
    seed: int = field(default=0, metadata=_meta("Seed of the batches and the model."))
    file_lang: str | None = field(
        default=None,
        metadata=_meta(
            "Language of collection files whose name carries none (de.json and xquad.de.json do).",
            shown="from the file name",
        ),
    )
    eval: list[str] = field(
        default_factory=list,
        metadata=_meta(
            "A held-out collection scored at checkpoints and at the end (repeat the flag for "
            "several files).",
            shown="none",
            path=True,
        ),
    )
    eval_every: int | None = field(
        default=None, metadata=_meta("Steps between evaluations.", shown="--checkpoint-every")
    )
    backend: str = field(
        default="torch",
        metadata=_meta(
            "What encodes the --eval collection (training itself runs in torch): torch, "
            "openvino, onnx-int8 or openvino-int8; a fast backend exports the model at each "
            "evaluation (seconds) and encodes several times faster.",
            no_state=True,
        ),
    )
    early_stopping: int | None = field(
        default=None,
        metadata=_meta(
            "Stop after this many evaluations without a better multi mAP; keep the best model.",
            shown="off",
        ),
    )
    checkpoint_every: int = field(
        default=100, metadata=_meta("Steps between checkpoints.", no_state=True)
    )
    keep_checkpoints: int = field(
        default=1,
        metadata=_meta(
            "How many of the latest checkpoints (model and optimizer state) to keep; early "
            "stopping's best model is kept as well.",
            no_state=True,
        ),
    )
    overwrite: bool = field(
        default=False,
        metadata=_meta("Replace an existing output folder.", switch=True, per_run=True),
    )
    resume: bool = field(
        default=False,
        metadata=_meta(
            "Continue from the last checkpoint in --out; settings not given are the run's own.",
            switch=True,
            per_run=True,
        ),
    )
    resume_with_changes: bool = field(
        default=False,
        metadata=_meta(
            "With --resume: continue with settings that differ from the run's (xlir_train.json "
            "records both, with the step).",
            switch=True,
            per_run=True,
        ),
    )

    @classmethod
    def from_toml(cls, path: Path) -> dict[str, Any]:
        """Read settings from a TOML file (top level or a ``[train]`` table), each of its type."""
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise XlirError("no such config file", path=path) from None
        except IsADirectoryError:
            raise XlirError("a folder, not a config file (TOML)", path=path) from None
        except UnicodeDecodeError:
            raise XlirError("cannot read the config file: not UTF-8 text", path=path) from None
        except OSError as e:
            reason = e.strerror or type(e).__name__
            raise XlirError(f"cannot read the config file: {reason}", path=path) from None
        except tomllib.TOMLDecodeError as e:
            raise XlirError(f"malformed TOML: {e}", path=path) from None
        data = data.get("train", data)
        if not isinstance(data, dict):
            raise XlirError("[train] must be a table of settings", path=path)
        return checked_settings(data, where=path)

    @classmethod
    def merged(
        cls,
        file_values: dict[str, Any],
        cli_values: dict[str, Any],
        file: str | Path | None = None,
    ) -> TrainConfig:
        """Defaults, then (with ``resume``) the settings the run was trained with, then the config
        file ``file``, then the command line (which wins). Every value is checked for its type,
        and each remembers where it came from, so that a value out of range is named as it was
        given: ``--alpha`` on the command line, ``config.toml: alpha`` in a file."""
        given = {k: v for k, v in checked_settings(cli_values).items() if v is not None}
        from_file = checked_settings(file_values)
        values = {**from_file, **given}
        sources = {k: Path(file) for k in from_file if k not in given and file is not None}
        if values.get("resume") and values.get("out"):
            recorded, _, where = recorded_settings(resume_point(Path(values["out"])))
            per_run = {f.name for f in fields(cls) if f.metadata.get("per_run")}
            taken = {
                k: v
                for k, v in checked_settings(recorded, where).items()
                if k not in per_run and k not in values
            }
            sources.update(dict.fromkeys(taken, where))
            values = {**taken, **values}
        config = cls(**values)
        config._sources = sources
        return config

    _sources: typing.ClassVar[dict[str, Path]] = {}
    """Where each setting not given on the command line came from (a config file, a run's
    ``xlir_train.json``); set per instance by :meth:`merged`."""

    def flag(self, name: str) -> str:
        """A setting as the person gave it: ``--batch-size``, or ``batch_size`` with its file
        when a file gave it (``config.toml: batch_size``), for messages about its value."""
        where = self._sources.get(name)
        if where is None:
            return "--" + name.replace("_", "-")
        return f"{where}: {name}"

    def error(self, name: str, problem: str) -> XlirError:
        """The one-line error about one setting's value, named as the person gave it."""
        return XlirError(f"{self.flag(name)} {problem}")

    def _combination_error(self, text: str, *names: str) -> XlirError:
        """The one-line error about settings that do not go together: each ``{}`` in ``text``
        becomes a setting's name as given (all from one file: the file, then the keys)."""
        files = {self._sources.get(n) for n in names}
        if len(files) == 1 and None not in files:
            return XlirError(text.format(*names), path=files.pop())
        shown = [
            f"--{n.replace('_', '-')}" if n not in self._sources else f"{n} in {self._sources[n]}"
            for n in names
        ]
        return XlirError(text.format(*shown))

    def toml(self) -> str:
        """These settings as a TOML file ``--config`` reads (None, the default, left out)."""
        import tomli_w

        return tomli_w.dumps({k: v for k, v in asdict(self).items() if v is not None})

    def with_prompts_of(self, encoder: Any) -> TrainConfig:
        """The prompts left unset become the base model's own (``query: `` / ``passage: `` for
        multilingual-e5), or the paper's ``Query: `` / ``Passage: `` for a model without any:
        a model fine-tuned on other prefixes first has to unlearn the ones it was trained with.
        """
        from dataclasses import replace

        config = replace(
            self,
            query_prompt=self.query_prompt
            if self.query_prompt is not None
            else (encoder.query_prompt or DEFAULT_QUERY_PROMPT),
            passage_prompt=self.passage_prompt
            if self.passage_prompt is not None
            else (encoder.passage_prompt or DEFAULT_PASSAGE_PROMPT),
        )
        config._sources = self._sources
        return config

    def validate(self) -> None:
        """The ranges and combinations a run needs; nothing here reads a file or a model, and
        nothing here imports more than numpy and polars (a typo costs a second, not torch's
        import). A value from a config file is named with the file and its key."""
        from ..models.backends import BACKENDS, check_backend

        if not self.collections:
            raise XlirError("no training collection given")
        if not self.out:
            raise XlirError("no output folder given (--out)")
        if self.pooling is not None:
            from ..models.encoders import POOLINGS

            if self.pooling not in POOLINGS:
                raise self.error(
                    "pooling", f"must be {' or '.join(POOLINGS)}, got {self.pooling!r}"
                )
        if self.backend not in BACKENDS and "backend" in self._sources:
            raise self.error(
                "backend", f"must be one of {', '.join(BACKENDS)}, got {self.backend!r}"
            )
        check_backend(self.backend)  # unknown, or its runtime not installed: one line, at once
        for f in fields(self):
            choices, value = f.metadata.get("choices"), getattr(self, f.name)
            if choices and value is not None and value not in choices:
                raise self.error(f.name, f"must be one of {', '.join(choices)}, got {value!r}")
        if not 0.0 <= self.alpha <= 1.0:
            raise self.error("alpha", f"must be between 0 and 1, got {self.alpha}")
        if self.steps is not None and self.epochs is not None:
            raise self._combination_error("give {} or {}, not both", "steps", "epochs")
        for name in ("batch_size", "checkpoint_every", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise self.error(name, f"must be at least 1, got {getattr(self, name)}")
        if self.steps is not None and self.steps < 1:
            raise self.error("steps", f"must be at least 1, got {self.steps}")
        if self.epochs is not None and self.epochs <= 0:
            raise self.error("epochs", f"must be positive, got {self.epochs}")
        if self.lr <= 0:
            raise self.error("lr", f"must be positive, got {self.lr}")
        for name in ("warmup_steps", "weight_decay", "length_group_size"):
            if getattr(self, name) < 0:
                raise self.error(name, f"must be 0 or more, got {getattr(self, name)}")
        if self.scale is not None and self.scale <= 0:
            raise self.error("scale", f"must be positive, got {self.scale}")
        for name in ("eval_every", "early_stopping"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise self.error(name, f"must be at least 1, got {getattr(self, name)}")
        if self.early_stopping is not None and not self.eval:
            raise self._combination_error("{} needs {}", "early_stopping", "eval")
        if self.resume_with_changes and not self.resume:
            raise self._combination_error("{} goes with {}", "resume_with_changes", "resume")
        if self.resume and self.overwrite:
            raise self._combination_error("give {} or {}, not both", "resume", "overwrite")

    def changes_from(self, recorded: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
        """The settings that differ from a run's recorded ones, as ``{name: (old, new)}``.

        Settings about this invocation (``per_run``) or about what is kept on disk
        (``no_state``) are no change; neither is a prompt or a pooling left unset, which a
        resumed run takes from its checkpoint.
        """
        changes = {}
        for f in fields(self):
            if f.metadata.get("per_run") or f.metadata.get("no_state"):
                continue
            new = getattr(self, f.name)
            if new is None and (f.metadata.get("from_model") or f.metadata.get("from_machine")):
                continue
            default = f.default_factory() if f.default is MISSING else f.default  # type: ignore[misc]
            old = recorded.get(f.name, LEGACY.get(f.name, default))
            if old != new:
                changes[f.name] = (old, new)
        return changes


_FIELDS = {f.name: f for f in fields(TrainConfig)}

RENAMED = {"lang": "file_lang"}
"""Old setting names still read (TOML keys, hidden flags), for one release."""


@functools.cache
def _types() -> dict[str, tuple[Any, bool]]:
    """Each setting's type without ``None``, and whether ``None`` is allowed."""
    out = {}
    hints = typing.get_type_hints(TrainConfig)
    for name in _FIELDS:  # the settings, not the class's own attributes
        hint = hints[name]
        args = typing.get_args(hint)
        if type(None) in args:
            out[name] = (next(a for a in args if a is not type(None)), True)
        else:
            out[name] = (hint, False)
    return out


def setting_type(name: str) -> tuple[Any, bool]:
    """A setting's type (``int``, ``float``, ``bool``, ``str`` or ``list[str]``) and whether
    it may be left unset (``None``): what the command line and the explorer's form build on."""
    return _types()[name]


def shown_default(name: str) -> str:
    """A setting's default as ``--help`` and the explorer's form tell it (``off``, ``3e-05``)."""
    f = next(f for f in fields(TrainConfig) if f.name == name)
    if "shown" in f.metadata:
        return f.metadata["shown"]
    default = f.default_factory() if f.default is MISSING else f.default  # type: ignore[misc]
    if isinstance(default, bool):
        return "on" if default else "off"
    if isinstance(default, float):
        return f"{default:g}"
    if isinstance(default, list):
        return ", ".join(default) or "none"
    return str(default)


_TYPE_WORDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def _shown(value: Any) -> str:
    """A value as the person wrote it in TOML (``true``, ``'half'``, ``3.5``); ``unset``."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def checked_settings(values: dict[str, Any], where: str | Path | None = None) -> dict[str, Any]:
    """Settings with old names renamed, unknown names refused and every value of its type.

    ``tomllib`` gives TOML's own types; this says which ones each setting takes, in one line
    that names the key, the type and the value (a bool is not an integer; an integer is a
    number; one string is a list of one).
    """
    values = dict(values)
    for old, new in RENAMED.items():
        if old in values:
            value = values.pop(old)
            if value is not None and values.get(new) is None:
                values[new] = value
            elif value is not None and values[new] != value:
                raise XlirError(f"give {new}, not both {new} and {old}", path=where)
    types = _types()
    unknown = sorted(set(values) - set(types))
    if unknown:
        raise XlirError(
            f"unknown setting {', '.join(map(repr, unknown))} (known: {', '.join(types)})",
            path=where,
        )
    out = {}
    for name, value in values.items():
        kind, optional = types[name]
        if value is None:
            if not optional and where is not None:
                raise XlirError(f"{name} must be set", path=where)
            out[name] = value
            continue
        if kind is bool:
            ok = isinstance(value, bool)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            value = float(value) if ok else value
        elif kind is str:
            ok = isinstance(value, str)
        else:  # list[str]: paths of collections
            if isinstance(value, str | Path):
                value = [value]
            ok = isinstance(value, list | tuple) and all(isinstance(x, str | Path) for x in value)
            value = [str(x) for x in value] if ok else value
        if not ok:
            words = _TYPE_WORDS.get(kind, "a list of strings")
            raise XlirError(f"{name} must be {words}, got {_shown(value)}", path=where)
        out[name] = value
    return out


def settings_from_text(texts: dict[str, str | bool]) -> dict[str, Any]:
    """Settings typed into a form: each text read as its setting's type where it parses (an
    empty one left out), and left as text where it does not, so that :func:`checked_settings`
    names it (``alpha must be a number, got 'half'``)."""
    out: dict[str, Any] = {}
    for name, text in texts.items():
        kind, _ = setting_type(name)
        if isinstance(text, bool) or kind is str:
            out[name] = text
            continue
        text = text.strip()
        if not text:
            continue
        if kind is int:
            with contextlib.suppress(ValueError):
                text = int(text)
        elif kind is float:
            with contextlib.suppress(ValueError):
                text = float(text)
        out[name] = text
    return out


def resume_point(out: Path) -> Path:
    """The checkpoint ``--resume`` continues from, or the one-line reason there is none."""
    found = latest_checkpoint(out)
    if found is None:
        raise XlirError("nothing to resume: no checkpoint in this folder", path=out)
    return found


def recorded_settings(checkpoint: Path) -> tuple[dict[str, Any], list[dict[str, Any]], Path]:
    """The settings a checkpoint was trained with, its history of changes, and its file."""
    path = checkpoint / TRAIN_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise XlirError(f"cannot read the run's settings: {e}", path=path) from None
    settings = dict(data.get("settings") or {})
    for old, new in RENAMED.items():
        if old in settings:
            settings.setdefault(new, settings.pop(old))
    known = set(_types())
    settings = {**LEGACY, **{k: v for k, v in settings.items() if k in known}}
    return settings, list(data.get("history", [])), path


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
        if _is_main():
            check_writable(out / CHECKPOINTS / "next")
        return found
    if _is_main():  # rank 0 alone: under DDP the other ranks would see the folder rank 0 made
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


def count(n: int | float, word: str, plural: str | None = None) -> str:
    """``1 step``, ``2 steps``: the only English plural rule these messages need."""
    return f"{n} {word if n == 1 else plural or word + 's'}"


def _changes_text(changes: dict[str, Any]) -> str:
    return ", ".join(f"{k} {_shown(old)} -> {_shown(new)}" for k, (old, new) in changes.items())


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)


def describe_event(e: dict[str, Any]) -> str:
    """The line a person reads for one training event; the CLI and the explorer both print
    these, so a run reads the same wherever it is followed."""
    kind = e.get("event")
    if kind == "start":
        s = e.get("settings", {})
        strategy = s.get("strategy", "?")
        if strategy == "hybrid":
            strategy += f" (alpha {s.get('alpha')})"
        from ..models.encoders import display_name

        base = display_name(str(s["base"])) if s.get("base") else "?"
        line = (
            f"training {base} on {count(e['train_rows'], 'pair')} in "
            f"{count(len(e['languages']), 'language')}, strategy {strategy}, "
            f"{count(e['total_steps'], 'step')}"
        )
        if s.get("scale") is not None:
            line += f", scale {s['scale']:g}"
        if s.get("precision"):
            line += f", {s['precision']}"
        if e.get("resumed_from_step"):
            line += f", resumed at step {e['resumed_from_step']}"
        if e.get("changes"):
            line += f" with changes: {_changes_text(e['changes'])}"
        return line
    if kind == "step":
        eta = e.get("eta_s")  # absent in the events of older runs
        return (
            f"step {e['step']}/{e['total_steps']}  loss {e['loss']:.4f}  "
            f"{e['examples_per_s']:.1f} examples/s"
            + (f"  ETA {format_duration(eta)}" if eta is not None else "")
        )
    if kind == "eval":
        figures = ", ".join(f"{k} {v:.4f}" for k, v in e["metrics"].items() if v is not None)
        return f"eval at step {e['step']} on {e['collection']}: {figures}"
    if kind == "checkpoint":
        return f"checkpoint at step {e['step']}"
    by = f" by {e['signal']}" if kind == "stopped" and e.get("signal") else ""
    if kind == "stopped" and e.get("started") is False:
        return f"stopped{by} {e['reason']}"
    if kind == "stopped" and e.get("reason", "interrupted") != "interrupted":
        return f"stopped{by} at step {e['step']}: {e['reason']}"
    if kind == "stopped":
        return (
            f"stopped{by} at step {e['step']}: the model and a checkpoint are in {e['path']} "
            "(continue with --resume)"
        )
    if kind == "done":
        early = ", stopped early: the best model kept" if e.get("early_stopped") else ""
        return f"done: {count(e['step'], 'step')}{early}; model in {e['path']}"
    if kind == "failed":
        return f"failed at step {e.get('step', 0)}: {e.get('reason', '')}"
    return str(kind)


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
        if self.resume_from is not None and not (self.resume_from / TRAINABLE_FILE).exists():
            return str(self.resume_from)
        return self.config.base


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
        recorded, history, _ = recorded_settings(resume_from)
        changes = config.changes_from(recorded)
        fixed = {k: v for k, v in changes.items() if _FIELDS[k].metadata.get("fixed")}
        if fixed:
            raise XlirError(
                f"--resume goes on from the run's own checkpoint (its model and optimizer "
                f"state), so these cannot change, even with --resume-with-changes: "
                f"{_changes_text(fixed)} (start a new run with another --out for that)",
                path=out,
            )
        refused = {k: v for k, v in changes.items() if not _extends(k, *v)}
        if refused and not config.resume_with_changes:
            raise XlirError(
                f"--resume: the run was trained with other settings: {_changes_text(refused)} "
                "(pass --resume-with-changes to continue with these)",
                path=out,
            )
        state = resume_from / "trainer_state.json"
        try:
            done = int(json.loads(state.read_text(encoding="utf-8"))["step"])
        except (OSError, ValueError, KeyError, TypeError):
            raise XlirError("cannot read the checkpoint's step", path=state) from None
    from ..models.encoders import local_model_folder

    model_from = config.base
    if resume_from is not None and not (resume_from / TRAINABLE_FILE).exists():
        model_from = str(resume_from)  # a checkpoint written with the whole model in it
    local_model_folder(model_from)  # a missing folder
    scale_from = ""
    if config.scale is None:
        scale, scale_from = base_scale(config.base)
        config = _replaced(config, scale=scale)
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
    batches_per_epoch = max(len(data) // config.batch_size, 1)
    total = config.steps or max(
        1, math.ceil((config.epochs or 1.0) * batches_per_epoch / _world_size())
    )
    if done >= total:
        raise XlirError(f"the run already reached step {done} of {total}", path=out)
    size = model_size(model_from)
    if size is not None and _is_main():
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


def _replaced(config: TrainConfig, **values: Any) -> TrainConfig:
    """``config`` with ``values`` changed, still knowing where each setting came from."""
    from dataclasses import replace

    out = replace(config, **values)
    out._sources = config._sources
    return out


STOP_SIGNALS = tuple(
    s
    for s in (signal.SIGINT, getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None))
    if s is not None
)


class StopSignals:
    """What Ctrl-C (SIGINT), ``kill`` (SIGTERM) and a closed terminal (SIGHUP) do to a run.

    Until the output folder is made nothing has been written, so a signal interrupts at once
    (``KeyboardInterrupt`` for SIGINT, :class:`~xlir_tui.storage.files.Terminated` for the others).
    Once the run trains (``gentle``), the first signal asks it to stop after the current step,
    which saves a checkpoint and the model, and a second one interrupts at once. Installed
    from the main thread only (the one Python delivers signals to); SIGTERM and SIGHUP only
    over their default action, so a SIGHUP ignored under ``nohup`` stays ignored and a program
    that runs the training in its own process keeps its own handler. Put back on exit.
    """

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.signum: int | None = None
        self.gentle = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for s in STOP_SIGNALS:
                with contextlib.suppress(ValueError, OSError):
                    if s == signal.SIGINT or signal.getsignal(s) == signal.SIG_DFL:
                        self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for s, previous in self._previous.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(s, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()

    @property
    def name(self) -> str | None:
        """The signal that stopped the run (``SIGTERM``), None for none."""
        return signal.Signals(self.signum).name if self.signum else None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.gentle and not self.stop.is_set():
            self.signum = signum
            self.stop.set()
            return
        self.signum = self.signum or signum
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Terminated(signum)


def exit_status(event: dict[str, Any]) -> int:
    """The exit status of a run that ended with ``event``: 0 when done, else the shell's
    status for the signal that stopped it (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP)."""
    if event.get("event") != "stopped":
        return 0
    name = event.get("signal")
    try:
        return 128 + signal.Signals[name].value if name else 130
    except KeyError:
        return 130


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
        return _run(config, plan, encoder, on_event, signals)


def _run(
    config: TrainConfig,
    plan: RunPlan,
    encoder: Any,
    on_event: EventSink | None,
    signals: StopSignals,
) -> Path:
    """The training itself, from a loaded model: the folder, the trainer, the end."""
    out = Path(config.out)
    main = _is_main()
    model = encoder.model
    config = plan.config.with_prompts_of(encoder)
    device = str(model.device)
    if config.precision is None:
        config = _replaced(config, precision=default_precision(device))
    check_precision(config.precision or "float32", device)
    if config.max_seq_length:
        model.max_seq_length = config.max_seq_length
    if config.freeze_embeddings:
        freeze_input_embeddings(model)
    frozen = frozen_digests(model)
    if plan.resume_from is not None and plan.model_from == config.base:
        load_trainable(model, plan.resume_from, frozen, config.base)
    training_forward(model, config.precision or "float32", config.length_group_size)
    total, done_steps, history = plan.total, plan.done, list(plan.history)
    if plan.changes:
        history.append(
            {
                "step": done_steps,
                "before": plan.recorded,
                "changes": {k: {"before": a, "after": b} for k, (a, b) in plan.changes.items()},
            }
        )
    made = main and plan.resume_from is None  # this run makes the folder, removes it on failure
    if main:
        try:
            if config.overwrite and plan.resume_from is None:
                remove_own_output(out)  # checked again now: only a folder this tool wrote
            out.mkdir(parents=True, exist_ok=True)
            if plan.resume_from is None:  # a resumed run keeps its marker (and a run from before
                write_marker(out, "train")  # markers stays without one: never replaced)
            (out / CHECKPOINTS).mkdir(exist_ok=True)
        except OSError as e:
            raise XlirError(
                f"cannot write the output folder: {e.strerror or e}", path=out
            ) from None
    log = EventLog(out / EVENTS_FILE, on_event, enabled=main)
    runner = _Runner(
        config,
        out,
        model,
        encoder,
        log,
        signals.stop,
        total,
        done_steps,
        plan.eval_collection,
        main,
    )
    runner.frozen = frozen
    runner.history = history
    runner.signals = signals
    signals.gentle = True  # from here a first signal stops after the step, and saves
    try:
        log.emit(
            "start",
            settings=asdict(config),
            total_steps=total,
            resumed_from_step=done_steps,
            changes=plan.changes,
            train_rows=len(plan.data),
            languages=plan.pairs.langs,
            world_size=_world_size(),
            device=device,
            **({"scale_from": plan.scale_from} if plan.scale_from else {}),
            version=__version__,
        )
        from .batch_sampler import sampler_factory

        consumed = done_steps * _world_size()  # batches every rank together has used
        trainer = runner.build_trainer(
            plan.data,
            sampler_factory(
                plan.pairs,
                config.strategy,
                config.alpha,
                config.lang_weighting,
                skip=consumed % plan.batches_per_epoch,
                epoch_offset=consumed // plan.batches_per_epoch,
            ),
            plan.resume_from,
        )
        trainer.train()
        runner.finish(trainer)
    except XlirError as e:
        log.emit("failed", reason=str(e), step=runner.step)
        _discard(out, made and not runner.checkpoints, log)
        raise
    except (KeyboardInterrupt, Terminated):
        # a second signal: no checkpoint of this step, but followers learn that the run ended
        discard = made and not runner.checkpoints
        log.emit(
            "stopped",
            step=runner.step,
            total_steps=total,
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
        log.emit("failed", reason=reason, step=runner.step)
        _discard(out, made and not runner.checkpoints, log)
        raise XlirError(f"training failed at step {runner.step}: {reason}") from e
    finally:
        log.close()
    return out


def _extends(name: str, old: Any, new: Any) -> bool:
    """A longer run with the same settings: more steps (or epochs) than recorded."""
    return name in ("steps", "epochs") and old is not None and new is not None and new >= old


def _discard(out: Path, really: bool, log: EventLog) -> None:
    """Remove an output folder that holds no checkpoint yet: nothing in it is of use, and it
    would make the next try fail with 'output folder exists'."""
    if really:
        log.close()
        shutil.rmtree(out, ignore_errors=True)


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

    dtype = getattr(torch, precision)
    device_type = next(model.parameters()).device.type
    transformer = model[0]
    right_padded = getattr(getattr(model, "tokenizer", None), "padding_side", "right") == "right"
    autocast = precision != "float32"

    def run_once(self: Any, features: dict[str, Any]) -> dict[str, Any]:
        context = torch.autocast(device_type, dtype=dtype) if autocast else contextlib.nullcontext()
        with context:
            out = type(self).forward(self, features)
        states = out.get("token_embeddings")
        if isinstance(states, torch.Tensor) and states.is_floating_point():
            out["token_embeddings"] = states.float()
        return out

    def forward(self: Any, features: dict[str, Any], **kwargs: Any) -> Any:
        if not self.training or kwargs:
            return type(self).forward(self, features, **kwargs)
        mask = features.get("attention_mask")
        groupable = (
            group_size
            and right_padded
            and features.get("modality", "text") == "text"
            and isinstance(mask, torch.Tensor)
            and mask.dim() == 2
            and mask.shape[0] > group_size
            and not getattr(self.model.config, "output_hidden_states", False)
        )
        if not groupable:
            return run_once(self, features)
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
            states = run_once(self, part)["token_embeddings"]
            pieces.append(torch.nn.functional.pad(states, (0, 0, 0, width - cut)))
        features["token_embeddings"] = torch.cat(pieces)[torch.argsort(order)]
        return features

    transformer.forward = types.MethodType(forward, transformer)


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

    state = checkpoint / "trainer_state.json"
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
        if path.name in (TRAINABLE_FILE, "optimizer.safetensors"):
            continue
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata()
        tensors = {
            k: v.to(target) if v.is_floating_point() else v for k, v in load_file(str(path)).items()
        }
        save_file(tensors, str(path), metadata=metadata)


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
        self.stopped = False  # stopped before its last step (finish() decides)
        self.last_eval: dict[str, Any] | None = None
        self.last_step_time = time.perf_counter()
        self.rate = 0.0
        self.step_rate = Rate()
        """Steps per second over wall time (checkpoints and evaluations in): the ETA's rate."""
        self.optimizer: Any = None
        self.checkpoints = 0  # written by this run
        self.saved_step: int | None = None  # the step of the latest step checkpoint
        self.signals: StopSignals | None = None  # which signal stopped the run, if one did
        self.history: list[dict[str, Any]] = []  # settings changed on resume, with the step
        self.frozen: dict[str, str] = {}  # digests of the frozen parameters (not checkpointed)

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
                runner.step_rate.update(runner.step, time.monotonic())

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
                        eta_s=_rounded(runner.step_rate.eta(runner.total)),
                        epoch=state.epoch,
                    )

            def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                # the time since the last step ended, evaluations and checkpoints excluded
                elapsed = max(time.perf_counter() - runner.last_step_time, 1e-9)
                runner.rate = c.batch_size * _world_size() / elapsed
                runner.step = runner.done + state.global_step
                runner.step_rate.update(runner.step, time.monotonic())
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
        # The model card's example texts, from our own first pairs: left empty, the trainer picks
        # them itself behind a progress bar of its own that nothing can switch off.
        first = data.head(3)
        self.model.model_card_data.widget = [
            {"source_sentence": q, "sentences": list(first["passage"])}
            for q in list(first["query"])[:1]
        ]
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
        """``step-N`` (what ``--resume`` reads: the trained parameters in float32, their
        optimizer state, the step and the digests of the frozen parameters; only the latest
        ``keep_checkpoints`` stay), or a named model such as ``best`` (a model as the output
        folder holds one, no optimizer state)."""
        if not self.main:
            return None
        folder = self.out / CHECKPOINTS / (name or f"step-{self.step}")
        if name is None and self.saved_step == self.step:
            return folder  # a stop right after a checkpoint: this step is saved already
        with atomic_dir(folder, command="train", ours=True) as tmp:
            if name is None:
                save_trainable(self.model, tmp)
                self._write_record(tmp)
                if self.optimizer is not None:
                    save_optimizer(self.optimizer, tmp)
            else:
                self._save_model(tmp)
            (tmp / "trainer_state.json").write_text(
                json.dumps(
                    {
                        "step": self.step,
                        "total_steps": self.total,
                        "best": self.best,
                        "frozen": self.frozen,
                    }
                )
            )
            apply_umask(tmp)  # safetensors writes its files 0600
        self.checkpoints += 1
        if name is None:
            self.saved_step = self.step
            self._prune()
        self.log.emit("checkpoint", step=self.step, path=str(folder))
        return folder

    def _prune(self) -> None:
        """Remove all but the latest ``keep_checkpoints`` step checkpoints: each holds the
        optimizer state, twice the model's size for AdamW."""
        steps = []
        for p in (self.out / CHECKPOINTS).glob("step-*"):
            with contextlib.suppress(ValueError):
                steps.append((int(p.name[5:]), p))
        for _, old in sorted(steps)[: -self.config.keep_checkpoints]:
            shutil.rmtree(old, ignore_errors=True)

    def _save_model(self, folder: Path) -> None:
        """The model with its prompts, its weights stored in ``save_dtype``, and the settings
        every command reads back from it."""
        c = self.config
        self.model.prompts = {"query": c.query_prompt, "document": c.passage_prompt}
        self.model.default_prompt_name = None
        self.model.save(str(folder))
        store_weights_as(folder, c.save_dtype)
        self._write_record(folder)
        apply_umask(folder)  # the model library writes its weights 0600

    def _write_record(self, folder: Path) -> None:
        """``xlir_train.json``: the settings (what ``--resume`` takes over) and their history."""
        record: dict[str, Any] = {"settings": asdict(self.config)}
        if self.history:
            record["history"] = self.history
        (folder / TRAIN_FILE).write_text(json.dumps(record, indent=2))

    def evaluate(self) -> dict[str, Any] | None:
        if not self.main or self.eval_collection is None:
            return None
        from dataclasses import replace

        from ..evaluation.evaluate import evaluate_encoder

        backend = self.config.backend
        model, runtime, fingerprint = self.model, None, f"training-step-{self.step}"
        if backend != "torch":
            import copy

            from ..models.backends import attach_backend
            from ..storage.files import text_digest

            # the export replaces the transformer it runs: a copy, never the model in training
            fingerprint = text_digest(str(self.out.resolve()), fingerprint)
            model = copy.deepcopy(self.model).eval()
            prompts = (self.config.query_prompt or "", self.config.passage_prompt or "")
            runtime = attach_backend(model, backend, fingerprint, prompts)
        enc = replace(
            self.encoder,
            model=model,
            runtime=runtime,
            use_cache=False,
            fingerprint=fingerprint,
            query_prompt=self.config.query_prompt,
            passage_prompt=self.config.passage_prompt,
            passage_context=self.config.passage_context,
        )
        enc._caches = {}
        try:
            entry = evaluate_encoder(self.eval_collection, enc).entry
        finally:
            if runtime is not None:  # an export of one step's weights serves nothing later
                shutil.rmtree(runtime.folder, ignore_errors=True)
                lock = runtime.folder.parent / f".{runtime.folder.name}.lock"
                lock.unlink(missing_ok=True)  # nothing else ever builds this step's export
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
        """Final checkpoint, final model, final evaluation and the closing event.

        A stop asked for once the last step is done leaves a whole run (``done``, not
        ``stopped``: its model is the one its settings describe), only without the final
        evaluation it would have waited for."""
        interrupted = self.stop.is_set()
        stopped = self.stopped = interrupted and (self.total is None or self.step < self.total)
        if self.main:
            self.checkpoint()
            if not interrupted and self.eval_collection is not None and not self.early_stopped:
                self.evaluate()
            best = self.out / CHECKPOINTS / "best"
            if self.early_stopped and best.exists():
                from sentence_transformers import SentenceTransformer

                self.model = SentenceTransformer(str(best), device=str(self.model.device))
            self._write_final()
            with contextlib.suppress(OSError):  # the trainer's own output folder, left empty
                (self.out / CHECKPOINTS / ".trainer").rmdir()
        if stopped:
            self.log.emit(
                "stopped",
                step=self.step,
                total_steps=self.total,
                path=str(self.out),
                signal=self.signals.name if self.signals is not None else None,
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
                    **({"history": self.history} if self.history else {}),
                    "steps": self.step,
                    "total_steps": self.total,
                    "stopped": self.stopped,
                    "early_stopped": self.early_stopped,
                    "eval": self.last_eval,
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


def last_error(path: Path) -> str | None:
    """What a dead training process said last: its ``xlir-tui: error: ...`` line, else its
    last line (a crash's last traceback line); None for an empty or missing log. Progress bars
    redraw with carriage returns, so each line counts from its last one."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    lines = [x.rsplit("\r", 1)[-1].strip() for x in text.splitlines()]
    lines = [x for x in lines if x]
    errors = [x for x in lines if x.startswith("xlir-tui: error:")]
    return (errors or lines or [None])[-1]
