"""Offline names, descriptions and themes for clusters and subclusters, in the request's language.

A cluster is named after the bundled vocabulary topic (``pipelines/topics.py``) that most of its
conversations match, in the request's language ("일본 여행" for ``ko``, "Travel in Japan" for
``en``). A cluster no topic covers well is named after its *covering* terms: the words most of its
conversations use and few conversations elsewhere use, never units or filler. Terms are shown in
the request's language: for ``ko`` English words go through the lexicon into Korean and for ``en``
Korean words into English; proper names (React, Python, ETF) keep their own spelling.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer

from models.graph import Keyword
from pipelines.text import has_hangul, load_lexicon
from pipelines.topics import TopicAffinity, load_vocabulary, topic_matches

#: Themes kept per cluster.
THEMES = 5
#: Share of a cluster's conversations a topic must match (on average) to name it.
MIN_COVERAGE = 0.3
#: A cluster whose best topic is taken may use its next one if it matches at least this share as well.
SECOND_CHOICE = 0.75
#: Units, filler and meta words that never name anything.
NAME_STOP = frozenset(
    """
    km kg g mg ml cm mm min sec hr tbsp tsp cup oz lb mph kcal page subject line file version issue
    problem thing way step list note detail info information reply message chat conversation request
    word text sentence option result update check example today week month year morning night
    킬로 킬로미터 그램 스푼 큰술 작은술 컵 페이지 제목 버전 단계 목록 내용 정보 답장 메시지 대화 요청
    단어 문장 결과 확인 예시 오늘 이번 주 달 년 아침 밤 개월 시간 분 초 회 번 개 키로 미터
    """.split()
)

_DESCRIPTIONS = {
    "ko": "{name} 관련 대화 {size}개를 묶은 주제입니다. 자주 나온 말: {themes}. 대표 대화: “{title}”.",
    "en": "{size} conversations about {about}. Common words: {themes}. Representative conversation: “{title}”.",
    "zh": "关于{name}的{size}个对话。常见词：{themes}。代表对话：“{title}”。",
    "ja": "{name}に関する{size}件の会話です。よく出る言葉：{themes}。代表的な会話：「{title}」。",
}
_SEPARATORS = {"ko": ", ", "en": ", ", "zh": "、", "ja": "、"}


@dataclass(slots=True)
class ClusterLabel:
    """Name, description and themes of one cluster."""

    name: str
    description: str
    key_themes: list[str]


@lru_cache(maxsize=1)
def proper_names() -> dict[str, str]:
    """Lower-case form -> proper spelling of names kept as written (``data/proper_names.txt``)."""
    text = resources.files("pipelines").joinpath("data/proper_names.txt").read_text("utf-8")
    names = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return {name.lower(): name for name in names}


@lru_cache(maxsize=1)
def _lexicon_nouns() -> list[tuple[str, tuple[str, ...]]]:
    """The lexicon's noun entries (verb and adjective stems cannot stand in a name)."""
    text = resources.files("pipelines").joinpath("data/ko_en_lexicon.tsv").read_text("utf-8")
    nouns = []
    for line in text.split("\n# stems", 1)[0].splitlines():
        if "\t" in line and not line.startswith("#"):
            korean, english = line.split("\t", 1)
            senses = tuple(w.strip().lower() for w in english.split("|") if w.strip())
            if korean.strip() and senses:
                nouns.append((korean.strip(), senses))
    return nouns


@lru_cache(maxsize=1)
def english_to_korean() -> dict[str, tuple[str, ...]]:
    """English word -> the Korean lexicon nouns whose primary sense it is, the likeliest first: words
    of two syllables or more, shorter first, then as listed."""
    candidates: dict[str, list[str]] = {}
    for korean, senses in _lexicon_nouns():
        candidates.setdefault(senses[0], []).append(korean)
    return {
        english: tuple(sorted(found, key=lambda k: (len(k) < 2, len(k), found.index(k))))
        for english, found in candidates.items()
    }


@lru_cache(maxsize=1)
def content_words() -> frozenset[str]:
    """English words known to name things: the senses of the lexicon's nouns, the vocabulary's
    seed words and proper names."""
    words = {sense for _, senses in _lexicon_nouns() for sense in senses}
    words.update(seed for topic in load_vocabulary().topics for seed in topic.seeds)
    return frozenset(words) | frozenset(proper_names())


