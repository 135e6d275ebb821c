"""Machine translation of collections: M2M100, NLLB and MarianMT models, cached and resumable.

Why this module exists: a retrieval benchmark in a language nobody annotated can be made by
translating the questions and answer sentences of an existing one (translate-test / translate-train
style). That costs hours of seq2seq decoding on a CPU, so:

- every translation is cached on disk, keyed by the model's fingerprint, the language pair and the
  decoding settings, so a rerun (or a second collection that shares sentences) costs nothing;
- :func:`translate_collection` appends finished questions to ``.part`` files with an fsync per
  chunk, so a Ctrl-C or a crash loses at most one chunk, and a restart skips what is done;
- texts are deduplicated and batched longest first, so padding wastes little compute.

``torch`` and ``transformers`` are imported inside functions: importing this module must stay
cheap, because the CLI imports it to print ``--help``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from ..errors import ModelError, XlirError
from ..progress import Progress, StageProgress
from ..storage.files import (
    atomic_write_text,
    cache_root,
    check_apart,
    check_replaceable,
    ownership,
    remove_own_output,
    text_digest,
    write_json,
    write_marker,
)
from .encoders import _hub_reachable, _looks_like_path, model_fingerprint

if TYPE_CHECKING:
    from ..data.collections import Collection

FAMILIES = ("m2m100", "nllb", "marian")

SUMMARY_NAME = "translate.manifest"
"""Written last into a finished output folder. Not ``translate.json``: the collection loader reads
every ``*.json`` in a folder as a SQuAD file, and the output folder must load as a collection."""
SETTINGS_NAME = "translate.settings"
"""The settings of a run in progress, compared on restart so a resume never mixes two runs."""
SUMMARY_FORMAT = "xlir-tui/translation"
FORMAT_VERSION = 1


# Plain ISO 639-1 codes -> the FLORES-200 codes NLLB uses as language tokens.
NLLB_CODES: dict[str, str] = {
    "af": "afr_Latn",
    "am": "amh_Ethi",
    "ar": "arb_Arab",
    "as": "asm_Beng",
    "az": "azj_Latn",
    "be": "bel_Cyrl",
    "bg": "bul_Cyrl",
    "bn": "ben_Beng",
    "bo": "bod_Tibt",
    "bs": "bos_Latn",
    "ca": "cat_Latn",
    "cs": "ces_Latn",
    "cy": "cym_Latn",
    "da": "dan_Latn",
    "de": "deu_Latn",
    "el": "ell_Grek",
    "en": "eng_Latn",
    "eo": "epo_Latn",
    "es": "spa_Latn",
    "et": "est_Latn",
    "eu": "eus_Latn",
    "fa": "pes_Arab",
    "fi": "fin_Latn",
    "fr": "fra_Latn",
    "ga": "gle_Latn",
    "gd": "gla_Latn",
    "gl": "glg_Latn",
    "gu": "guj_Gujr",
    "ha": "hau_Latn",
    "he": "heb_Hebr",
    "hi": "hin_Deva",
    "hr": "hrv_Latn",
    "ht": "hat_Latn",
    "hu": "hun_Latn",
    "hy": "hye_Armn",
    "id": "ind_Latn",
    "ig": "ibo_Latn",
    "is": "isl_Latn",
    "it": "ita_Latn",
    "ja": "jpn_Jpan",
    "jv": "jav_Latn",
    "ka": "kat_Geor",
    "kk": "kaz_Cyrl",
    "km": "khm_Khmr",
    "kn": "kan_Knda",
    "ko": "kor_Hang",
    "ky": "kir_Cyrl",
    "lb": "ltz_Latn",
    "lo": "lao_Laoo",
    "lt": "lit_Latn",
    "lv": "lvs_Latn",
    "mk": "mkd_Cyrl",
    "ml": "mal_Mlym",
    "mn": "khk_Cyrl",
    "mr": "mar_Deva",
    "ms": "zsm_Latn",
    "mt": "mlt_Latn",
    "my": "mya_Mymr",
    "ne": "npi_Deva",
    "nl": "nld_Latn",
    "nb": "nob_Latn",
    "nn": "nno_Latn",
    "no": "nob_Latn",
    "pa": "pan_Guru",
    "pl": "pol_Latn",
    "ps": "pbt_Arab",
    "pt": "por_Latn",
    "ro": "ron_Latn",
    "ru": "rus_Cyrl",
    "si": "sin_Sinh",
    "sk": "slk_Latn",
    "sl": "slv_Latn",
    "so": "som_Latn",
    "sq": "als_Latn",
    "sr": "srp_Cyrl",
    "sv": "swe_Latn",
    "sw": "swh_Latn",
    "ta": "tam_Taml",
    "te": "tel_Telu",
    "tg": "tgk_Cyrl",
    "th": "tha_Thai",
    "tl": "tgl_Latn",
    "tr": "tur_Latn",
    "uk": "ukr_Cyrl",
    "ur": "urd_Arab",
    "uz": "uzn_Latn",
    "vi": "vie_Latn",
    "xh": "xho_Latn",
    "yo": "yor_Latn",
    "zh": "zho_Hans",
    "zh-cn": "zho_Hans",
    "zh-hans": "zho_Hans",
    "zh-tw": "zho_Hant",
    "zh-hk": "zho_Hant",
    "zh-hant": "zho_Hant",
    "zu": "zul_Latn",
}

# The 100 languages of M2M100 (transformers' FAIRSEQ_LANGUAGE_CODES["m2m100"]), copied so that
# checking a code does not import transformers.
# fmt: off
M2M100_LANGS = frozenset({
    "af", "am", "ar", "ast", "az", "ba", "be", "bg", "bn", "br", "bs", "ca", "ceb", "cs", "cy",
    "da", "de", "el", "en", "es", "et", "fa", "ff", "fi", "fr", "fy", "ga", "gd", "gl", "gu",
    "ha", "he", "hi", "hr", "ht", "hu", "hy", "id", "ig", "ilo", "is", "it", "ja", "jv", "ka",
    "kk", "km", "kn", "ko", "lb", "lg", "ln", "lo", "lt", "lv", "mg", "mk", "ml", "mn", "mr",
    "ms", "my", "ne", "nl", "no", "ns", "oc", "or", "pa", "pl", "ps", "pt", "ro", "ru", "sd",
    "si", "sk", "sl", "so", "sq", "sr", "ss", "su", "sv", "sw", "ta", "th", "tl", "tn", "tr",
    "uk", "ur", "uz", "vi", "wo", "xh", "yi", "yo", "zh", "zu",
})
# fmt: on

_NLLB_RE = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")
_MARIAN_RE = re.compile(r"^[a-z]{2,3}(?:_[a-z]{2,4})?$")
_OPUS_PAIR_RE = re.compile(r"opus-mt-(?:tc-big-)?([a-z]{2})-([a-z]{2})$")
_NO_SPACE_LANGS = frozenset({"zh", "ja", "yue", "zho_Hans", "zho_Hant", "jpn_Jpan", "yue_Hant"})


def model_code(family: str, lang: str) -> str:
    """A plain ISO code as the model family spells it.

    M2M100 uses ISO 639-1 (``de``), NLLB FLORES-200 codes (``deu_Latn``), and Marian models put the
    code in the per-pair model name (``opus-mt-en-de``). Region tags fall back to the language
    (``pt-BR`` -> ``pt``) except where NLLB has a separate script (``zh-TW`` -> ``zho_Hant``).
    """
    if family not in FAMILIES:
        raise XlirError(
            f"unknown translation model family {family!r} (one of {', '.join(FAMILIES)})"
        )
    raw = str(lang).strip()
    key = raw.lower().replace("_", "-")
    base = key.split("-")[0]
    if family == "nllb":
        if _NLLB_RE.match(raw):
            return raw
        code = NLLB_CODES.get(key) or NLLB_CODES.get(base)
        if code:
            return code
    elif family == "m2m100":
        for k in (key, base):
            if k in M2M100_LANGS:
                return k
    else:
        marian = key.replace("-", "_")
        if _MARIAN_RE.match(marian):
            return marian
    raise XlirError(f"language {lang!r} is not known to {family} translation models")


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _is_template(spec: str) -> bool:
    return "{src}" in spec or "{tgt}" in spec


def _format_template(spec: str, src: str, tgt: str) -> str:
    # str.replace, not str.format: other braces in a path must not be read as fields.
    return spec.replace("{src}", src).replace("{tgt}", tgt)


def _split_revision(spec: str) -> tuple[str, str | None]:
    """``org/name@rev`` -> (``org/name``, ``rev``) for hub names; folders never carry one."""
    if "@" in spec and not _looks_like_path(spec):
        name, rev = spec.rsplit("@", 1)
        if name and rev:
            return name, rev
    return spec, None


def _model_folder(spec: str) -> Path:
    path = Path(spec).expanduser()
    if not path.exists():
        raise ModelError("no such model folder", path=spec)
    if not path.is_dir():
        raise ModelError("a model must be a folder, not a file", path=spec)
    if not (path / "config.json").exists():
        raise ModelError("not a Hugging Face model folder (no config.json)", path=spec)
    return path.resolve()


def spec_fingerprint(spec: str) -> str:
    """The identity of one model spec without loading it: a folder's content fingerprint, or the
    hub name (with ``@revision`` when given). Cached translations are keyed by it."""
    if _looks_like_path(spec):
        return model_fingerprint(_model_folder(spec))
    name, rev = _split_revision(spec)
    return f"{name}@{rev}" if rev else name


# --------------------------------------------------------------------------------------------
# Loading models


@dataclass
class _Model:
    """One loaded seq2seq model with its tokenizer (for Marian templates: one language pair)."""

    spec: str
    family: str
    model: Any
    tokenizer: Any
    fingerprint: str
    device: str

    def lang_id(self, code: str) -> int | None:
        """The token id of a language code in this model's tokenizer, None if it has none."""
        tok = self.tokenizer
        if self.family == "m2m100":
            table = getattr(tok, "lang_code_to_id", None)
            if table is not None:
                return table.get(code)
            token_id = tok.convert_tokens_to_ids(f"__{code}__")
        else:
            token_id = tok.convert_tokens_to_ids(code)
        if token_id is None or token_id == tok.unk_token_id:
            return None
        return int(token_id)


