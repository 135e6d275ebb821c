"""Language-bias remedies that need no training: fitted on texts and their languages, applied to
vectors.

A multilingual encoder places each language somewhat apart: a query's own language comes first
in a multilingual pool whatever it asks. The remedies here remove that part of the geometry with
linear algebra, in seconds, with no relevance label:

- ``center`` (Libovický et al. 2020, arXiv 2004.05160): ``v - mu_l``, the mean embedding of the
  fit texts of the vector's language subtracted;
- ``lir`` (Yang et al., EMNLP 2021, arXiv 2109.04727; code ziyi-yang/LIR): per language, the top
  ``r`` right singular vectors ``U_l`` of the *uncentred* matrix of that language's fit
  embeddings projected out, ``v - U_l U_l^T v``;
- ``leace`` (Belrose et al. 2023, arXiv 2306.03819; the ``concept-erasure`` package): the
  least-squares affine erasure of the linearly available language information;
- ``subspace``: the span of the centred language means (top ``r`` directions) projected out of
  every vector; it needs no language at query time;
- ``none``: the plain system, named so that ``--debias none,center`` puts both side by side.

**Fit data and roles.** A fit is made from a collection's texts and their language tags only
(never relevance): by default the pool being scored, or a named collection. Queries and
candidates are encoded differently (a query prompt, a passage prompt), so every statistic is
fitted per **role**: queries are transformed with the statistics of the fit collection's
*questions* of their language, candidates with those of its *candidates* (for ``center``: each
query minus its language's question mean, each candidate minus its language's candidate mean).
``leace`` is one eraser per role; ``subspace`` one basis for both roles, from the centred means
of both. Every transform is followed by normalisation to unit length, so scores stay cosines.

**Query language.** ``center`` and ``lir`` need it (a mean or a basis per language); ``leace``
and ``subspace`` do not (LEACE's eraser is an affine map of the vector alone, fitted with the
labels but applied without them). A query in a language the fit has no statistics for is
projected off the language subspace instead (``fallback``), which needs no language; callers say
so in one line. :func:`identify_query_language` names a free-text query's language with py3langid.

Everything here works on arrays: the algebra of each method below, and the fitted remedy
:class:`~xlir_tui.retrieval.debias_fit.DebiasFit` (``DebiasFit.fit(method, queries,
query_langs, candidates, candidate_langs)`` and ``fit.transform(vectors, langs, role)``), so a
script can call it without collections or models; :mod:`xlir_tui.retrieval.debias_fits` adds
what the commands need: the fit collection, the checks before slow work, and the cache. A fit is
saved as safetensors (the arrays) beside a JSON description (method, parameters, languages,
dimension, model, fit collection), never pickle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_LIR_RANK",
    "METHODS",
    "NEEDS_QUERY_LANG",
    "ROLES",
    "center",
    "identify_language",
    "identify_query_language",
    "language_means",
    "leace_eraser",
    "lir_directions",
    "normalise",
    "project_out",
    "subspace_basis",
]

METHODS = ("none", "center", "lir", "leace", "subspace")
"""What ``--debias`` takes, in the order a report lists them."""
NEEDS_QUERY_LANG = ("center", "lir")
"""Methods whose transform of a query depends on the query's language."""
ROLES = ("query", "candidate")
PLURAL = {"query": "queries", "candidate": "candidates"}
DEFAULT_LIR_RANK = (2, 1)
"""LIR's best on LAReQA (Yang et al. 2021, their notebook): 2 directions removed from queries, 1
from candidates."""
SMALL = 64
"""Up to this many vectors a transform runs as it is (see :func:`one_thread`)."""
IDENTIFY_MIN_PROBABILITY = 0.5
"""Below this py3langid probability a query's language counts as not identified."""
DESCRIPTIONS = {
    "none": "the plain system",
    "center": "each language's mean embedding subtracted (Libovický et al. 2020)",
    "lir": "each language's top singular directions projected out (LIR, Yang et al. 2021)",
    "leace": "language erased by LEACE (Belrose et al. 2023)",
    "subspace": "the span of the language means projected out (no query language needed)",
}
ROLE_NOTES = {
    "center": "queries by the mean of the fit's questions of their language, candidates by "
    "that of its candidates of theirs",
    "lir": "queries by the directions of the fit's questions of their language, candidates by "
    "those of its candidates of theirs",
    "leace": "queries by an eraser fitted on the fit's questions, candidates by one fitted on "
    "its candidates (the languages as labels when fitted; applied without them)",
    "subspace": "queries and candidates alike, by the span of the centred language means of "
    "the fit's questions and candidates",
}
"""How a fit treats each role (query, candidate), as a report and a manifest say it."""


# ------------------------------------------------------------------------------ algebra


