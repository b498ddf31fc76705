"""A bundled bilingual topic vocabulary, used as zero-shot labels for clusters.

Every topic has a Korean label, an English label and seed words in both languages: the words most
conversations on the topic use. A text's match with a topic is how many of its seeds the text's
bilingual features contain (Korean words, their English glosses, English words), seeds shared by
several topics counting less. Matching works the same for Korean, English and code-switched texts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
from scipy import sparse

from pipelines.embed import TextEncoder, normalize_rows
from pipelines.text import english_lemma, has_hangul

#: Seed weight a text needs for a full match with a topic.
FULL_MATCH = 2.0
#: A text keeps its semantic similarity to this many nearest topics (the rest count as zero).
NEAREST_TOPICS = 5


@dataclass(frozen=True, slots=True)
class Topic:
    """One vocabulary entry."""

    id: str
    ko: str
    en: str
    seeds: tuple[str, ...]

    def label(self, language: str) -> str:
        """The label shown to a reader of ``language`` (Korean for ``ko``, else English)."""
        return self.ko if language == "ko" else self.en


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The topics, and a sparse seed matrix (seed words x topics, weighted)."""

    topics: tuple[Topic, ...]
    index: dict[str, int]
    weights: sparse.csr_matrix


def _seed(word: str) -> str:
    return word if has_hangul(word) else english_lemma(word)


@lru_cache(maxsize=1)
def load_vocabulary() -> Vocabulary:
    """The bundled vocabulary (``pipelines/data/topics.tsv``)."""
    text = resources.files("pipelines").joinpath("data/topics.tsv").read_text("utf-8")
    topics: list[Topic] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        topic_id, korean, english, seeds = line.split("\t")
        words = tuple(dict.fromkeys(_seed(w) for w in seeds.split() if w))
        topics.append(Topic(id=topic_id, ko=korean, en=english, seeds=words))
    spread = Counter(word for topic in topics for word in topic.seeds)
    index = {word: i for i, word in enumerate(sorted(spread))}
    rows, columns, values = [], [], []
    for column, topic in enumerate(topics):
        for word in topic.seeds:
            rows.append(index[word])
            columns.append(column)
            values.append(1.0 / spread[word])
    weights = sparse.csr_matrix((values, (rows, columns)), shape=(len(index), len(topics)), dtype=np.float32)
    return Vocabulary(topics=tuple(topics), index=index, weights=weights)


def topic_matches(features: list[list[str]], vocabulary: Vocabulary | None = None) -> np.ndarray:
    """``(texts, topics)`` matches in [0, 1]: the weight of a topic's seeds a text contains, capped."""
    vocabulary = vocabulary or load_vocabulary()
    rows, columns = [], []
    for row, tokens in enumerate(features):
        for column in {vocabulary.index[t] for t in tokens if t in vocabulary.index}:
            rows.append(row)
            columns.append(column)
    present = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, columns)),
        shape=(len(features), len(vocabulary.index)),
    )
    return np.minimum(1.0, np.asarray((present @ vocabulary.weights).todense()) / FULL_MATCH)


@dataclass(frozen=True, slots=True)
class TopicAffinity:
    """How every text relates to every vocabulary topic, ``(texts, topics)`` each.

    ``semantic``: cosine of the text's meaning with the topic's description, kept for the text's
    ``NEAREST_TOPICS`` nearest topics and zero elsewhere (absent without a sentence encoder);
    ``lexical``: the share of the topic's seed words the text contains (``topic_matches``).
    """

    semantic: np.ndarray | None
    lexical: np.ndarray

    def scores(self) -> np.ndarray:
        """Both parts in [0, 1] and averaged: 1 for a text's nearest topic that matches fully."""
        if self.semantic is None:
            return self.lexical
        top = self.semantic.max(axis=1, keepdims=True)
        relative = np.clip(self.semantic / np.where(top > 0, top, 1.0), 0.0, 1.0)
        return 0.5 * relative + 0.5 * self.lexical

    def space(self) -> np.ndarray:
        """Unit rows for the similarity space: nearest topics in meaning, plus the seed matches."""
        lexical = normalize_rows(self.lexical)
        if self.semantic is None:
            return lexical
        return normalize_rows(normalize_rows(self.semantic) + 0.5 * lexical)


_VECTORS: dict[str, np.ndarray] = {}


def topic_vectors(encoder: TextEncoder) -> np.ndarray:
    """The encoder's unit vectors of the topics' English descriptions (label and seed words),
    computed once per encoder."""
    if encoder.name not in _VECTORS:
        descriptions = [
            f"{topic.en}: " + " ".join(w for w in topic.seeds if not has_hangul(w))
            for topic in load_vocabulary().topics
        ]
        vectors = np.zeros((len(descriptions), encoder.dim), dtype=np.float32)
        for indices, rows in encoder.encode_batches(descriptions):
            vectors[indices] = rows
        _VECTORS[encoder.name] = normalize_rows(vectors)
    return _VECTORS[encoder.name]


def topic_affinity(
    features: list[list[str]], semantic: np.ndarray | None, encoder: TextEncoder | None
) -> TopicAffinity:
    """Every text's affinity with the vocabulary topics (see ``TopicAffinity``)."""
    lexical = topic_matches(features)
    if semantic is None or encoder is None or len(features) == 0:
        return TopicAffinity(semantic=None, lexical=lexical)
    similarity = semantic @ topic_vectors(encoder).T
    count = min(NEAREST_TOPICS, similarity.shape[1])
    threshold = np.partition(similarity, -count, axis=1)[:, -count][:, None]
    nearest = np.where(similarity >= threshold, np.maximum(similarity, 0.0), 0.0).astype(np.float32)
    return TopicAffinity(semantic=nearest, lexical=lexical)