@lru_cache(maxsize=65536)
def display_term(term: str, language: str) -> str:
    """A term as shown to a reader of ``language``: Korean glossed for every language but ``ko``;
    proper names such as React or ETF in their own spelling."""
    if has_hangul(term):
        if language != "ko":
            glosses = load_lexicon().get(term)
            if glosses:
                return proper_names().get(glosses[0], glosses[0])
        return term
    return proper_names().get(term.lower(), term)


def _is_term(token: str) -> bool:
    """Whether a feature can be shown as a theme: a Korean noun, or an English word that names
    something (not a verb stem, unit, number, contraction or filler)."""
    if token in NAME_STOP or any(ch.isdigit() or ch == "'" for ch in token):
        return False
    if has_hangul(token):
        return not (token.endswith("다") and token not in load_lexicon())
    return len(token) > 1 and token in content_words()


def _identity(tokens: list[str]) -> list[str]:
    return tokens


def _node_tokens(keywords: list[list[Keyword]], features: list[list[str]] | None) -> list[list[str]]:
    if features is not None:
        return features
    lexicon = load_lexicon()
    tokens: list[list[str]] = []
    for node in keywords:
        terms = [k.term for k in node]
        tokens.append(terms + [lexicon[t][0] for t in terms if t in lexicon])
    return tokens


class TermTable:
    """Which conversation uses which displayed term, for ranking terms by how much they cover."""

    def __init__(self, tokens: list[list[str]], language: str) -> None:
        korean = {t for node in tokens for t in node if has_hangul(t)} if language == "ko" else set()
        translate = {
            english: next(k for k in found if k in korean)
            for english, found in english_to_korean().items()
            if english not in proper_names() and any(k in korean for k in found)
        }

        def shown_as(term: str) -> str:  # English into Korean only in a word this history uses
            return translate.get(term) or display_term(term, language)

        shown = [list({shown_as(t) for t in node if _is_term(t)}) for node in tokens]
        self.empty = not any(shown)
        if self.empty:
            return
        vectorizer = CountVectorizer(analyzer=_identity, binary=True, dtype=np.float32)
        self.matrix = sparse.csr_matrix(vectorizer.fit_transform(shown))
        self.terms = vectorizer.get_feature_names_out()
        self.total = np.asarray(self.matrix.sum(axis=0)).ravel()
        self.nodes = len(tokens)

    def covering(
        self, members: np.ndarray, reference: np.ndarray | None = None, limit: int = THEMES
    ) -> list[str]:
        """Terms most ``members`` use and few others use (``reference``: the others, default all)."""
        if self.empty or len(members) == 0:
            return []
        inside = np.asarray(self.matrix[members].sum(axis=0)).ravel()
        if reference is None:
            outside, others = self.total - inside, max(1, self.nodes - len(members))
        else:
            outside, others = np.asarray(self.matrix[reference].sum(axis=0)).ravel(), max(1, len(reference))
        share_in = inside / len(members)
        share_out = outside / others
        score = share_in * np.log1p(share_in / (share_out + 0.05))
        floor = 2 if len(members) >= 3 else 1
        score[inside < floor] = 0.0
        order = np.lexsort((self.terms, -score))
        return [str(self.terms[i]) for i in order[:limit] if score[i] > 0]


def _choose_topics(coverage: np.ndarray, distinct: np.ndarray) -> dict[int, int]:
    """Row -> topic column, each topic to at most one row, best matches first."""
    chosen: dict[int, int] = {}
    used: set[int] = set()
    best = coverage.max(axis=1) if coverage.size else np.zeros(0)
    pairs = [
        (float(distinct[row, column]), row, column)
        for row in range(coverage.shape[0])
        for column in np.argsort(-distinct[row])[:3].tolist()
        if coverage[row, column] >= MIN_COVERAGE and coverage[row, column] >= SECOND_CHOICE * best[row]
    ]
    for _, row, column in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):
        if row not in chosen and column not in used:
            chosen[row] = column
            used.add(column)
    return chosen


