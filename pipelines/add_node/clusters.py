"""Choosing a cluster for an item: the known clusters, their scores, and new clusters.

A cluster's score is the item's similarity with the cluster's profile (profiles.py), in the space
the graph itself was clustered in. A cluster is close enough when that similarity is at least
``NEW_CLUSTER_RATIO`` of the cluster's cohesion (its members' mean similarity with it). A cluster
known only from the text the backend gave for it (name, description, themes) is scored by the
item's similarity with that text, close enough from ``TEXT_MIN_SIMILARITY``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pipelines.add_node.index import Neighbour
from pipelines.profiles import ClusterProfile, TermVector, TermWeights, similarity

#: A cluster is close enough when the item's similarity with its profile is this share of its cohesion.
NEW_CLUSTER_RATIO = 0.3
#: A cluster known only from its name, description and themes is close enough at this similarity.
TEXT_MIN_SIMILARITY = 0.1
#: Cohesion of a cluster opened by this batch while no known cluster has a profile to compare with.
NEW_CLUSTER_COHESION = 0.5


@dataclass(slots=True)
class KnownCluster:
    """What is known about one cluster: its members' profile, its text and the text's vector."""

    id: str
    name: str = ""
    description: str = ""
    themes: list[str] = field(default_factory=list)
    profile: ClusterProfile | None = None
    text_vector: np.ndarray | None = None
    is_new: bool = False


@dataclass(slots=True)
class Assignment:
    """Where an item went and why."""

    cluster: KnownCluster
    is_new: bool
    confidence: float
    similarity: float
    voters: int
    neighbours: int
    reasoning: str = ""


def fresh_cluster_id(taken: set[str]) -> str:
    """``cluster_{n}`` with ``n`` one above the highest number taken (never a taken id)."""
    numbers = [int(t.split("_", 1)[1]) for t in taken if t.startswith("cluster_") and t[8:].isdigit()]
    n = max(numbers, default=0) + 1
    while f"cluster_{n}" in taken:
        n += 1
    return f"cluster_{n}"


@dataclass(slots=True)
class ItemPoint:
    """One item as clusters are compared with it: stored vector, semantic vector, features and their weights."""

    vector: np.ndarray
    semantic: np.ndarray | None
    features: list[str]
    terms: TermVector


class ClusterChooser:
    """Scores the known clusters for an item and opens new ones; updated as items are added."""

    def __init__(self, clusters: dict[str, KnownCluster], taken_ids: set[str]) -> None:
        self.clusters = clusters
        self.taken = set(taken_ids) | set(clusters)
        profiles = [c.profile for c in clusters.values() if c.profile is not None]
        self.weights = TermWeights(profiles)
        cohesions = [p.cohesion for p in profiles if p.cohesion > 0]
        self.new_cohesion = float(np.mean(cohesions)) if cohesions else NEW_CLUSTER_COHESION
        self._profile_terms: dict[str, TermVector] = {}  # per cluster id, until a member is added

    def point(self, vector: np.ndarray, semantic: np.ndarray | None, features: list[str]) -> ItemPoint:
        """``ItemPoint`` of an embedded item."""
        return ItemPoint(vector, semantic, features, self.weights.item_terms(features))

    def choose(self, point: ItemPoint, neighbours: Sequence[Neighbour]) -> Assignment | None:
        """The best cluster for ``point``, or ``None`` when nothing is close enough."""
        best: tuple[float, float, KnownCluster] | None = None
        for cluster in sorted(self.clusters.values(), key=lambda c: c.id):
            score, closeness = self.score(cluster, point)
            if score is not None and (best is None or score > best[0]):
                best = (score, closeness, cluster)
        if best is None or best[1] < 1.0:
            return None
        score, closeness, cluster = best
        voters = sum(1 for n in neighbours if n.metadata.get("cluster_id") == cluster.id)
        return Assignment(
            cluster=cluster,
            is_new=False,
            confidence=round(min(1.0, max(0.0, closeness * NEW_CLUSTER_RATIO)), 4),
            similarity=score,
            voters=voters,
            neighbours=len(neighbours),
        )

    def score(self, cluster: KnownCluster, point: ItemPoint) -> tuple[float | None, float]:
        """(similarity, closeness) of a cluster, closeness 1.0 at the bar; ``None`` when nothing is known."""
        profile = cluster.profile
        if profile is not None and profile.count > 0:
            if cluster.id not in self._profile_terms:
                self._profile_terms[cluster.id] = self.weights.profile_terms(profile)
            value = similarity(point.semantic, point.terms, profile, self._profile_terms[cluster.id])
            cohesion = profile.cohesion if profile.cohesion > 0 else self.new_cohesion
            return value, value / (NEW_CLUSTER_RATIO * cohesion)
        if cluster.text_vector is not None:
            value = float(cluster.text_vector @ point.vector)
            return value, value / TEXT_MIN_SIMILARITY
        return None, 0.0

    def open_cluster(self, name: str, description: str, themes: list[str]) -> KnownCluster:
        """A new cluster with a fresh id."""
        cluster = KnownCluster(
            id=fresh_cluster_id(self.taken),
            name=name,
            description=description,
            themes=themes,
            profile=ClusterProfile(cohesion=self.new_cohesion),
            is_new=True,
        )
        self.taken.add(cluster.id)
        self.clusters[cluster.id] = cluster
        return cluster

    def add_member(self, cluster: KnownCluster, point: ItemPoint) -> None:
        """Count ``point`` in ``cluster``'s profile."""
        if cluster.profile is None:
            cluster.profile = ClusterProfile(cohesion=self.new_cohesion)
        cluster.profile.add(point.semantic, point.features)
        self._profile_terms.pop(cluster.id, None)
