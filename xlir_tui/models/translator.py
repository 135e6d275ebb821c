"""Machine translation models: M2M100, NLLB and MarianMT, by hub name or folder, cached on disk.

Why this module exists: a retrieval benchmark in a language nobody annotated can be made by
translating the questions and answer sentences of an existing one (translate-test / translate-train
style), and a query can be translated into the language a system searches best. That costs hours
of seq2seq decoding on a CPU, so:

- every translation is cached on disk (:class:`TranslationCache`), keyed by the model's
  fingerprint, the language pair and the decoding settings, so a rerun (or a second collection
  that shares sentences) costs nothing;
- texts are deduplicated and batched longest first, so padding wastes little compute.

Translating a whole collection, resumably, is the use case :mod:`xlir_tui.app.translate`.

``torch`` and ``transformers`` are imported inside functions: importing this module must stay
cheap, because the CLI imports it to print ``--help``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import ModelError, XlirError
from ..progress import Progress, StageProgress, stage_callback
from ..storage.files import cache_root, text_digest
from ..storage.shards import ShardFolder, shard_key
from .encoders import _hub_reachable, _looks_like_path, model_fingerprint

FAMILIES = ("m2m100", "nllb", "marian")


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

    A folder of parquet shards with ``key`` (:func:`~xlir_tui.storage.shards.shard_key` of the
    source text) and ``text`` (the translation), kept by
    :class:`~xlir_tui.storage.shards.ShardFolder`: written atomically, a damaged shard skipped
    (it only costs re-translating), merged when they grow many.
    """

    MAX_SHARDS = 16
    key = staticmethod(shard_key)

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._shards = ShardFolder(folder, max_shards=self.MAX_SHARDS)
        self._rows: dict[str, str] | None = None

    @staticmethod
    def _parse(frame: pl.DataFrame) -> dict[str, str] | None:
        if frame.schema["key"] != pl.String or frame.schema["text"] != pl.String:
            return None
        return dict(zip(frame["key"].to_list(), frame["text"].to_list(), strict=True))

    def _load(self) -> dict[str, str]:
        if self._rows is None:
            self._rows = {}
            for shard in self._shards.read(self._parse, columns=["key", "text"]):
                self._rows.update(shard)
        return self._rows

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
        self._shards.add(lambda: self._frame(fresh), lambda: self._frame(rows))

    @staticmethod
    def _frame(rows: dict[str, str]) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "key": pl.Series(list(rows), dtype=pl.String),
                "text": pl.Series(list(rows.values()), dtype=pl.String),
            }
        )


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
    progress: StageProgress | None = None,
) -> list[str]:
    """``texts`` (each in its language of ``langs``) translated into ``pivot``, one batch per
    source language (one stage of ``progress`` each); texts already in ``pivot`` stay as they
    are."""
    out = list(texts)
    by_lang: dict[str, list[int]] = {}
    for i, lang in enumerate(langs):
        if lang != pivot:
            by_lang.setdefault(lang, []).append(i)
    for lang, rows in sorted(by_lang.items()):
        step = stage_callback(progress, f"translating {lang} queries to {pivot}")
        done = translator.translate([texts[i] for i in rows], lang, pivot, progress=step)
        for i, text in zip(rows, done, strict=True):
            out[i] = text
    return out