def _is_nllb_tokenizer(tokenizer: Any) -> bool:
    """NLLB checkpoints are M2M100 models; only the tokenizer tells them apart."""
    if type(tokenizer).__name__.startswith("Nllb"):
        return True
    try:
        return "eng_Latn" in tokenizer.get_vocab()
    except Exception:  # pragma: no cover - exotic tokenizers
        return False


def _load_from(
    source: str, spec: str, *, local_files_only: bool, revision: str | None, device: str | None
) -> tuple[str, Any, Any, str]:
    """Load config, tokenizer and model from ``source``; return (family, model, tokenizer, dev)."""
    import logging
    import warnings

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.getLogger("transformers").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # e.g. MarianTokenizer: "Recommended: pip install sacremoses"
        import torch
        import transformers
        from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        common: dict[str, Any] = {
            "local_files_only": local_files_only,
            "trust_remote_code": False,
        }
        if revision:
            common["revision"] = revision
        config = AutoConfig.from_pretrained(source, **common)
        model_type = getattr(config, "model_type", None) or "unknown"
        if model_type not in ("marian", "m2m_100"):
            raise ModelError(
                f"{spec} is not a translation model (model type {model_type}; "
                "M2M100, NLLB or MarianMT)"
            )
        tokenizer = AutoTokenizer.from_pretrained(source, **common)
        if model_type == "marian":
            family = "marian"
        else:
            family = "nllb" if _is_nllb_tokenizer(tokenizer) else "m2m100"
        model = AutoModelForSeq2SeqLM.from_pretrained(source, **common)
        dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
        model.to(dev)
        model.eval()
    return family, model, tokenizer, dev


