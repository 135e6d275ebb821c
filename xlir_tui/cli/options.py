"""Options that several commands share, and help pages in the tool's words.

Each shared option is declared once, as an ``Annotated`` alias that a command names as a
parameter's type: its flag and help text are the same wherever it appears. An option whose
help differs from command to command is declared in its command's module.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

_VALUE_LABELS = {int: "int", float: "float", str: "text", Path: "path"}


def _value_label(param: Any) -> str:
    """A parameter's value as help shows it: ``<path>``, ``<int>``, ``<float>``, ``<text>``
    (``...`` after an argument that takes several); nothing for a flag, which takes none."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""
    annotation = param.type_descriptor.annotation
    several = typing.get_origin(annotation) is list
    if several:
        (annotation,) = typing.get_args(annotation)
    label = f"<{_VALUE_LABELS.get(annotation, 'text')}>"
    return label + "..." if several and isinstance(param, TyperArgument) else label


class _OwnWords:
    """Help pages in the tool's words: typer shows Python's types (``<str>``, ``<list[Path]>``,
    ``<bool>`` beside a flag); these show what a person types. ``shown_required`` names
    parameters that a run needs but the command checks itself (train's collections and
    ``--out`` may come from ``--config``): marked required in help all the same."""

    shown_required: tuple[str, ...] = ()

    def format_help(self, ctx: Any, formatter: Any) -> None:
        params = list(self.get_params(ctx))  # type: ignore[attr-defined]
        marked = [p for p in params if p.name in self.shown_required and not p.required]
        # A flag's ``--no-x`` is named in its help text, not given a column: that column took
        # a third of an 80-column page and squeezed every help text to a sliver.
        negated = {
            p: (p.secondary_opts, p.help) for p in params if getattr(p, "secondary_opts", None)
        }
        # rich keeps a docstring's line breaks: each paragraph becomes one line, in this page
        # and in a group's list of its commands
        shown = [self, *getattr(self, "commands", {}).values()]
        saved_help = {c: c.help for c in shown}
        for c in shown:
            if c.help:
                c.help = "\n\n".join(" ".join(par.split()) for par in c.help.split("\n\n"))
        for p in params:
            p.display_type_rich = lambda ctx=None, p=p: _value_label(p)
        for p in marked:
            p.required = True
        for p, (opposite, text) in negated.items():
            said = f"{' / '.join(opposite)} turns it off"
            text = text or ""
            p.help = f"{text[:-1]}; {said})" if text.endswith(")") else f"{text} ({said})".strip()
            p.secondary_opts = []
        try:
            super().format_help(ctx, formatter)  # type: ignore[misc]
        finally:
            for p in marked:
                p.required = False
            for p, (opposite, text) in negated.items():
                p.secondary_opts, p.help = opposite, text
            for c, text in saved_help.items():
                c.help = text


class Command(_OwnWords, TyperCommand):
    """A command whose help page speaks the tool's words."""


class Group(_OwnWords, TyperGroup):
    """A command group whose help page speaks the tool's words."""


class Typer(typer.Typer):
    """A Typer whose commands are :class:`Command` unless told otherwise."""

    def command(self, *args: Any, cls: Any = None, **kwargs: Any) -> Any:
        return super().command(*args, cls=cls or Command, **kwargs)


