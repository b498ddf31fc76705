"""Embedding: one L2-normalised vector per text, whatever the language mix.

Three modes, chosen by the ``EMBEDDER`` setting (see ``core.services``):

- ``hybrid`` (default): a sentence encoder reads the text's *English view* (English words as written,
  Korean words glossed through the bundled lexicon) and its meaning is superposed with a hashed bag of
  bilingual lexical features. all-MiniLM-L6-v2 cannot read Korean; glossing gives it something to read,
  and the shared English glosses bridge Korean and English conversations on the same topic.
- ``lexical``: the hashed bilingual features alone (no neural model).
- any other value: a sentence-transformers model (name or path) reads the raw text, e.g. a multilingual
  model baked into the production image.

Long texts are cut into word windows, encoded in batches and mean-pooled (weighted by window length).
A text whose analysis and semantic vector a previous task computed (``Known``, see ``pipelines.reuse``)
is neither analysed nor encoded again.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Literal, Protocol

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer

from pipelines.text import AnalyzedText, TextAnalyzer

#: Called with the fraction of the work done, 0.0 to 1.0.
ProgressCallback = Callable[[float], None]

#: Share of the semantic part in a hybrid vector (the lexical part gets the rest).
SEMANTIC_SHARE = 0.5
#: Words per encoder window; all-MiniLM-L6-v2 reads 256 word pieces.
WINDOW_WORDS = 150
#: At most this many windows per text (evenly spread), so one huge conversation cannot stall a batch.
MAX_WINDOWS = 12
#: Freed heap is handed back to the system every this many encoded windows (glibc keeps it otherwise,
#: and a 10k-conversation history would hold hundreds of megabytes of freed batches).
TRIM_EVERY = 256
#: Work units of analysing one text, of hashing one text's lexical features and of encoding one window
#: (about their relative cost on CPU), so that the progress fraction, and the ETA drawn from it,
#: follow the time actually spent: with most texts reused, the encoder's few windows are most of it.
ANALYSIS_COST = 3.0
LEXICAL_COST = 0.1
WINDOW_COST = 20.0
#: Raise when the text analysis or the window cutting changes what a text's analysis or vector is:
#: reused analyses and vectors of older versions are then computed afresh.
ANALYSIS_VERSION = 2  # 2: long Korean texts analysed in pieces (text.KIWI_PIECE_CHARS)


class TextEncoder(Protocol):
    """A sentence encoder: texts in, unit-length rows out."""

    name: str
    dim: int

    @property
    def version(self) -> str:
        """A fingerprint of what decides the vectors (weights, reading length)."""
        ...

    def encode_batches(
        self, texts: Sequence[str], *, reproducible: bool = True
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Encode ``texts``: yields (indices into ``texts``, ``(len(indices), dim)`` float32 unit rows)
        batch by batch. A ``reproducible`` text's row must not depend on the other texts encoded with
        it (not even in its last bits); otherwise the encoder may trade that for speed on few texts."""
        ...


@dataclass(slots=True)
class Known:
    """What a previous task computed for a text: its analysis (no ``english_view``) and semantic vector."""

    analysis: AnalyzedText
    semantic: np.ndarray | None


@dataclass(slots=True)
class Embedded:
    """Vectors for a batch of texts, with what the later stages reuse; ``fresh`` texts were analysed
    here (the others were known) and ``windows`` encoder windows were encoded. ``analysis_seconds`` is
    the wall time of the text analysis and lexical features, ``encode_seconds`` that of the encoder
    (cutting windows, tokenising, encoding, pooling)."""

    vectors: np.ndarray
    analyses: list[AnalyzedText]
    semantic: np.ndarray | None
    fresh: int = 0
    windows: int = 0
    analysis_seconds: float = 0.0
    encode_seconds: float = 0.0