def one_thread() -> Any:
    """A context in which BLAS and OpenMP use one thread.

    The matrices here are small (a few hundred dimensions, a language's thousand-odd texts), and
    OpenBLAS's threads, waking beside torch's on a busy machine, made one SVD of a 1190 x 384
    matrix take 22 s instead of 0.4 s on one thread (measured here, load average 15 on 2 cores).
    ``threadpoolctl`` (scikit-learn's) limits every pool in the process and restores it after;
    its controller is made once (finding the pools takes milliseconds, which a query's transform
    must not pay), after torch is loaded so that its pool is among them.
    """
    global _CONTROLLER
    if _CONTROLLER is None:
        import torch  # noqa: F401  (its OpenMP pool must be loaded before the controller looks)
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1)


_CONTROLLER: Any = None


def normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero): cosine stays the dot product."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def rows_by_language(langs: Sequence[str | None]) -> dict[str, np.ndarray]:
    codes = np.asarray([x if x is not None else "" for x in langs], dtype=object)
    return {
        str(lang): np.flatnonzero(codes == lang) for lang in sorted(set(codes.tolist())) if lang
    }


def language_means(x: np.ndarray, langs: Sequence[str]) -> dict[str, np.ndarray]:
    """The mean vector of each language's rows (float64), computed from the texts alone."""
    x = np.asarray(x, dtype=np.float64)
    return {lang: x[rows].mean(axis=0) for lang, rows in rows_by_language(langs).items()}


def center(x: np.ndarray, langs: Sequence[str | None], means: dict[str, np.ndarray]) -> np.ndarray:
    """``v - mu_l`` for each row (Libovický et al. 2020, "On the language neutrality of
    pre-trained multilingual representations", section 3: "centering the representation for
    each language"). Rows of a language without a mean are returned unchanged; not normalised.

    Written here because it is one subtraction per language; no library offers it.
    """
    out = np.asarray(x, dtype=np.float64).copy()
    for lang, rows in rows_by_language(langs).items():
        if lang in means:
            out[rows] -= means[lang]
    return out


def lir_directions(x: np.ndarray, rank: int) -> np.ndarray:
    """The top ``rank`` right singular vectors of the *uncentred* matrix ``x`` (n x d), as the
    columns of a d x rank matrix: LIR's language information (Yang et al. 2021, section 2; their
    code takes the left singular vectors of ``x.T``, the same vectors). Not centring is the
    method: the first singular direction of a language's uncentred embeddings is close to its
    mean, the language's identity.

    Computed as the top eigenvectors of the d x d Gram matrix ``x.T @ x`` (numpy's ``eigh``, in
    float64): the same vectors as the SVD's, four times faster at a thousand texts of a few
    hundred dimensions, and no n x n factor to form."""
    x = np.asarray(x, dtype=np.float64)
    _, vectors = np.linalg.eigh(x.T @ x)  # eigenvalues ascending
    return vectors[:, ::-1][:, :rank].copy()