def _in_sentence(name: str) -> str:
    """A name as it reads inside an English sentence: "Travel in Japan" -> "travel in Japan"."""
    first = name.split(" ", 1)[0]
    if first.lower() in proper_names() or first.isupper() or first[1:2].isupper():
        return name
    return name[:1].lower() + name[1:]


def _join(parts: list[str]) -> str:
    return " · ".join(parts)


def label_clusters(
    labels: np.ndarray,
    keywords: list[list[Keyword]],
    titles: dict[int, str],
    language: str,
    features: list[list[str]] | None = None,
    topics: TopicAffinity | None = None,
) -> dict[int, ClusterLabel]:
    """A label for every cluster; ``titles`` gives each cluster's representative title,
    ``features`` each node's bilingual features (without them the keywords stand in) and ``topics``
    the nodes' affinity with the vocabulary topics (without it, seed words are matched)."""
    language = language if language in _DESCRIPTIONS else "en"
    tokens = _node_tokens(keywords, features)
    table = TermTable(tokens, language)
    clusters = sorted(set(labels.tolist()))
    members = {label: np.flatnonzero(labels == label) for label in clusters}
    matches = topics.scores() if topics is not None else topic_matches(tokens)
    coverage = np.vstack([matches[members[label]].mean(axis=0) for label in clusters])
    outside = np.vstack(
        [
            matches[labels != label].mean(axis=0)
            if len(members[label]) < len(labels)
            else np.zeros(matches.shape[1])
            for label in clusters
        ]
    )
    chosen = _choose_topics(coverage, coverage - 0.5 * outside)
    vocabulary = load_vocabulary().topics
    taken: set[str] = set()
    result: dict[int, ClusterLabel] = {}
    for row, label in enumerate(clusters):
        themes = table.covering(members[label])
        if row in chosen:
            name = vocabulary[chosen[row]].label(language)
        else:
            name = _join(themes[:2]) or f"cluster {label + 1}"
        extra = [t for t in themes if t.lower() not in name.lower()]
        if name in taken and extra:
            name = _join([name, extra[0]])
        if name in taken:
            name = f"{name} ({label + 1})"
        taken.add(name)
        description = _DESCRIPTIONS[language].format(
            name=name,
            about=_in_sentence(name),
            themes=_SEPARATORS[language].join(themes[:3]) or name,
            size=len(members[label]),
            title=titles.get(label, ""),
        )
        result[label] = ClusterLabel(name=name, description=description, key_themes=themes)
    return result


def label_subclusters(
    groups: list[tuple[int, list[int]]],
    labels: np.ndarray,
    keywords: list[list[Keyword]],
    language: str,
    cluster_names: dict[int, str],
    features: list[list[str]] | None = None,
    topics: TopicAffinity | None = None,
) -> list[str]:
    """A name for every ``(cluster, members)`` group: the vocabulary topic that sets it apart inside
    its cluster when one does, else the terms that do, skipping words its cluster's name says."""
    language = language if language in _DESCRIPTIONS else "en"
    table = TermTable(_node_tokens(keywords, features), language)
    scores = topics.scores() if topics is not None else None
    vocabulary = load_vocabulary().topics
    names: list[str] = []
    taken: set[str] = set()
    for cluster, group in groups:
        members = np.asarray(group)
        siblings = np.setdiff1d(np.flatnonzero(labels == cluster), members)
        parent = cluster_names.get(cluster, "")
        name = ""
        if scores is not None and len(siblings):
            inside, outside = scores[members].mean(axis=0), scores[siblings].mean(axis=0)
            best = int(np.argmax(inside - outside))
            label = vocabulary[best].label(language)
            if inside[best] >= MIN_COVERAGE and inside[best] >= 1.5 * outside[best] and label != parent:
                name = label
        if not name or name in taken:
            reference = siblings if len(siblings) else None
            terms = [
                t for t in table.covering(members, reference, limit=8) if t.lower() not in parent.lower()
            ]
            if len(terms) < 2:
                terms += [t for t in table.covering(members, None, limit=8) if t not in terms]
            name = _join(terms[:2]) or parent
            if name in taken and len(terms) > 2:
                name = _join(terms[:3])
        taken.add(name)
        names.append(name)
    return names