def _load_model(spec: str, device: str | None) -> _Model:
    """Load a folder or hub name; a hub name not cached locally fails fast when offline.

    The local Hugging Face cache is always tried first with ``local_files_only`` (which is what
    ``HF_HUB_OFFLINE`` needs); the network only after a quick probe, like the encoders do.
    """
    if _looks_like_path(spec):
        folder = _model_folder(spec)
        try:
            family, model, tok, dev = _load_from(
                str(folder), spec, local_files_only=True, revision=None, device=device
            )
        except ModelError:
            raise
        except Exception as e:
            raise ModelError(f"cannot load model: {_first_line(e)}", path=spec) from None
        return _Model(spec, family, model, tok, model_fingerprint(folder), dev)
    name, revision = _split_revision(spec)
    try:
        family, model, tok, dev = _load_from(
            name, spec, local_files_only=True, revision=revision, device=device
        )
    except ModelError:
        raise
    except Exception:
        ok, why = _hub_reachable()
        if not ok:
            raise ModelError(
                f"cannot download model {spec!r}: {why}; pass a local model folder, or download "
                "it on a machine with internet and copy the folder here"
            ) from None
        try:
            family, model, tok, dev = _load_from(
                name, spec, local_files_only=False, revision=revision, device=device
            )
        except ModelError:
            raise
        except Exception as e:
            raise ModelError(f"cannot load model {spec!r}: {_first_line(e)}") from None
    return _Model(spec, family, model, tok, spec_fingerprint(spec), dev)


# --------------------------------------------------------------------------------------------
# The translation cache


class TranslationCache:
    """Translations on disk for one (model, language pair, decoding settings), keyed by text.

    Parquet shards with ``key`` (128-bit blake2b of the source text) and ``text`` (the
    translation), never pickle. Each shard is written under a temporary name and renamed, so a
    crash leaves no half shard; a damaged shard is skipped (it only costs re-translating).
    """

    MAX_SHARDS = 16

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._rows: dict[str, str] | None = None

    @staticmethod
    def key(text: str) -> str:
        return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()

    def _load(self) -> dict[str, str]:
        if self._rows is not None:
            return self._rows
        rows: dict[str, str] = {}
        if self.folder.is_dir():
            from ..storage.files import mark_used

            mark_used(self.folder)
            for shard in sorted(self.folder.glob("*.parquet")):
                try:
                    frame = pl.read_parquet(shard, columns=["key", "text"])
                    if frame.schema["key"] != pl.String or frame.schema["text"] != pl.String:
                        continue
                    rows.update(zip(frame["key"].to_list(), frame["text"].to_list(), strict=True))
                except Exception:
                    continue  # a damaged shard only costs re-translating
        self._rows = rows
        return rows

    def get(self, text: str) -> str | None:
        return self._load().get(self.key(text))

    def add(self, translations: dict[str, str]) -> None:
        """Store source text -> translation as one new shard; merge when shards pile up."""
        if not translations:
            return
        rows = self._load()
        fresh = {self.key(s): t for s, t in translations.items()}
        fresh = {k: t for k, t in fresh.items() if rows.get(k) != t}
        if not fresh:
            return
        rows.update(fresh)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            shards = sorted(self.folder.glob("*.parquet"))
            if len(shards) >= self.MAX_SHARDS:
                self._write(rows)
                for s in shards:
                    s.unlink(missing_ok=True)
            else:
                self._write(fresh)
        except OSError:
            pass  # a read-only cache folder only costs speed

    def _write(self, rows: dict[str, str]) -> None:
        frame = pl.DataFrame(
            {
                "key": pl.Series(list(rows), dtype=pl.String),
                "text": pl.Series(list(rows.values()), dtype=pl.String),
            }
        )
        name = uuid.uuid4().hex
        tmp = self.folder / f".{name}.tmp"
        try:
            frame.write_parquet(tmp)
            tmp.rename(self.folder / f"{name}.parquet")
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


# --------------------------------------------------------------------------------------------
# The translator


