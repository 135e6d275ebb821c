"""Fusion systems: two or more systems whose scores are fused."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import IndexFormatError, XlirError
from ..models.store import Models
from ..progress import StageProgress
from .dense import FUSION_FORMAT, collection_manifest
from .dense_system import DenseRetriever
from .lexical_system import LexicalRetriever
from .retriever import Retriever, Scorer
from .specs import LEXICAL, FusionSpec, SystemSpec

__all__ = ["FusionRetriever"]

FUSION_FORMAT_VERSION = 1


class FusionRetriever(Retriever):
    """Two or more systems whose scores are fused
    (:class:`~xlir_tui.retrieval.specs.FusionSpec`). Saved as one ordinary index folder per part
    beside a manifest holding the spec, so each part is checked on load exactly as it is
    alone."""

    system = "fusion"

    def __init__(self, parts: dict[str, Retriever], spec: FusionSpec, collection: Any) -> None:
        first = next(iter(parts.values()))
        super().__init__(first.pool, collection)
        self.parts = parts
        self.spec = spec

    @property
    def dense(self) -> DenseRetriever | None:
        part = self.parts.get("dense")
        return part if isinstance(part, DenseRetriever) else None

    @property
    def encoder(self) -> Any:
        return self.dense.encoder if self.dense is not None else None

    @property
    def label(self) -> str:
        dense = self.dense
        return self.spec.label(dense.label if dense is not None else None)

    def collection(self) -> Any:
        return self._collection or next(iter(self.parts.values())).collection()

    def keep_queries(self, keep: bool) -> None:
        super().keep_queries(keep)
        for part in self.parts.values():
            part.keep_queries(keep)

    def describe(self) -> dict[str, Any]:
        out = {**super().describe(), "fusion": self.spec.to_dict()}
        if self.dense is not None:
            out["model"] = self.dense.encoder.describe()
        return out

    @classmethod
    def build(
        cls,
        collection: Any,
        spec: SystemSpec,
        models: Models,
        progress: StageProgress | None = None,
        **index_options: Any,
    ) -> FusionRetriever:
        fusion = spec.fusion or FusionSpec()
        parts = {
            p: _kind(p).build(collection, spec.part(p), models, progress, **index_options)
            for p in fusion.parts
        }
        return cls(parts, fusion, collection)

    @classmethod
    def load(cls, folder: Path, models: Models, model: str | None = None) -> FusionRetriever:
        folder = Path(folder)
        try:
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise IndexFormatError(f"unreadable manifest: {e}", path=folder) from None
        if manifest.get("format") != FUSION_FORMAT:
            raise IndexFormatError("not an xlir-tui fusion index", path=folder)
        if manifest.get("format_version") != FUSION_FORMAT_VERSION:
            raise IndexFormatError(
                "unsupported fusion index format; rebuild with xlir-tui index", path=folder
            )
        try:
            spec = FusionSpec.from_dict(manifest["fusion"])
        except (KeyError, TypeError, XlirError) as e:
            raise IndexFormatError(f"bad fusion block in the manifest: {e}", path=folder) from None
        fingerprint = manifest.get("collection", {}).get("fingerprint")
        parts: dict[str, Any] = {}
        # the lexical parts first: a damaged folder fails before any model loads
        for part in sorted(spec.parts, key=lambda p: p == "dense"):
            parts[part] = _load_part(part, folder / part, models, model)
            if parts[part].index.manifest["collection"]["fingerprint"] != fingerprint:
                raise IndexFormatError(
                    f"part {part} was built from another collection", path=folder / part
                )
        return cls({p: parts[p] for p in spec.parts}, spec, None)

    def scorer(
        self,
        queries: Sequence[str],
        query_langs: Sequence[str | None] | None = None,
        progress: StageProgress | None = None,
    ) -> Scorer:
        scorers = [p.scorer(queries, query_langs, progress) for p in self.parts.values()]
        return lambda lo, hi: self.spec.combine([s(lo, hi) for s in scorers])

    def save(self, folder: Path, *, overwrite: bool = False) -> None:
        from ..storage.files import atomic_dir, write_json

        collection = self.collection()
        with atomic_dir(Path(folder), overwrite=overwrite, command="index") as tmp:
            for name, part in self.parts.items():
                part.save(tmp / name)
            write_json(
                tmp / "manifest.json",
                {
                    "format": FUSION_FORMAT,
                    "format_version": FUSION_FORMAT_VERSION,
                    "system": "fusion",
                    "fusion": self.spec.to_dict(),
                    "collection": collection_manifest(collection),
                },
            )


def _load_part(part: str, folder: Path, models: Models, model: str | None) -> Retriever:
    retriever = _kind(part).load(folder, models, model)
    if retriever.system != part:
        raise IndexFormatError(f"holds a {retriever.system} index, not {part}", path=folder)
    return retriever


def _kind(part: str) -> type[DenseRetriever] | type[LexicalRetriever]:
    """The class of a fusion's part (a fusion fuses dense and lexical systems only)."""
    return LexicalRetriever if part in LEXICAL else DenseRetriever
