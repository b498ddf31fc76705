"""Offline names, descriptions and themes for clusters, in the request's language.

Themes are a cluster's most distinctive terms (class-based TF-IDF over node keywords). For English
output, Korean terms are translated through the bundled lexicon; other languages keep the user's
own words, and only the connecting prose is written in the requested language.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from models.graph import Keyword
from pipelines.text import has_hangul, load_lexicon

#: Themes kept per cluster.
THEMES = 5

_DESCRIPTIONS = {
    "ko": "{themes} 관련 대화 {size}개를 묶은 주제입니다. 대표 대화: “{title}”.",
    "en": "{size} conversations about {themes}. Representative conversation: “{title}”.",
    "zh": "关于{themes}的{size}个对话。代表对话：“{title}”。",
    "ja": "{themes}に関する{size}件の会話です。代表的な会話：「{title}」。",
}
_SEPARATORS = {"ko": ", ", "en": ", ", "zh": "、", "ja": "、"}


@dataclass(slots=True)
class ClusterLabel:
    """Name, description and themes of one cluster."""

    name: str
    description: str
    key_themes: list[str]


def display_term(term: str, language: str) -> str:
    """A term as shown to a reader of ``language`` (Korean glossed in English for ``en``)."""
    if language == "en" and has_hangul(term):
        glosses = load_lexicon().get(term)
        if glosses:
            return glosses[0]
    return term


def distinctive_terms(
    labels: np.ndarray, keywords: list[list[Keyword]], limit: int = THEMES
) -> dict[int, list[str]]:
    """Per cluster, the terms that many of its nodes have and few nodes of other clusters have.

    A term counts once per node that lists it (plus its score, to break ties), so one long
    conversation cannot name a whole cluster.
    """
    per_cluster: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    overall: dict[str, float] = defaultdict(float)
    for node, label in enumerate(labels.tolist()):
        for keyword in keywords[node]:
            weight = 1.0 + 0.5 * keyword.score
            per_cluster[label][keyword.term] += weight
            overall[keyword.term] += weight
    count = max(1, len(per_cluster))
    result: dict[int, list[str]] = {}
    for label, counts in per_cluster.items():
        size = max(1, int(np.sum(labels == label)))
        scored = {
            term: (weight / size) * math.log(1 + count * weight / overall[term])
            for term, weight in counts.items()
        }
        result[label] = [t for t, _ in sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]
    return result


def _unique(terms: list[str]) -> list[str]:
    seen: set[str] = set()
    kept = []
    for term in terms:
        if term.lower() not in seen:
            seen.add(term.lower())
            kept.append(term)
    return kept


def label_clusters(
    labels: np.ndarray, keywords: list[list[Keyword]], titles: dict[int, str], language: str
) -> dict[int, ClusterLabel]:
    """A label for every cluster; ``titles`` gives each cluster's representative title."""
    language = language if language in _DESCRIPTIONS else "en"
    themes_by_cluster = distinctive_terms(labels, keywords)
    taken: set[str] = set()
    labels_out: dict[int, ClusterLabel] = {}
    for label in sorted(set(labels.tolist())):
        themes = _unique([display_term(t, language) for t in themes_by_cluster.get(label, [])])
        size = int(np.sum(labels == label))
        name = " · ".join(themes[:2]) or f"cluster {label + 1}"
        if name in taken and len(themes) > 2:
            name = " · ".join(themes[:3])
        if name in taken:
            name = f"{name} ({label + 1})"
        taken.add(name)
        description = _DESCRIPTIONS[language].format(
            themes=_SEPARATORS[language].join(themes[:3]) or name, size=size, title=titles.get(label, "")
        )
        labels_out[label] = ClusterLabel(name=name, description=description, key_themes=themes)
    return labels_out