class Translator:
    """A seq2seq translation model (M2M100, NLLB, MarianMT) by hub name or local folder.

    MarianMT models translate one language pair each. A Marian ``spec`` may therefore be a
    template with ``{src}`` and ``{tgt}`` (``Helsinki-NLP/opus-mt-{src}-{tgt}``,
    ``/models/opus-mt-{src}-{tgt}``): each pair's model is loaded on first use and kept. A Marian
    spec without placeholders is a single pair, and :meth:`translate` cannot know which: it only
    refuses when the name says ``opus-mt-xx-yy`` and the pair asked for is another one.
    """

    def __init__(
        self,
        spec: str,
        family: str,
        fingerprint: str,
        *,
        batch_size: int = 16,
        max_length: int = 256,
        num_beams: int = 1,
        device: str | None = None,
        model: _Model | None = None,
        use_cache: bool = True,
    ) -> None:
        self.name = spec
        self.family = family
        self.fingerprint = fingerprint
        self.batch_size = batch_size
        self.max_length = max_length
        self.num_beams = num_beams
        self.device = device
        self.use_cache = use_cache
        self.cache_hits = 0
        """Distinct texts found in the cache, cumulative over this translator's life."""
        self.cache_misses = 0
        """Distinct texts the model had to translate, cumulative."""
        self._model = model
        self._pairs: dict[tuple[str, str], _Model] = {}
        self._fingerprints: dict[tuple[str, str], str] = {}
        self._caches: dict[str, TranslationCache] = {}

    @property
    def is_template(self) -> bool:
        """Whether the spec names one Marian model per pair (``{src}``/``{tgt}``)."""
        return _is_template(self.name)

    @classmethod
    def load(
        cls,
        spec: str,
        *,
        batch_size: int = 16,
        max_length: int = 256,
        num_beams: int = 1,
        device: str | None = None,
        use_cache: bool = True,
    ) -> Translator:
        """Load ``spec`` (a folder, a hub name, or a Marian template) and detect its family.

        A template is not loaded here: its unformatted name names no model, and only the pairs a
        run needs should be loaded.
        """
        for field_name, value in (
            ("batch size", batch_size),
            ("max length", max_length),
            ("number of beams", num_beams),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise XlirError(f"{field_name} must be a positive integer, not {value!r}")
        spec = str(spec).strip()
        if not spec:
            raise ModelError("no translation model given")
        options: dict[str, Any] = {
            "batch_size": batch_size,
            "max_length": max_length,
            "num_beams": num_beams,
            "device": device,
            "use_cache": use_cache,
        }
        if _is_template(spec):
            if "{src}" not in spec or "{tgt}" not in spec:
                raise ModelError(
                    f"model template {spec!r} needs both {{src}} and {{tgt}} "
                    "(like Helsinki-NLP/opus-mt-{src}-{tgt})"
                )
            return cls(spec, "marian", text_digest("marian-template", spec), **options)
        loaded = _load_model(spec, device)
        return cls(spec, loaded.family, loaded.fingerprint, model=loaded, **options)

    # -- pairs ----------------------------------------------------------------------------

    def pair_spec(self, src: str, tgt: str) -> str:
        """The model that translates ``src`` -> ``tgt`` (the spec itself unless a template)."""
        if not self.is_template:
            return self.name
        return _format_template(
            self.name, model_code(self.family, src), model_code(self.family, tgt)
        )

    def pair_fingerprint(self, src: str, tgt: str) -> str:
        """The fingerprint of the weights that translate ``src`` -> ``tgt``.

        For a template this is the pair folder's fingerprint (or its hub name), computed without
        loading the model, so a fully cached pair never loads it.
        """
        if not self.is_template:
            return self.fingerprint
        key = (src, tgt)
        if key not in self._fingerprints:
            loaded = self._pairs.get(key)
            self._fingerprints[key] = (
                loaded.fingerprint if loaded else spec_fingerprint(self.pair_spec(src, tgt))
            )
        return self._fingerprints[key]

    def _pair_model(self, src: str, tgt: str) -> _Model:
        if not self.is_template:
            assert self._model is not None
            return self._model
        key = (src, tgt)
        if key not in self._pairs:
            spec = self.pair_spec(src, tgt)
            loaded = _load_model(spec, self.device)
            if loaded.family != "marian":
                raise ModelError(
                    f"{spec} is a {loaded.family} model; a {{src}}/{{tgt}} template must name "
                    "MarianMT models"
                )
            self._pairs[key] = loaded
            self._fingerprints[key] = loaded.fingerprint
        return self._pairs[key]

    def check(self, src: str, tgt: str) -> None:
        """Raise unless this translator can translate ``src`` -> ``tgt``.

        Loads a template's pair model, and checks that the tokenizer has both language codes, so
        a run fails before any work rather than after an hour.
        """
        if src == tgt:
            return
        codes = (model_code(self.family, src), model_code(self.family, tgt))
        pair = self._pair_model(src, tgt)
        if self.family == "marian":
            if not self.is_template:
                m = _OPUS_PAIR_RE.search(self.name.rstrip("/\\"))
                if m and (m.group(1), m.group(2)) != codes:
                    raise ModelError(
                        f"{self.name} translates {m.group(1)} to {m.group(2)}, not {src} to {tgt} "
                        "(give a template like opus-mt-{src}-{tgt} for several pairs)"
                    )
            return
        for lang, code in zip((src, tgt), codes, strict=True):
            if pair.lang_id(code) is None:
                raise XlirError(
                    f"language {lang} ({code}) is not known to translation model {self.name}"
                )

    def cache_for(self, src: str, tgt: str) -> TranslationCache:
        """The on-disk cache of one pair under the current decoding settings."""
        key = text_digest(
            self.pair_fingerprint(src, tgt),
            src,
            tgt,
            f"beams={self.num_beams}",
            f"max_length={self.max_length}",
        )
        if key not in self._caches:
            self._caches[key] = TranslationCache(cache_root() / "translations" / key)
        return self._caches[key]

    # -- translating ----------------------------------------------------------------------

    def translate(
        self,
        texts: Sequence[str],
        src: str,
        tgt: str,
        progress: Progress | None = None,
    ) -> list[str]:
        """Translate ``texts`` from ``src`` to ``tgt`` (plain ISO codes), in input order.

        Identical texts are translated once, empty ones give ``""`` without the model, cached
        ones come from disk; the rest run longest first in batches of ``batch_size`` so each batch
        pads little. ``src == tgt`` returns the texts unchanged.
        """
        texts = list(texts)
        n = len(texts)
        if src == tgt:
            if progress:
                progress(n, n)
            return texts
        model_code(self.family, src)
        model_code(self.family, tgt)
        out = [""] * n
        positions: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}] is {type(text).__name__}, not str")
            if text.strip():
                positions.setdefault(text, []).append(i)
        done = n - sum(len(p) for p in positions.values())
        todo: list[str] = []
        cache = self.cache_for(src, tgt) if self.use_cache and positions else None
        for text, where in positions.items():
            hit = cache.get(text) if cache is not None else None
            if hit is None:
                todo.append(text)
                continue
            for i in where:
                out[i] = hit
            done += len(where)
            self.cache_hits += 1
        self.cache_misses += len(todo)
        if progress:
            progress(done, n)
        if not todo:
            return out
        self.check(src, tgt)
        pair = self._pair_model(src, tgt)
        src_code, tgt_code = model_code(self.family, src), model_code(self.family, tgt)
        todo.sort(key=len, reverse=True)  # stable: equal lengths keep first-seen order
        fresh: dict[str, str] = {}
        for start in range(0, len(todo), self.batch_size):
            batch = todo[start : start + self.batch_size]
            result = self._generate(pair, batch, src_code, tgt_code)
            if len(result) != len(batch):  # pragma: no cover - a broken model
                raise ModelError(f"{self.name} returned {len(result)} outputs for {len(batch)}")
            for text, translation in zip(batch, result, strict=True):
                for i in positions[text]:
                    out[i] = translation
                done += len(positions[text])
                fresh[text] = translation
            if cache is not None and len(fresh) >= 256:
                cache.add(fresh)  # bound the work a crash in a long call can lose
                fresh = {}
            if progress:
                progress(done, n)
        if cache is not None:
            cache.add(fresh)
        return out

    def _generate(self, pair: _Model, batch: list[str], src_code: str, tgt_code: str) -> list[str]:
        """One batch through the model: greedy or beam search, no sampling."""
        import torch

        tok = pair.tokenizer
        kwargs: dict[str, Any] = {}
        if pair.family in ("m2m100", "nllb"):
            tok.src_lang = src_code
            # M2M100 and NLLB start the output with the target language token; forcing it is
            # what selects the target language.
            kwargs["forced_bos_token_id"] = pair.lang_id(tgt_code)
        enc = tok(
            batch,
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=self.max_length,
        )
        enc = {k: v.to(pair.device) for k, v in enc.items()}
        with torch.inference_mode():
            ids = pair.model.generate(
                **enc,
                max_new_tokens=self.max_length,
                num_beams=self.num_beams,
                do_sample=False,
                **kwargs,
            )
        return [t.strip() for t in tok.batch_decode(ids, skip_special_tokens=True)]


