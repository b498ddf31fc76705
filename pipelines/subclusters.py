"""Subclusters: Louvain communities of each cluster's nearest-neighbour graph (networkx)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import networkx as nx
import numpy as np

from models.graph import Keyword
from pipelines.edges import nearest_pairs

#: Neighbours per node inside a cluster.
NEIGHBOURS = 5
#: Clusters smaller than this are one subcluster.
MIN_SPLIT_SIZE = 6
#: Louvain resolution; above 1 favours smaller communities.
RESOLUTION = 1.0


@dataclass(slots=True)
class Community:
    """One subcluster before it is named: member node ids and its figures."""

    cluster: int
    members: list[int]
    representative: int
    density: float
    cohesion: float
    internal_edges: int
    top_keywords: list[str]


def _top_terms(members: list[int], keywords: list[list[Keyword]], limit: int = 5) -> list[str]:
    totals: dict[str, float] = defaultdict(float)
    for node in members:
        for keyword in keywords[node]:
            totals[keyword.term] += keyword.score
    return [term for term, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


def _describe(
    cluster: int, members: list[int], graph: nx.Graph, points: np.ndarray, keywords: list[list[Keyword]]
) -> Community:
    vectors = points[members]
    total = vectors.sum(axis=0)
    size = len(members)
    cohesion = float((total @ total - size) / (size * (size - 1))) if size > 1 else 1.0
    representative = members[int(np.argmax(vectors @ total))]
    subgraph = graph.subgraph(members)
    return Community(
        cluster=cluster,
        members=sorted(members),
        representative=representative,
        density=round(float(nx.density(subgraph)) if size > 1 else 1.0, 4),
        cohesion=round(cohesion, 4),
        internal_edges=subgraph.number_of_edges(),
        top_keywords=_top_terms(members, keywords),
    )


def find_subclusters(
    points: np.ndarray, labels: np.ndarray, keywords: list[list[Keyword]], seed: int = 0
) -> list[Community]:
    """Communities inside every cluster; every node belongs to exactly one."""
    communities: list[Community] = []
    for cluster in sorted(set(labels.tolist())):
        members = np.flatnonzero(labels == cluster)
        graph = nx.Graph()
        graph.add_nodes_from(members.tolist())
        local = points[members]
        sources, targets, weights = nearest_pairs(local, NEIGHBOURS, min_similarity=0.0)
        graph.add_weighted_edges_from(
            zip(members[sources].tolist(), members[targets].tolist(), weights.tolist(), strict=True)
        )
        if len(members) < MIN_SPLIT_SIZE:
            groups = [members.tolist()]
        else:
            found = nx.community.louvain_communities(graph, weight="weight", resolution=RESOLUTION, seed=seed)
            groups = sorted((sorted(g) for g in found), key=lambda g: (-len(g), g[0]))
        communities.extend(_describe(cluster, group, graph, points, keywords) for group in groups)
    return communities