def release_free_memory() -> None:
    """Hand freed heap memory back to the system (glibc keeps what the encoder's batches freed)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Scale every row to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32)


def windows(text: str, size: int = WINDOW_WORDS, limit: int = MAX_WINDOWS) -> list[str]:
    """Cut ``text`` into windows of ``size`` words, keeping at most ``limit`` spread over the text."""
    words = text.split()
    if not words:
        return [""]
    chunks = [" ".join(words[i : i + size]) for i in range(0, len(words), size)]
    if len(chunks) > limit:
        picks = np.linspace(0, len(chunks) - 1, limit).round().astype(int)
        chunks = [chunks[i] for i in picks]
    return chunks


def _identity(tokens: list[str]) -> list[str]:
    return tokens


class Embedder:
    """Turns texts into unit vectors of ``dim`` dimensions; see the module docstring for modes."""

    def __init__(
        self,
        analyzer: TextAnalyzer,
        encoder: TextEncoder | None,
        *,
        mode: Literal["hybrid", "lexical", "model"],
        dim: int = 384,
    ) -> None:
        if mode != "lexical" and encoder is None:
            raise ValueError(f"embedder mode {mode!r} needs a sentence encoder")
        self.analyzer = analyzer
        self.encoder = encoder
        self.mode = mode
        self.dim = encoder.dim if encoder is not None else dim
        self._hasher = HashingVectorizer(
            analyzer=_identity, n_features=self.dim, alternate_sign=True, norm=None, dtype=np.float32
        )

    @property
    def name(self) -> str:
        """What ``features.json`` records as ``embedding_model``."""
        if self.mode == "lexical":
            return f"lexical-ko-en-{self.dim}"
        assert self.encoder is not None
        return f"hybrid-ko-en+{self.encoder.name}" if self.mode == "hybrid" else self.encoder.name

    @property
    def fingerprint(self) -> str:
        """Everything a stored vector or analysis depends on besides the text: reuse needs it equal."""
        lexicon = hashlib.blake2b(digest_size=8)
        for korean, english in sorted(self.analyzer.lexicon.items()):
            lexicon.update(f"{korean}\t{'|'.join(english)}\n".encode())
        parts = [
            self.name,
            self.encoder.version if self.encoder is not None else "",
            f"dim={self.dim}",
            f"analysis={ANALYSIS_VERSION}",
            f"kiwi={_package_version('kiwipiepy')}",
            f"lexicon={lexicon.hexdigest()}",
            f"windows={WINDOW_WORDS}x{MAX_WINDOWS}",
            f"share={SEMANTIC_SHARE}",
        ]
        return "|".join(parts)

    def embed(
        self,
        texts: Sequence[str],
        progress: ProgressCallback | None = None,
        known: Sequence[Known | None] | None = None,
        *,
        reproducible: bool = True,
    ) -> Embedded:
        """Analyse and embed ``texts``; ``progress`` hears the fraction done.

        ``known[i]``, when given, is reused for ``texts[i]`` instead of analysing and encoding it.
        Vectors that may be stored for reuse must be ``reproducible`` (bit-identical whatever else is
        encoded with them); add-node's are not stored and need not be, which makes a few texts cheap.
        """
        reused = list(known) if known is not None else [None] * len(texts)
        if len(reused) != len(texts):
            raise ValueError("known must have one entry per text")
        if self.mode != "lexical":  # a known analysis without its vector is of no use here
            reused = [k if k is not None and k.semantic is not None else None for k in reused]
        fresh = [i for i, k in enumerate(reused) if k is None]
        started = time.perf_counter()
        fresh_analyses = self.analyzer.analyze_many([texts[i] for i in fresh])
        analyses: list[AnalyzedText] = [k.analysis if k is not None else AnalyzedText() for k in reused]
        for i, analysis in zip(fresh, fresh_analyses, strict=True):
            analyses[i] = analysis
        lexical = self._lexical(analyses)
        analysis_seconds = time.perf_counter() - started
        if self.mode == "lexical":
            if progress:
                progress(1.0)
            return Embedded(lexical, analyses, None, fresh=len(fresh), analysis_seconds=analysis_seconds)
        if self.mode == "hybrid":
            sources = [analysis.english_view for analysis in fresh_analyses]
        else:
            sources = [texts[i] for i in fresh]
        for analysis in fresh_analyses:
            analysis.english_view = ""  # read once; at 10k texts it is tens of megabytes
        del fresh_analyses
        semantic = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, k in enumerate(reused):
            if k is not None and k.semantic is not None:
                semantic[i] = k.semantic
        done = len(fresh) * ANALYSIS_COST + len(texts) * LEXICAL_COST
        started = time.perf_counter()
        encoded, windows_encoded = self._encode_pooled(sources, done, progress, reproducible)
        encode_seconds = time.perf_counter() - started
        if fresh:
            semantic[fresh] = encoded
        del sources, encoded
        release_free_memory()
        vectors = semantic
        if self.mode == "hybrid":
            vectors = normalize_rows(
                np.sqrt(SEMANTIC_SHARE) * semantic + np.sqrt(1 - SEMANTIC_SHARE) * lexical
            )
        return Embedded(
            vectors,
            analyses,
            semantic,
            fresh=len(fresh),
            windows=windows_encoded,
            analysis_seconds=analysis_seconds,
            encode_seconds=encode_seconds,
        )

    def _lexical(self, analyses: list[AnalyzedText]) -> np.ndarray:
        counts = self._hasher.transform([a.features for a in analyses])
        counts.data = np.sign(counts.data) * np.log1p(np.abs(counts.data))
        return normalize_rows(counts.toarray())

    def _encode_pooled(
        self, texts: list[str], done_before: float, progress: ProgressCallback | None, reproducible: bool
    ) -> tuple[np.ndarray, int]:
        """Mean-pooled unit vectors of ``texts`` and the number of windows encoded.

        ``done_before`` work units (the analysis) are already done when encoding starts.
        """
        assert self.encoder is not None
        owners: list[int] = []
        flat: list[str] = []
        weights: list[float] = []
        for i, text in enumerate(texts):
            for chunk in windows(text):
                owners.append(i)
                flat.append(chunk)
                weights.append(max(1, len(chunk.split())))
        pooled = np.zeros((len(texts), self.dim), dtype=np.float32)
        owner_index = np.asarray(owners, dtype=np.int64)
        weight_array = np.asarray(weights, dtype=np.float32)
        total = done_before + WINDOW_COST * len(flat)
        if progress and total:
            progress(done_before / total)
        encoded = 0
        for indices, vectors in self.encoder.encode_batches(flat, reproducible=reproducible):
            # a text's windows arrive in the same order whatever else is encoded: sums are reproducible
            np.add.at(pooled, owner_index[indices], vectors * weight_array[indices, None])
            if (encoded + len(indices)) // TRIM_EVERY > encoded // TRIM_EVERY:
                release_free_memory()
            encoded += len(indices)
            if progress:
                progress((done_before + WINDOW_COST * encoded) / total)
        if progress:
            progress(1.0)
        return normalize_rows(pooled), len(flat)


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"