def translate_queries(
    translator: Any,
    texts: Sequence[str],
    langs: Sequence[str],
    pivot: str,
    stage: Callable[[str], Progress | None] | None = None,
) -> list[str]:
    """``texts`` (each in its language of ``langs``) translated into ``pivot``, one batch per
    source language; texts already in ``pivot`` stay as they are."""
    out = list(texts)
    by_lang: dict[str, list[int]] = {}
    for i, lang in enumerate(langs):
        if lang != pivot:
            by_lang.setdefault(lang, []).append(i)
    for lang, rows in sorted(by_lang.items()):
        step = stage(f"translating {lang} queries to {pivot}") if stage else None
        done = translator.translate([texts[i] for i in rows], lang, pivot, progress=step)
        for i, text in zip(rows, done, strict=True):
            out[i] = text
    return out


PARALLEL = "parallel"
"""``--mt parallel``: translate-test with the collection's own human translations."""


class ParallelQuestions:
    """A perfect translator for a parallel collection: each question becomes the question with
    the same ``qid`` in language ``to``, as the collection's translators wrote it.

    XQuAD's questions are professional translations of one another, so scoring each question
    by its own English version measures translate-test with no translation error at all: the
    ceiling any machine translation model can reach on that collection (``bias-report
    --translate-query en --mt parallel``). It replaces the collection's questions, and only
    those: free text (``search``, the explorer) has no parallel question.

    The mapping goes by row, not by text: XQuAD-R has identical questions in one language with
    different ``qid`` and different English versions (37 of them), which a text lookup would
    confuse. A list of queries that is not the scored collection's questions in order is looked
    up by text, and refused where the text is unknown or ambiguous.
    """

    name = PARALLEL
    family = PARALLEL

    def __init__(
        self, rows: Sequence[tuple[str, str, str]], target: dict[str, str], to: str
    ) -> None:
        self.rows = list(rows)
        """(lang, text, qid) of every question scored, in collection order."""
        self.target = target
        """qid -> its question in ``to``."""
        self.to = to
        self._texts = [text for _, text, _ in self.rows]
        self._langs = [lang for lang, _, _ in self.rows]
        self._by_text: dict[tuple[str, str], set[str]] = {}
        for lang, text, qid in self.rows:
            self._by_text.setdefault((lang, text), set()).add(target[qid])

    @classmethod
    def of(
        cls, collection: Collection, to: str, scored: Collection | None = None
    ) -> ParallelQuestions:
        """The translations of ``scored``'s questions (default: ``collection``'s) into ``to``,
        taken from ``collection`` (which may hold languages ``scored`` leaves out, as with
        ``--langs``). Refused in one line when ``collection`` has no question in ``to``, or when
        a scored question id has no ``to`` version: replacing only some questions would not
        measure the ceiling, and scoring fewer questions than the plain system would leave
        the two without a paired comparison."""
        scored = scored if scored is not None else collection
        questions = collection.questions
        target = dict(questions.filter(pl.col("lang") == to).select("qid", "text").iter_rows())
        if not target:
            raise XlirError(
                f"--mt parallel: collection {collection.name} has no {to} questions (it has "
                f"{', '.join(collection.languages) or 'none'}): there is no parallel question to "
                "search with"
            )
        qids = scored.questions["qid"].unique().sort().to_list()
        missing = [q for q in qids if q not in target]
        if missing:
            raise XlirError(
                f"--mt parallel: {len(missing)} of {len(qids)} question ids of "
                f"{collection.name} have no {to} question (e.g. {missing[0]}); the "
                f"translate-test ceiling needs each question's own {to} version (choose a "
                "--translate-query language every question has)"
            )
        rows = scored.questions.select("lang", "text", "qid").rows()
        return cls(rows, target, to)

    def translate_questions(self, texts: Sequence[str], langs: Sequence[str | None]) -> list[str]:
        """Each question's ``to`` version (questions in ``to`` stay as they are)."""
        texts, langs = list(texts), list(langs)
        if texts == self._texts and langs == self._langs:
            return [text if lang == self.to else self.target[qid] for lang, text, qid in self.rows]
        out = []
        for text, lang in zip(texts, langs, strict=True):
            found = self._by_text.get((lang or "", text), set())
            if lang == self.to:
                out.append(text)
            elif len(found) == 1:
                out.append(next(iter(found)))
            else:
                why = "is not a question of the collection" if not found else "is ambiguous"
                raise XlirError(
                    f"--mt parallel: the query {text[:60]!r} ({lang}) {why}: parallel "
                    "translations exist only for the collection's own questions"
                )
        return out


