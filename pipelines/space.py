"""The similarity space the graph is built in: sentence meaning plus corpus-weighted lexical topics.

Stored vectors (Chroma, ``features.json``) must be comparable across tasks, so they cannot depend on
the corpus. Clustering and edges can: here the bilingual lexical features are weighted by TF-IDF over
this user's history and reduced by latent semantic analysis, then joined with the semantic part and
with each text's affinity to the bundled vocabulary topics, which reads the same in any language: a
Korean and an English conversation about baking are both near "Baking", whatever words they use.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

from pipelines.embed import Embedded, normalize_rows
from pipelines.topics import TopicAffinity

#: Dimensions kept by the latent semantic analysis.
LSA_COMPONENTS = 128
#: Share of the semantic part when both are present.
SEMANTIC_WEIGHT = 0.4
#: Share of the vocabulary topics part (``pipelines/topics.py``) when given: the language-free bridge.
TOPIC_WEIGHT = 0.5


def _identity(tokens: list[str]) -> list[str]:
    return tokens


def lexical_topics(features: list[list[str]], components: int = LSA_COMPONENTS, seed: int = 0) -> np.ndarray:
    """TF-IDF over ``features`` reduced to at most ``components`` unit-length dimensions."""
    documents = len(features)
    min_df = 2 if documents >= 20 else 1
    try:
        vectorizer = TfidfVectorizer(
            analyzer=_identity,
            sublinear_tf=True,
            min_df=min_df,
            max_df=0.6 if documents >= 20 else 1.0,
            dtype=np.float32,
        )
        matrix = vectorizer.fit_transform(features)
    except ValueError:  # no term survives the document-frequency bounds
        return np.zeros((documents, 1), dtype=np.float32)
    rank = min(components, matrix.shape[1] - 1, documents - 1)
    if rank < 2:
        return normalize_rows(matrix.toarray())
    reduced = TruncatedSVD(n_components=rank, random_state=seed, algorithm="randomized", n_iter=5)
    return normalize_rows(reduced.fit_transform(matrix))


def similarity_space(
    embedded: Embedded, topics: TopicAffinity | None = None, semantic_weight: float = SEMANTIC_WEIGHT
) -> np.ndarray:
    """Unit rows combining the semantic vectors (if any) with the corpus's lexical topics and, when
    given, every text's affinity with the bundled vocabulary topics."""
    lexical = lexical_topics([a.features for a in embedded.analyses])
    if embedded.semantic is None:
        joined = lexical
    else:
        joined = np.hstack(
            [np.sqrt(semantic_weight) * embedded.semantic, np.sqrt(1 - semantic_weight) * lexical]
        )
        joined = normalize_rows(joined)
    if topics is None:
        return joined
    # python floats keep the float32 rows float32 (a 10k history's copies stay small)
    parts = [float(np.sqrt(1 - TOPIC_WEIGHT)) * joined, float(np.sqrt(TOPIC_WEIGHT)) * topics.space()]
    return normalize_rows(np.hstack(parts))
