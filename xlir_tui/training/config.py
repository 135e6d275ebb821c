"""Every training setting, declared once (:class:`TrainConfig`), and how each is read.

The ``train`` command's options, the TOML keys of ``--config`` and the explorer's training form
all come from :class:`TrainConfig`'s fields; :func:`checked_settings` gives every value its type
with a one-line error that names the key (a bool is not an integer; one string is a list of
one). Nothing here imports torch: a typo in a setting costs a second, not a model's load.
"""

from __future__ import annotations

import contextlib
import functools
import json
import tomllib
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import XlirError
from ..models.run_files import TRAIN_FILE
from .checkpoints import resume_point

DEFAULT_QUERY_PROMPT = "Query: "
DEFAULT_PASSAGE_PROMPT = "Passage: "
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
            metavar="collection",
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
    mini_batch_size: int | None = field(
        default=None,
        metadata=_meta(
            "Pairs per forward pass when the loss is computed in mini-batches (GradCache, "
            "sentence-transformers' CachedMultipleNegativesRankingLoss): a batch of any size "
            "in the memory of this many pairs, the same gradient, for a second forward "
            "pass.",
            shown="the whole batch",
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

    def replaced(self, **values: Any) -> TrainConfig:
        """These settings with ``values`` changed, still knowing where each came from."""
        from dataclasses import replace

        out = replace(self, **values)
        out._sources = self._sources
        return out

    def with_prompts_of(self, encoder: Any) -> TrainConfig:
        """The prompts left unset become the base model's own (``query: `` / ``passage: `` for
        multilingual-e5), or the paper's ``Query: `` / ``Passage: `` for a model without any:
        a model fine-tuned on other prefixes first has to unlearn the ones it was trained with.
        """
        return self.replaced(
            query_prompt=self.query_prompt
            if self.query_prompt is not None
            else (encoder.query_prompt or DEFAULT_QUERY_PROMPT),
            passage_prompt=self.passage_prompt
            if self.passage_prompt is not None
            else (encoder.passage_prompt or DEFAULT_PASSAGE_PROMPT),
        )

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
        for name in ("eval_every", "early_stopping", "mini_batch_size"):
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


def changes_text(changes: dict[str, Any]) -> str:
    """Changed settings as a person reads them: ``alpha 0.5 -> 0.7, steps 10 -> 20``."""
    return ", ".join(f"{k} {_shown(old)} -> {_shown(new)}" for k, (old, new) in changes.items())