# --------------------------------------------------------------------------------------------
# Translating a collection


@dataclass(frozen=True)
class _Item:
    """One source question with its answer sentence (and that sentence's paragraph)."""

    qid: str
    question: str
    passage: str
    context: str
    sentences: tuple[str, ...]  # the paragraph's sentences, in order


def _source_items(
    collection: Collection, source: str, paragraphs: bool
) -> tuple[list[_Item], list[str]]:
    """The source-language questions with their answer sentences, in collection order; plus the
    qids of questions with no answer sentence in the source language (they cannot be kept)."""
    questions = collection.questions.filter(pl.col("lang") == source)
    if questions.is_empty():
        raise XlirError(
            f"collection {collection.name} has no questions in {source} "
            f"(it has {', '.join(collection.languages) or 'none'})"
        )
    candidates = collection.candidates.filter(pl.col("lang") == source)
    answer_of: dict[str, str] = {}  # question id -> its answer sentence in the source language
    for question_id, cid in (
        collection.relevance.filter(pl.col("candidate_id").is_in(candidates["id"].implode()))
        .sort("candidate_id")
        .iter_rows()
    ):
        answer_of.setdefault(question_id, cid)
    by_id = {row["id"]: row for row in candidates.iter_rows(named=True)}
    sentences: dict[str, tuple[str, ...]] = {}
    if paragraphs:
        ordered = candidates.sort("paragraph_id", "sentence_index")
        grouped: dict[str, list[str]] = {}
        for pid, text in ordered.select("paragraph_id", "text").iter_rows():
            grouped.setdefault(pid, []).append(text)
        sentences = {pid: tuple(texts) for pid, texts in grouped.items()}
    items: list[_Item] = []
    skipped: list[str] = []
    for qid, text, question_id in questions.select("qid", "text", "id").iter_rows():
        cid = answer_of.get(question_id)
        if cid is None:
            skipped.append(qid)
            continue
        cand = by_id[cid]
        context = (cand["context"] or cand["text"]) if paragraphs else ""
        items.append(
            _Item(
                qid=qid,
                question=text,
                passage=cand["text"],
                context=context,
                sentences=sentences.get(cand["paragraph_id"], (cand["text"],)),
            )
        )
    if not items:
        raise XlirError(
            f"collection {collection.name}: no {source} question has an answer sentence in {source}"
        )
    return items, skipped


