"""Stored cluster rows: what graph generation and add-node write per cluster, and reading them back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from models.add_node import ExistingCluster
from models.graph import GraphDocument
from pipelines.add_node.clusters import KnownCluster
from pipelines.add_node.index import Scalar
from pipelines.add_node.place import Placed
from pipelines.profiles import ClusterProfile, profile_from_row, profile_row

#: A stored cluster row: (row id, mean semantic vector of its members, metadata).
ClusterRow = tuple[str, np.ndarray, dict[str, Scalar]]


def cluster_row(
    user_id: str, cluster: KnownCluster, profile: ClusterProfile, dim: int, task_id: str | None = None
) -> ClusterRow:
    """A stored row of ``cluster`` holding ``profile``: what ``clusters_from_rows`` reads back.

    Graph generation writes one row per cluster (id ``{user}_{cluster}``); an add-node task writes one
    row per cluster it added items to, holding only those items (id ``{user}_{cluster}_{task}``).
    """
    vector, metadata = profile_row(profile, dim)
    metadata |= {
        "cluster_id": cluster.id,
        "cluster_name": cluster.name,
        "description": cluster.description,
        "themes": ", ".join(cluster.themes),
    }
    suffix = f"_{task_id}" if task_id else ""
    return f"{user_id}_{cluster.id}{suffix}", vector, metadata


def graph_cluster_rows(
    user_id: str, graph: GraphDocument, profiles: Mapping[str, ClusterProfile], dim: int
) -> list[ClusterRow]:
    """One row per cluster of a freshly generated graph."""
    return [
        cluster_row(
            user_id,
            KnownCluster(
                id=cluster_id, name=info.name, description=info.description, themes=list(info.key_themes)
            ),
            profiles[cluster_id],
            dim,
        )
        for cluster_id, info in sorted(graph.metadata.clusters.items())
        if cluster_id in profiles
    ]


def batch_cluster_rows(user_id: str, task_id: str, placed: Sequence[Placed], dim: int) -> list[ClusterRow]:
    """One row per cluster the batch added items to, holding those items (a new cluster's cohesion too)."""
    added: dict[str, tuple[KnownCluster, ClusterProfile]] = {}
    for entry in placed:
        if entry.assignment is None or entry.point is None:
            continue
        cluster = entry.assignment.cluster
        if cluster.id not in added:
            cohesion = cluster.profile.cohesion if cluster.is_new and cluster.profile is not None else 0.0
            added[cluster.id] = (cluster, ClusterProfile(cohesion=cohesion))
        added[cluster.id][1].add(entry.point.semantic, entry.point.features)
    return [
        cluster_row(user_id, cluster, profile.truncated(), dim, task_id)
        for cluster, profile in (added[k] for k in sorted(added))
    ]


def clusters_from_rows(
    vectors: np.ndarray, metadatas: Sequence[Mapping[str, Any]], existing: Sequence[ExistingCluster]
) -> dict[str, KnownCluster]:
    """Clusters from the backend's ``existingClusters`` and the user's stored cluster rows (merged by id)."""
    clusters: dict[str, KnownCluster] = {}
    for given in existing:
        clusters[given.id] = KnownCluster(
            id=given.id,
            name=given.name or given.id,
            description=given.description or "",
            themes=[t for t in given.themes if t],
        )
    for vector, metadata in zip(vectors, metadatas, strict=True):
        cluster_id = str(metadata.get("cluster_id") or "")
        profile = profile_from_row(vector, metadata)
        if not cluster_id or profile is None:
            continue
        known = clusters.setdefault(cluster_id, KnownCluster(id=cluster_id))
        known.name = known.name or str(metadata.get("cluster_name") or cluster_id)
        known.description = known.description or str(metadata.get("description") or "")
        if not known.themes:
            known.themes = [t.strip() for t in str(metadata.get("themes") or "").split(",") if t.strip()]
        if known.profile is None:
            known.profile = profile
        else:
            known.profile.merge(profile)
    return clusters