CollectionArg = Annotated[
    list[Path],
    typer.Argument(
        help="A collection: a folder of <lang>.json / .jsonl / .parquet files, or the files.",
        show_default=False,
    ),
]
FileLangOpt = Annotated[
    str | None,
    typer.Option(
        "--file-lang",
        help="Language of collection files whose name carries none (de.json and xquad.de.json do).",
    ),
]
OldFileLangOpt = Annotated[
    str | None, typer.Option("--lang", hidden=True, help="Old spelling of --file-lang.")
]
StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Fail on a question whose answer lies in no sentence (default: skip, report).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of a table.")]
LangsOpt = Annotated[
    str | None,
    typer.Option("--langs", help="Use only these languages, comma-separated (de,en,zh)."),
]
PaneLangsOpt = Annotated[
    str | None,
    typer.Option(
        "--langs",
        help="The panes' languages, 2 to 4, comma-separated (en,de,zh); each pane searches "
        "the whole pool of every language (F4: its own language's pool).",
    ),
]
EncodeBatchOpt = Annotated[int, typer.Option("--batch-size", help="Encoding batch size.")]
PoolingOpt = Annotated[
    str | None,
    typer.Option(
        "--pooling",
        help="A plain transformers model (e.g. a BloomZ-style causal LM) as an encoder: "
        "mean or lasttoken. (default: lasttoken for causal models, else mean)",
    ),
]
QueryPromptOpt = Annotated[
    str | None,
    typer.Option(
        "--query-prompt",
        help="Prefix of queries (an instruction), instead of the model's own query prompt.",
    ),
]
TranslateQueryOpt = Annotated[
    str | None,
    typer.Option(
        "--translate-query",
        help="Translate each query into this language before encoding (translate-test; "
        "needs --mt).",
    ),
]
MtOpt = Annotated[
    str | None,
    typer.Option(
        "--mt",
        help="Translation model: M2M100, NLLB or MarianMT, a hub name or a folder (Marian: "
        "a pattern such as Helsinki-NLP/opus-mt-{src}-{tgt}). bias-report also takes "
        "'parallel': each question's own human translation from a parallel collection (the "
        "translate-test ceiling).",
    ),
]
QueryLangOpt = Annotated[
    str | None,
    typer.Option(
        "--query-lang",
        help="The language the query is written in: what --translate-query translates from, "
        "and what --debias center and lir use (without it they identify it with py3langid).",
    ),
]
DebiasOpt = Annotated[
    str | None,
    typer.Option(
        "--debias",
        help="Language-bias remedies without training, comma-separated, each a system of its "
        "own: none (plain), center, lir, leace, subspace (none,center: plain and centred side "
        "by side; bias-report scores the plain system with any remedy, as its baseline).",
    ),
]
DebiasFitOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--debias-fit",
        help="Fit the remedies on this collection (a folder, or files: repeat) or use this "
        "saved fit (.json). (default: the collection being indexed or scored)",
    ),
]
LirRankOpt = Annotated[
    str | None,
    typer.Option(
        "--lir-rank",
        help="lir: directions removed per language from queries and from candidates, "
        "comma-separated, or one number for both. (default: 2,1)",
    ),
]
SubspaceRankOpt = Annotated[
    int | None,
    typer.Option(
        "--subspace-rank",
        help="subspace: directions of the language subspace removed. (default: the number of "
        "languages - 1)",
    ),
]
BackendOpt = Annotated[
    str,
    typer.Option(
        "--backend",
        help="What runs the encoder: openvino (float, several times faster than torch on a "
        "CPU, same figures within 0.001 mAP), torch, onnx-int8 or openvino-int8 (faster still, "
        "0.5-2 points of mAP lower). The first use of a model with a fast backend exports it "
        "into the cache.",
    ),
]
PassageContextOpt = Annotated[
    bool | None,
    typer.Option(
        "--passage-context/--no-passage-context",
        help="Encode each candidate as its sentence followed by its paragraph (LAReQA's input), "
        "or as the sentence alone. (default: as the model was trained: the sentence alone, "
        "unless it was trained with train --passage-context)",
        show_default=False,
    ),
]
SystemOpt = Annotated[
    str,
    typer.Option(
        "--system",
        help="dense (the --model), bm25, chargram (lexical, no model) or fusion (see --fuse).",
    ),
]
FuseOpt = Annotated[
    str,
    typer.Option(
        "--fuse",
        help="fusion: the systems fused, comma-separated, from dense (the --model), bm25, "
        "chargram.",
    ),
]
FusionMethodOpt = Annotated[
    str, typer.Option("--fusion-method", help="fusion: rrf (reciprocal ranks) or interpolate.")
]
FusionWeightOpt = Annotated[
    str | None,
    typer.Option(
        "--fusion-weight",
        help="fusion: the first fused system's weight (the others share the rest), or one "
        "weight per system, comma-separated. (default: equal weights)",
    ),
]