def _items_digest(items: list[_Item], paragraphs: bool) -> str:
    parts: list[str] = []
    for it in items:
        parts += [it.qid, it.question, it.passage]
        if paragraphs:
            parts += [it.context, *it.sentences]
    return text_digest(*parts)


def _join_sentences(sentences: Sequence[str], lang: str) -> str:
    sep = "" if lang in _NO_SPACE_LANGS or lang.split("-")[0] in _NO_SPACE_LANGS else " "
    return sep.join(s.strip() for s in sentences if s.strip())


def _read_part(path: Path, wanted: set[str], lang: str) -> tuple[dict[str, dict[str, Any]], bool]:
    """Complete, valid rows of a ``.part`` (or finished) file by qid; and whether any were dropped.

    A crash can cut the last line (even inside a UTF-8 character), so only lines that end with a
    newline and parse are kept.
    """
    rows: dict[str, dict[str, Any]] = {}
    dropped = False
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return rows, False
    lines = data.split(b"\n")
    if lines[-1]:
        dropped = True  # a truncated last line
    for raw in lines[:-1]:
        if not raw.strip():
            continue
        try:
            row = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            dropped = True
            continue
        ok = (
            isinstance(row, dict)
            and row.get("lang") == lang
            and row.get("qid") in wanted
            and row.get("qid") not in rows
            and all(isinstance(row.get(k), str) and row[k].strip() for k in ("question", "passage"))
        )
        if not ok:
            dropped = True
            continue
        rows[row["qid"]] = row
    return rows, dropped


def _row_line(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False) + "\n"


def _append_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    """Append rows and make them durable: after this returns, a crash keeps them."""
    if not rows:
        return
    with path.open("a", encoding="utf-8") as f:
        f.write("".join(_row_line(r) for r in rows))
        f.flush()
        os.fsync(f.fileno())


