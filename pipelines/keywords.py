"""Keywords per node: TF-IDF over the node's terms (Korean nouns, English words) across the corpus."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from models.graph import Keyword
from pipelines.text import AnalyzedText

#: Keywords kept per node.
KEYWORDS_PER_NODE = 10
#: Of which ``top_keywords`` lists the first.
TOP_KEYWORDS = 5


def _identity(tokens: list[str]) -> list[str]:
    return tokens


def extract_keywords(analyses: list[AnalyzedText], limit: int = KEYWORDS_PER_NODE) -> list[list[Keyword]]:
    """The ``limit`` best terms of every text, scored by TF-IDF against the whole corpus."""
    if not any(a.terms for a in analyses):
        return [[] for _ in analyses]
    vectorizer = TfidfVectorizer(analyzer=_identity, sublinear_tf=True, norm="l2", dtype=np.float32)
    matrix = vectorizer.fit_transform([a.terms for a in analyses]).tocsr()
    vocabulary = vectorizer.get_feature_names_out()
    keywords: list[list[Keyword]] = []
    for row in range(matrix.shape[0]):
        start, stop = matrix.indptr[row], matrix.indptr[row + 1]
        scores = matrix.data[start:stop]
        columns = matrix.indices[start:stop]
        order = np.lexsort((vocabulary[columns], -scores))[:limit]
        keywords.append(
            [Keyword(term=str(vocabulary[columns[i]]), score=round(float(scores[i]), 4)) for i in order]
        )
    return keywords