def project_out(x: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """``v - B B^T v`` for an orthonormal basis ``B`` (d x r): the part of each row outside the
    span of ``B``. Not normalised."""
    x = np.asarray(x, dtype=np.float64)
    if basis.size == 0:
        return x.copy()
    return x - (x @ basis) @ basis.T


def subspace_basis(mean_sets: Sequence[dict[str, np.ndarray]], rank: int) -> np.ndarray:
    """The top ``rank`` directions (d x rank, orthonormal) spanned by the centred language means.

    Each set of means (one per role: the questions', the candidates') is centred by its own
    average, so the offset between queries and candidates is not taken for a language; the sets
    are stacked and the top right singular vectors of the stack kept. Projecting them out
    removes every linear direction along which the languages' averages differ, for any vector,
    with no language to know. Written here because it is an SVD of a few rows; the method is the
    "language subspace" of the issue that asked for it, not a published recipe.
    """
    rows = []
    for means in mean_sets:
        if len(means) < 2:
            continue
        m = np.stack([means[k] for k in sorted(means)]).astype(np.float64)
        rows.append(m - m.mean(axis=0))
    if not rows:
        return np.zeros((0, 0))
    _, s, vh = np.linalg.svd(np.concatenate(rows), full_matrices=False)
    keep = min(rank, int((s > s.max() * 1e-10).sum()) if s.size else 0)
    return vh[:keep].T.copy()


def subspace_limit(mean_sets: Sequence[dict[str, Any]]) -> int:
    """How many directions the centred means of ``mean_sets`` can span at most."""
    return sum(max(len(m) - 1, 0) for m in mean_sets)


def leace_eraser(x: np.ndarray, langs: Sequence[str]) -> dict[str, np.ndarray]:
    """LEACE's eraser for the language of each row, from the ``concept-erasure`` package
    (``LeaceFitter`` with the languages one-hot), as its three arrays: ``proj_left`` (d x k),
    ``proj_right`` (k x d) and ``bias`` (d); the eraser is ``x - ((x - bias) @ proj_right.T) @
    proj_left.T``.

    Its guarantee: after erasure the mean of every language is the same (no linear classifier
    does better than chance at telling the language). The package's ``constrain_cov_trace``
    option, meant for features fed back into a network, mixes in another projection that
    breaks that guarantee; it is turned off here, since the vectors are normalised afterwards.
    Fitted in float64.
    """
    import torch
    from concept_erasure import LeaceFitter

    by_lang = rows_by_language(langs)
    classes = {lang: i for i, lang in enumerate(by_lang)}
    z = np.zeros((len(langs), len(classes)), dtype=np.float64)
    z[np.arange(len(langs)), [classes[x] for x in langs]] = 1.0
    fitter = LeaceFitter.fit(
        torch.from_numpy(np.asarray(x, dtype=np.float64)),
        torch.from_numpy(z),
        constrain_cov_trace=False,
    )
    eraser = fitter.eraser
    bias = eraser.bias if eraser.bias is not None else torch.zeros(x.shape[1])
    return {
        "proj_left": eraser.proj_left.numpy().copy(),
        "proj_right": eraser.proj_right.numpy().copy(),
        "bias": bias.numpy().copy(),
    }


def leace_apply(x: np.ndarray, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Apply an eraser saved by :func:`leace_eraser`, through the package's own ``LeaceEraser``
    (not normalised)."""
    import torch
    from concept_erasure import LeaceEraser

    eraser = LeaceEraser(
        torch.from_numpy(np.asarray(arrays["proj_left"], dtype=np.float64)),
        torch.from_numpy(np.asarray(arrays["proj_right"], dtype=np.float64)),
        torch.from_numpy(np.asarray(arrays["bias"], dtype=np.float64)),
    )
    with torch.inference_mode():
        return eraser(torch.from_numpy(np.asarray(x, dtype=np.float64))).numpy()


# ------------------------------------------------------------------------------ languages


_IDENTIFIERS: dict[tuple[str, ...], Any] = {}


def _identifier(candidates: Sequence[str] | None) -> Any:
    """py3langid's identifier over ``candidates`` (None: all its languages), made once per set
    of languages; None when it knows none of them."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    key = tuple(sorted(candidates)) if candidates else ()
    if key not in _IDENTIFIERS:
        identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        if key:
            known = [x for x in key if x in set(identifier.nb_classes)]
            identifier = identifier if known else None
            if identifier is not None:
                identifier.set_languages(known)
        _IDENTIFIERS[key] = identifier
    return _IDENTIFIERS[key]


def identify_language(
    text: str, candidates: Sequence[str] | None = None
) -> tuple[str | None, float]:
    """The language of ``text`` by py3langid, among ``candidates`` (the fit's languages: a
    short query is told apart among the languages that matter far better than among py3langid's
    hundred-odd) when given; (None, p) when its probability is under
    :data:`IDENTIFY_MIN_PROBABILITY` or no candidate is a language py3langid knows."""
    identifier = _identifier(candidates)
    if identifier is None:
        return None, 0.0
    lang, p = identifier.classify(text)
    return (str(lang) if p >= IDENTIFY_MIN_PROBABILITY else None), float(p)


OUTSIDE_MARGIN = 2.0
"""How many times likelier than every language of the fit py3langid must find another language
before a query counts as written in a language the fit lacks..."""
OUTSIDE_MIN_PROBABILITY = 0.2
"""... and how likely at least (a name such as ``Tesla`` is likeliest Kabyle, at 0.09)."""


def identify_query_language(text: str, known: Sequence[str]) -> tuple[str | None, float, bool]:
    """A free-text query's language for a remedy: ``(language, p, among_known)``.

    A short query is told apart far better among the fit's languages alone (``known``), but a
    query in a language the fit lacks would then be named as the nearest of them (Portuguese as
    French) and transformed with that language's statistics. So py3langid ranks all its
    languages first: when its top language is outside ``known`` and at least
    :data:`OUTSIDE_MARGIN` times likelier than every language of ``known``, that language is the
    answer (``among_known`` False: the caller falls back), provided py3langid gives it at least
    :data:`OUTSIDE_MIN_PROBABILITY`; else the answer is
    :func:`identify_language` among ``known``. The rule is ours (py3langid gives the ranking,
    not this decision); the margin keeps a one-word query, whose top language is often a close
    neighbour of a known one (Kyrgyz for Russian ``Кто?``), among the known languages.
    """
    ranking = _identifier(None).rank(text)
    if ranking:
        top, p_top = ranking[0]
        p_known = max((float(p) for lang, p in ranking if lang in known), default=0.0)
        outside = top not in known and p_top >= OUTSIDE_MIN_PROBABILITY
        if outside and p_top >= OUTSIDE_MARGIN * p_known:
            return str(top), float(p_top), False
    lang, p = identify_language(text, known)
    return lang, p, True
