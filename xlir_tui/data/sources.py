"""Public collections: where to get them, what they must contain, and how to fetch them safely.

``xlir-tui data get`` downloads the LAReQA files (or copies them from a local folder, the only
way on an offline machine), verifies them against the published statistics with the same loader
that every command uses, and only then moves them into place.
"""

from __future__ import annotations

import contextlib
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import DataError, XlirError
from ..progress import Progress
from ..storage.files import atomic_dir, check_output, write_json

LAREQA_RAW = "https://raw.githubusercontent.com/google-research-datasets/lareqa"


@dataclass(frozen=True)
class PublicCollection:
    """A published collection: its files and the counts a correct copy has."""

    name: str
    url: str  # with {lang}
    questions: dict[str, int]  # per language
    candidates: int  # all languages together
    license_url: str

    @property
    def languages(self) -> list[str]:
        return sorted(self.questions)


PUBLIC: dict[str, PublicCollection] = {
    "xquad-r": PublicCollection(
        name="xquad-r",
        url=f"{LAREQA_RAW}/master/xquad-r/{{lang}}.json",
        questions=dict.fromkeys(
            ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"), 1190
        ),
        candidates=13014,
        license_url=f"{LAREQA_RAW}/master/LICENSE",
    ),
    "mlqa-r": PublicCollection(
        name="mlqa-r",
        url=f"{LAREQA_RAW}/354d67d/mlqa-r/{{lang}}.json",
        questions={"ar": 517, "de": 512, "en": 1148, "es": 500, "hi": 507, "vi": 511, "zh": 504},
        candidates=20534,
        license_url=f"{LAREQA_RAW}/354d67d/LICENSE",
    ),
}


# Written beside the data by ``data get`` (not ``.json``: the loader reads every ``.json`` file).
# What the folder holds; the output marker (:data:`xlir_tui.storage.files.MARKER_NAME`) says whose
# it is.
MANIFEST_NAME = "collection.manifest"
MANIFEST_FORMAT = "xlir-tui/collection"


def _download(url: str, dest: Path, timeout: float) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, dest.open("wb") as f:
            shutil.copyfileobj(resp, f)
    except (TimeoutError, urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        raise XlirError(f"cannot download {url}: {reason}") from None


def verify(spec: PublicCollection, folder: Path) -> dict[str, Any]:
    """Load ``folder`` with the project's loader and compare it with the published counts."""
    from .collections import load_collection

    c = load_collection(folder, use_cache=False, name=spec.name)
    stats = c.stats()
    for lang, want in spec.questions.items():
        got = stats["languages"].get(lang, {}).get("questions", 0)
        if got != want:
            raise DataError(
                f"{lang}.json has {got} answerable questions, {spec.name} has {want}", path=folder
            )
    if stats["candidates"] != spec.candidates:
        raise DataError(
            f"{stats['candidates']} candidate sentences, {spec.name} has {spec.candidates}",
            path=folder,
        )
    return stats


def get_collection(
    name: str,
    target: Path,
    *,
    source: Path | None = None,
    overwrite: bool = False,
    timeout: float = 10.0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Download (or copy from ``source``) a public collection, verify it, write it to ``target``."""
    spec = PUBLIC.get(name)
    if spec is None:
        raise XlirError(f"unknown collection {name!r} (known: {', '.join(sorted(PUBLIC))})")
    check_output(target, overwrite=overwrite, inputs=[source], flag="--to")  # before any download
    if source is not None and not source.is_dir():
        raise XlirError("--from must be a folder holding <lang>.json files", path=source)
    langs = spec.languages
    with atomic_dir(target, overwrite=overwrite, command="data get") as tmp:
        for i, lang in enumerate(langs):
            if progress:
                progress(i, len(langs))
            dest = tmp / f"{lang}.json"
            if source is not None:
                src = source / f"{lang}.json"
                if not src.is_file():
                    raise DataError(
                        f"missing {lang}.json (a copy of {name} has "
                        f"{', '.join(f'{x}.json' for x in langs)})",
                        path=source,
                    )
                shutil.copyfile(src, dest)
            else:
                try:
                    _download(spec.url.format(lang=lang), dest, timeout)
                except XlirError as e:
                    raise XlirError(
                        f"{e}; offline? use a local copy instead: xlir-tui data get {name} "
                        f"--from DIR (a folder with {langs[0]}.json ... {langs[-1]}.json)"
                    ) from None
        if source is not None and (source / "LICENSE").is_file():
            shutil.copyfile(source / "LICENSE", tmp / "LICENSE")
        elif source is None:
            # the licence is a courtesy copy; the data itself is verified below
            with contextlib.suppress(XlirError):
                _download(spec.license_url, tmp / "LICENSE", timeout)
        if progress:
            progress(len(langs), len(langs))
        stats = verify(spec, tmp)
        write_json(
            tmp / MANIFEST_NAME,
            {
                "format": MANIFEST_FORMAT,
                "collection": name,
                "languages": langs,
                "source": str(source) if source is not None else spec.url,
                "created_by": f"xlir-tui {__version__}",
            },
        )
        return stats
