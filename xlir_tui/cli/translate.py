"""``xlir-tui translate``: translate-train data, a collection machine-translated into other
languages (the work is :mod:`xlir_tui.app.translate`'s)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import XlirError
from .options import CollectionArg, FileLangOpt, OldFileLangOpt, StrictOpt
from .output import say, stage_progress
from .values import file_lang_of, load, split_langs

MtOpt = Annotated[
    str,
    typer.Option(
        "--mt",
        help="Translation model: M2M100, NLLB or MarianMT, a hub name or a folder (Marian: "
        "a pattern such as Helsinki-NLP/opus-mt-{src}-{tgt}).",
        show_default=False,
    ),
]
ToOpt = Annotated[
    str,
    typer.Option("--to", help="Target languages, comma-separated (de,zh).", show_default=False),
]
OutOpt = Annotated[
    Path,
    typer.Option("--out", "-o", help="Folder of the translated collection.", show_default=False),
]
FromOpt = Annotated[
    str, typer.Option("--from", help="Language of the questions and passages to translate.")
]
ParagraphsOpt = Annotated[
    bool,
    typer.Option("--paragraphs", help="Also translate each answer's paragraph (its context)."),
]
BatchSizeOpt = Annotated[int, typer.Option("--batch-size", help="Texts per batch.")]
NumBeamsOpt = Annotated[int, typer.Option("--num-beams", help="Beam search width.")]
MaxLengthOpt = Annotated[
    int, typer.Option("--max-length", help="Longest input and output, in tokens.")
]
OverwriteOpt = Annotated[
    bool, typer.Option("--overwrite", help="Replace a finished output folder.")
]


def translate_cmd(
    collection: CollectionArg,
    mt: MtOpt = ...,  # type: ignore[assignment]
    to: ToOpt = ...,  # type: ignore[assignment]
    out_dir: OutOpt = ...,  # type: ignore[assignment]
    source: FromOpt = "en",
    paragraphs: ParagraphsOpt = False,
    file_lang: FileLangOpt = None,
    old_lang: OldFileLangOpt = None,
    strict: StrictOpt = False,
    batch_size: BatchSizeOpt = 16,
    num_beams: NumBeamsOpt = 1,
    max_length: MaxLengthOpt = 256,
    overwrite: OverwriteOpt = False,
) -> None:
    """Translate-train data: questions and answer sentences (and paragraphs) machine-translated
    into other languages, written as a collection that train reads, relevance kept by question
    id. An interrupted run continues where it stopped when run again."""
    from ..app.translate import check_out, translate_collection
    from ..models.translator import Translator, model_code

    targets = split_langs(to)
    if not targets:
        raise XlirError("--to names no language")
    if batch_size < 1 or num_beams < 1 or max_length < 1:
        raise XlirError("--batch-size, --num-beams and --max-length must be at least 1")
    check_out(out_dir, overwrite, collection)  # before the collection and the model load
    c = load(collection, file_lang_of(file_lang, old_lang), strict)
    say(f"loading translation model {mt} ...")
    translator = Translator.load(
        mt, batch_size=batch_size, max_length=max_length, num_beams=num_beams
    )
    for code in [source, *targets]:
        model_code(translator.family, code)  # an unknown language fails before any work
    with stage_progress() as update:
        summary = translate_collection(
            c,
            translator,
            targets,
            out_dir,
            source=source,
            paragraphs=paragraphs,
            overwrite=overwrite,
            progress=lambda stage, d, t: update(f"translating to {stage}", d, t),
        )
    say(
        f"translated {summary.get('questions', {}).get(source, '?')} {source} questions into "
        f"{', '.join(targets)} in {summary.get('seconds', 0):.1f} s -> {out_dir}"
    )
