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
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
#: Windows per encoder call.
BATCH_WINDOWS = 64
#: Freed heap is handed back to the system every this many encoder calls (glibc keeps it otherwise,
#: and a 10k-conversation history would hold hundreds of megabytes of freed batches).
TRIM_EVERY = 4


class TextEncoder(Protocol):
    """A sentence encoder: texts in, unit-length rows out."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode ``texts`` into an ``(len(texts), dim)`` float32 array of unit rows."""
        ...


@dataclass(slots=True)
class Embedded:
    """Vectors for a batch of texts, with what the later stages reuse."""

    vectors: np.ndarray
    analyses: list[AnalyzedText]
    semantic: np.ndarray | None


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

    def embed(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> Embedded:
        """Analyse and embed ``texts``; ``progress`` hears the fraction done."""
        analyses = self.analyzer.analyze_many(list(texts))
        if progress:
            progress(0.1)
        lexical = self._lexical(analyses)
        if self.mode == "lexical":
            if progress:
                progress(1.0)
            return Embedded(vectors=lexical, analyses=analyses, semantic=None)
        sources = [a.english_view for a in analyses] if self.mode == "hybrid" else list(texts)
        for analysis in analyses:
            analysis.english_view = ""  # read once; at 10k texts it is tens of megabytes
        semantic = self._encode_pooled(sources, progress)
        del sources
        release_free_memory()
        if self.mode == "model":
            return Embedded(vectors=semantic, analyses=analyses, semantic=semantic)
        mixed = np.sqrt(SEMANTIC_SHARE) * semantic + np.sqrt(1 - SEMANTIC_SHARE) * lexical
        return Embedded(vectors=normalize_rows(mixed), analyses=analyses, semantic=semantic)

    def _lexical(self, analyses: list[AnalyzedText]) -> np.ndarray:
        counts = self._hasher.transform([a.features for a in analyses])
        counts.data = np.sign(counts.data) * np.log1p(np.abs(counts.data))
        return normalize_rows(counts.toarray())

    def _encode_pooled(self, texts: list[str], progress: ProgressCallback | None) -> np.ndarray:
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
        owner_index = np.asarray(owners)
        weight_array = np.asarray(weights, dtype=np.float32)
        for start in range(0, len(flat), BATCH_WINDOWS):
            stop = min(start + BATCH_WINDOWS, len(flat))
            vectors = self.encoder.encode(flat[start:stop]) * weight_array[start:stop, None]
            np.add.at(pooled, owner_index[start:stop], vectors)
            if (start // BATCH_WINDOWS) % TRIM_EVERY == TRIM_EVERY - 1:
                release_free_memory()
            if progress:
                progress(0.1 + 0.9 * stop / len(flat))
        return normalize_rows(pooled)