def check_out(out: Path, overwrite: bool, inputs: Sequence[str | Path] = ()) -> str:
    """What ``translate`` will do with ``out``: ``new`` (absent or empty), ``resume`` (an
    unfinished translation) or ``replace`` (a finished output of this tool, with ``overwrite``).

    Needs no model, so the command runs it before one loads. The output is never one of the
    ``inputs`` (the collection), never a link, a file or a folder of someone else's; an
    unfinished translation written before outputs carried a marker is still resumed (resuming
    deletes nothing), but never replaced.
    """
    out = Path(out)
    check_apart(out, inputs)
    found = ownership(out)
    if found.state in ("absent", "empty"):
        return "new"
    unfinished = (out / SETTINGS_NAME).is_file() and not (out / SUMMARY_NAME).exists()
    if found.state == "foreign" and unfinished and not overwrite:
        try:
            settings = json.loads((out / SETTINGS_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            settings = None
        if isinstance(settings, dict) and settings.get("format") == f"{SUMMARY_FORMAT}-run":
            return "resume"
    if found.state == "ours" and unfinished and not overwrite:
        return "resume"
    check_replaceable(out, overwrite)
    return "replace"


def _prepare_out(
    out: Path, settings: dict[str, Any], overwrite: bool, inputs: Sequence[str | Path] = ()
) -> bool:
    """Make ``out`` ready for this run; return whether an unfinished run is resumed."""
    settings_file = out / SETTINGS_NAME
    plan = check_out(out, overwrite, inputs)
    if plan == "resume":
        try:
            old = json.loads(settings_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = None
        if not isinstance(old, dict):
            raise XlirError(
                f"unreadable {SETTINGS_NAME} (pass --overwrite to start over)", path=out
            )
        differ = [k for k in settings if old.get(k) != settings[k]]
        if differ:
            what = ", ".join(f"{k} {old.get(k)!r} -> {settings[k]!r}" for k in differ)
            raise XlirError(
                "output folder holds an unfinished translation with other settings "
                f"({what}); pass --overwrite to start over or use the same settings",
                path=out,
            )
        return True
    if plan == "replace":
        remove_own_output(out)
    out.mkdir(parents=True, exist_ok=True)
    write_marker(out, "translate")
    write_json(settings_file, {**settings, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    return False


def translate_collection(
    collection: Collection,
    translator: Translator,
    targets: Sequence[str],
    out: Path,
    *,
    source: str = "en",
    paragraphs: bool = False,
    overwrite: bool = False,
    chunk: int = 64,
    progress: StageProgress | None = None,
) -> dict[str, Any]:
    """Translate a collection's ``source`` questions and answer sentences into ``targets``.

    Writes ``out/<lang>.jsonl`` rows (``qid, lang, question, passage`` and, with ``paragraphs``,
    ``context``) for the source language and every target, so ``out`` loads as a parallel
    collection whose questions share qids (LAReQA relevance across languages). Without
    ``paragraphs`` rows carry no context: each answer sentence is its own paragraph. With it,
    the answer's paragraph is translated sentence by sentence (what MT models are trained on, and
    nothing is cut at ``max_length``), so the translated answer is part of its translated context.

    Resumable: rows go to ``<lang>.jsonl.part`` with an fsync per ``chunk`` questions; a rerun with
    the same settings skips finished questions. The summary, also returned, is written last as
    ``out/translate.manifest``.
    """
    started = time.perf_counter()
    out = Path(out)
    if isinstance(targets, str):
        targets = [t for t in targets.split(",") if t.strip()]
    targets = list(dict.fromkeys(t.strip() for t in targets))
    if not targets:
        raise XlirError("no target language given")
    if not isinstance(chunk, int) or chunk < 1:
        raise XlirError(f"chunk must be a positive integer, not {chunk!r}")
    if source in targets:
        raise XlirError(f"target language {source} is the source language")
    # Every check before any work: a typo in the last target must not cost the first ones' hours.
    model_code(translator.family, source)
    for t in targets:
        model_code(translator.family, t)
    for t in targets:
        translator.check(source, t)
    items, skipped = _source_items(collection, source, paragraphs)
    settings = {
        "format": f"{SUMMARY_FORMAT}-run",
        "format_version": FORMAT_VERSION,
        "family": translator.family,
        "fingerprints": {t: translator.pair_fingerprint(source, t) for t in targets},
        "source": source,
        "targets": targets,
        "paragraphs": paragraphs,
        "num_beams": translator.num_beams,
        "max_length": translator.max_length,
        "questions": _items_digest(items, paragraphs),
    }
    resumed = _prepare_out(out, settings, overwrite, collection.sources)
    wanted = {it.qid for it in items}
    order = {it.qid: i for i, it in enumerate(items)}
    languages = [source, *targets]

    def part_of(lang: str) -> Path:
        return out / f"{lang}.jsonl.part"

    done: dict[str, dict[str, dict[str, Any]]] = {}
    for lang in languages:
        part, final = part_of(lang), out / f"{lang}.jsonl"
        if not part.exists() and final.exists():
            final.rename(part)  # a crash while finishing: take it back as unfinished
        rows, dropped = _read_part(part, wanted, lang)
        if dropped:
            atomic_write_text(part, "".join(_row_line(r) for r in rows.values()))
        done[lang] = rows

    def row_of(it: _Item, lang: str, question: str, passage: str, context: str) -> dict[str, Any]:
        row: dict[str, Any] = {
            "qid": it.qid,
            "lang": lang,
            "question": question,
            "passage": passage,
        }
        if paragraphs:
            row["context"] = context
        return row

    pending_source = [it for it in items if it.qid not in done[source]]
    _append_rows(
        part_of(source),
        [row_of(it, source, it.question, it.passage, it.context) for it in pending_source],
    )
    hits0, misses0 = translator.cache_hits, translator.cache_misses
    translated: dict[str, int] = {}
    empty: dict[str, list[str]] = {}
    for tgt in targets:
        pending = [it for it in items if it.qid not in done[tgt]]
        total = len(items)
        finished = total - len(pending)
        translated[tgt] = 0
        if progress:
            progress(tgt, finished, total)
        for start in range(0, len(pending), chunk):
            part_items = pending[start : start + chunk]
            texts: list[str] = []
            for it in part_items:
                texts += [it.question, it.passage]
                if paragraphs:
                    texts += list(it.sentences)
            texts = list(dict.fromkeys(texts))
            result = dict(zip(texts, translator.translate(texts, source, tgt), strict=True))
            translated[tgt] += sum(1 for t in texts if t.strip())
            rows = []
            for it in part_items:
                question, passage = result[it.question], result[it.passage]
                context = _join_sentences([result[s] for s in it.sentences], tgt)
                if not question.strip() or not passage.strip() or (paragraphs and not context):
                    # The loader refuses empty fields; such a question is left out and reported.
                    empty.setdefault(tgt, []).append(it.qid)
                    continue
                rows.append(row_of(it, tgt, question, passage, context))
            _append_rows(part_of(tgt), rows)
            finished += len(part_items)
            if progress:
                progress(tgt, finished, total)

    # Finish: each language's rows in collection order (so a resumed run writes the same bytes
    # as an uninterrupted one), the .part files replaced, and the summary last.
    counts: dict[str, int] = {}
    files: list[str] = []
    for lang in languages:
        rows, _ = _read_part(part_of(lang), wanted, lang)
        ordered = sorted(rows.values(), key=lambda r: order[r["qid"]])
        counts[lang] = len(ordered)
        if ordered:  # an empty file would make the folder unloadable
            atomic_write_text(out / f"{lang}.jsonl", "".join(_row_line(r) for r in ordered))
            files.append(f"{lang}.jsonl")
        part_of(lang).unlink(missing_ok=True)
    summary = {
        "format": SUMMARY_FORMAT,
        "format_version": FORMAT_VERSION,
        "mt": translator.name,
        "family": translator.family,
        "fingerprint": translator.fingerprint,
        "fingerprints": settings["fingerprints"],
        "source": source,
        "targets": targets,
        "paragraphs": paragraphs,
        "num_beams": translator.num_beams,
        "max_length": translator.max_length,
        "collection": collection.name,
        "collection_fingerprint": collection.fingerprint,
        "questions": counts,
        "skipped_no_answer": skipped,
        "empty_translations": empty,
        "translated_texts": translated,
        "cache_hits": translator.cache_hits - hits0,
        "cache_misses": translator.cache_misses - misses0,
        "resumed": resumed,
        "seconds": round(time.perf_counter() - started, 3),
        "files": files,
    }
    write_json(out / SUMMARY_NAME, summary)
    with contextlib.suppress(OSError):
        (out / SETTINGS_NAME).unlink()
    return summary
