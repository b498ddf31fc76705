"""Cluster profiles: a user's clusters as add-node compares new items with them.

Graph generation clusters in a space of sentence meaning plus TF-IDF-weighted bilingual terms
(space.py). A profile keeps what is needed to compare a new item with a cluster in that same space
without the cluster's members: the sum of their semantic vectors and, for the most common terms, how
many members contain each. Inverse document frequencies come from all of a user's profiles together,
so words every topic shares ("eat", "doctor") weigh little and a topic's own words decide.

A profile's ``cohesion`` is its members' mean similarity with it, each member left out of the profile
it is compared with (what a new member can be expected to score); an item is close to a cluster when
its similarity reaches a share of that cohesion.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipelines.space import SEMANTIC_WEIGHT

#: Terms kept per profile (the ones most members contain).
PROFILE_TERMS = 500
#: Members per cluster whose similarity is averaged into its cohesion (a seeded sample above this).
COHESION_SAMPLE = 200

#: An item's weighted terms, unit length.
TermVector = dict[str, float]


@dataclass(slots=True)
class ClusterProfile:
    """The members of one cluster, summed: semantic vectors and term document frequencies."""

    count: int = 0
    semantic_sum: np.ndarray | None = None
    term_counts: Counter[str] = field(default_factory=Counter)
    cohesion: float = 0.0

    def add(self, semantic: np.ndarray | None, features: Iterable[str]) -> None:
        """Count one more member."""
        self.count += 1
        if semantic is not None:
            as_float = semantic.astype(np.float64)
            self.semantic_sum = as_float if self.semantic_sum is None else self.semantic_sum + as_float
        self.term_counts.update(set(features))

    def merge(self, other: ClusterProfile) -> None:
        """Add ``other``'s members (another stored row of the same cluster); the first known cohesion stays."""
        self.count += other.count
        if other.semantic_sum is not None:
            self.semantic_sum = (
                other.semantic_sum.copy()
                if self.semantic_sum is None
                else self.semantic_sum + other.semantic_sum
            )
        self.term_counts.update(other.term_counts)
        self.cohesion = self.cohesion or other.cohesion

    def truncated(self, limit: int = PROFILE_TERMS) -> ClusterProfile:
        """This profile with only its ``limit`` most common terms (what is stored)."""
        kept = sorted(self.term_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        return ClusterProfile(self.count, self.semantic_sum, Counter(dict(kept)), self.cohesion)


class TermWeights:
    """Inverse document frequencies of terms over a user's cluster profiles."""

    def __init__(self, profiles: Iterable[ClusterProfile]) -> None:
        self.frequency: Counter[str] = Counter()
        self.documents = 0
        for profile in profiles:
            self.frequency.update(profile.term_counts)
            self.documents += profile.count

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency (an unseen term weighs most)."""
        return math.log((self.documents + 1) / (self.frequency.get(term, 0) + 1)) + 1.0

    def item_terms(self, features: Sequence[str]) -> TermVector:
        """An item's features as a unit TF-IDF vector (sublinear term frequency)."""
        weights = {t: (1.0 + math.log(n)) * self.idf(t) for t, n in Counter(features).items()}
        return _unit(weights)

    def profile_terms(self, profile: ClusterProfile) -> TermVector:
        """A profile's term vector: share of members holding each term times its IDF, unit length."""
        if profile.count == 0:
            return {}
        return _unit({t: n / profile.count * self.idf(t) for t, n in profile.term_counts.items()})


def _unit(weights: dict[str, float]) -> TermVector:
    norm = math.sqrt(sum(w * w for w in weights.values()))
    return {t: w / norm for t, w in weights.items()} if norm > 0 else {}


def similarity(
    semantic: np.ndarray | None, terms: TermVector, profile: ClusterProfile, profile_terms: TermVector
) -> float:
    """An item's similarity with a profile in the graph's space (semantic and term cosines, weighted)."""
    term_part = sum(w * profile_terms.get(t, 0.0) for t, w in terms.items())
    return _weighted(term_part, semantic, profile.semantic_sum)


def _weighted(term_part: float, semantic: np.ndarray | None, semantic_sum: np.ndarray | None) -> float:
    """The term cosine joined with the semantic cosine of ``semantic`` and ``semantic_sum``, if both exist."""
    if semantic is None or semantic_sum is None:
        return term_part
    norm = float(np.linalg.norm(semantic_sum))
    semantic_part = float(semantic_sum @ semantic) / norm if norm > 0 else 0.0
    return SEMANTIC_WEIGHT * semantic_part + (1 - SEMANTIC_WEIGHT) * term_part


def graph_profiles(
    labels: np.ndarray,
    features: Sequence[Sequence[str]],
    semantic: np.ndarray | None,
    seed: int = 0,
) -> dict[int, ClusterProfile]:
    """One stored-size profile per cluster label, with its cohesion (sampled above ``COHESION_SAMPLE``)."""
    full: dict[int, ClusterProfile] = {}
    for index, label in enumerate(labels.tolist()):
        vector = semantic[index] if semantic is not None else None
        full.setdefault(int(label), ClusterProfile()).add(vector, features[index])
    profiles = {label: profile.truncated() for label, profile in full.items()}
    weights = TermWeights(profiles.values())
    rng = np.random.default_rng(seed)
    for label, profile in profiles.items():
        members = np.flatnonzero(labels == label)
        if len(members) > COHESION_SAMPLE:
            members = np.sort(rng.choice(members, COHESION_SAMPLE, replace=False))
        left_out = _LeftOut(profile, weights)
        scores = [
            left_out.similarity(semantic[i] if semantic is not None else None, features[i])
            for i in members.tolist()
        ]
        profile.cohesion = float(np.mean(scores)) if scores else 0.0
    return profiles


class _LeftOut:
    """Members' similarity with their cluster's profile without themselves (how close a new member is).

    Removing one member changes only its own terms' counts, so each similarity costs the member's own
    terms, not the profile's.
    """

    def __init__(self, profile: ClusterProfile, weights: TermWeights) -> None:
        self.profile = profile
        self.weights = weights
        self.idf = {t: weights.idf(t) for t in profile.term_counts}
        self.square_sum = sum((n * self.idf[t]) ** 2 for t, n in profile.term_counts.items())

    def similarity(self, semantic: np.ndarray | None, features: Sequence[str]) -> float:
        profile = self.profile
        if profile.count < 2:
            return 0.0
        terms = self.weights.item_terms(features)
        dot, square_sum = 0.0, self.square_sum
        for term, weight in terms.items():
            held = profile.term_counts.get(term, 0)
            if held:  # this member counted once in ``held``
                idf = self.idf[term]
                dot += weight * (held - 1) * idf
                square_sum -= (2 * held - 1) * idf * idf
        term_part = dot / math.sqrt(square_sum) if square_sum > 1e-12 else 0.0
        rest = None if semantic is None or profile.semantic_sum is None else profile.semantic_sum - semantic
        return _weighted(term_part, semantic, rest)


def profile_row(profile: ClusterProfile, dim: int) -> tuple[np.ndarray, dict[str, str | int | float | bool]]:
    """A profile as a stored row: its mean semantic vector and metadata (count, cohesion, terms).

    Rows are read back by user, never searched by vector; a profile without semantic vectors (the
    lexical embedder) is stored with a placeholder unit vector and ``semantic: false``.
    """
    if profile.semantic_sum is not None and profile.count > 0:
        vector = (profile.semantic_sum / profile.count).astype(np.float32)
    else:
        vector = np.zeros(dim, dtype=np.float32)
        vector[0] = 1.0
    metadata: dict[str, str | int | float | bool] = {
        "count": profile.count,
        "cohesion": round(profile.cohesion, 6),
        "semantic": profile.semantic_sum is not None,
        "terms": json.dumps(dict(profile.term_counts), ensure_ascii=False, separators=(",", ":")),
    }
    return vector, metadata


def profile_from_row(vector: np.ndarray, metadata: Mapping[str, Any]) -> ClusterProfile | None:
    """The profile of a stored row, or ``None`` when the row holds none (no members, unreadable terms)."""
    count = int(metadata.get("count") or 0)
    try:
        terms = json.loads(str(metadata.get("terms") or "{}"))
    except ValueError:
        return None
    if count < 1 or not isinstance(terms, dict):
        return None
    semantic = vector.astype(np.float64) * count if metadata.get("semantic") else None
    counts = Counter({str(t): int(n) for t, n in terms.items() if isinstance(n, int)})
    return ClusterProfile(count, semantic, counts, float(metadata.get("cohesion") or 0.0))
