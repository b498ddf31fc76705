"""The graph generation pipeline: items in, ``graph.json`` and ``features.json`` documents out.

Stages, as the backend's progress messages number them: 1 embedding, 2 keywords, 3 clusters,
4 similarity edges, 5 refinement (subclusters, names, assembly). Pure computation: the actor does
the reading, writing and indexing. Texts a previous graph of the user already analysed and embedded
(``known``, see ``pipelines.reuse``) are reused; the documents are the same either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from models.base import utc_now_iso
from models.graph import (
    ClusterInfo,
    FeatureRow,
    FeaturesDocument,
    GraphDocument,
    GraphEdge,
    GraphMetadata,
    GraphNode,
    Subcluster,
)
from models.source import SourceItem
from pipelines.cluster import cluster
from pipelines.edges import similarity_edges
from pipelines.embed import Embedded, Embedder, Known, release_free_memory
from pipelines.keywords import TOP_KEYWORDS, extract_keywords
from pipelines.naming import label_clusters, label_subclusters
from pipelines.profiles import ClusterProfile, graph_profiles
from pipelines.space import similarity_space
from pipelines.subclusters import find_subclusters
from pipelines.topics import topic_affinity

#: Called with (stage number 1-5, fraction of that stage done).
StageReporter = Callable[[int, float], None]


@dataclass(frozen=True, slots=True)
class GraphParams:
    """What the request asks of the graph."""

    language: str = "ko"
    min_clusters: int = 3
    max_clusters: int = 8
    num_clusters: int | None = None


@dataclass(slots=True)
class GraphBuild:
    """The pipeline's outputs: both documents, the stored vectors (rows match ``graph.nodes``),
    each cluster's profile (what add-node compares new items with), by cluster id, and the embedding
    (analyses and semantic vectors, what the next graph of the user can reuse)."""

    graph: GraphDocument
    features: FeaturesDocument
    vectors: np.ndarray
    profiles: dict[str, ClusterProfile]
    embedded: Embedded


def iso_time(epoch: float | None) -> str | None:
    """Epoch seconds as an ISO-8601 UTC string."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _silent(stage: int, fraction: float) -> None:
    return None


def build_graph(
    items: list[SourceItem],
    embedder: Embedder,
    params: GraphParams,
    report: StageReporter = _silent,
    known: list[Known | None] | None = None,
) -> GraphBuild:
    """Run stages 1-5 over ``items`` (at least one); ``known[i]`` is reused for ``items[i]``."""
    if not items:
        raise ValueError("build_graph needs at least one item")

    report(1, 0.0)
    embedded = embedder.embed([item.text for item in items], progress=lambda f: report(1, f), known=known)
    report(1, 1.0)

    report(2, 0.0)
    keywords = extract_keywords(embedded.analyses)
    report(2, 1.0)

    report(3, 0.0)
    features_of = [analysis.features for analysis in embedded.analyses]
    topics = topic_affinity(features_of, embedded.semantic, embedder.encoder)
    points = similarity_space(embedded, topics)
    clustering = cluster(
        points,
        min_clusters=params.min_clusters,
        max_clusters=params.max_clusters,
        num_clusters=params.num_clusters,
    )
    release_free_memory()  # the TF-IDF and LSA intermediates of a large history
    report(3, 1.0)

    report(4, 0.0)
    edges = similarity_edges(points)
    release_free_memory()
    report(4, 1.0)

    report(5, 0.0)
    labels = clustering.labels
    communities = find_subclusters(points, labels, keywords)
    report(5, 0.5)
    representative_titles = {}
    for label in range(clustering.k):
        members = np.flatnonzero(labels == label)
        best = members[int(np.argmax(points[members] @ clustering.centroids[label]))]
        representative_titles[label] = items[best].title or items[best].orig_id
    names = label_clusters(labels, keywords, representative_titles, params.language, features_of, topics)
    subcluster_names = label_subclusters(
        [(c.cluster, c.members) for c in communities],
        labels,
        keywords,
        params.language,
        {label: names[label].name for label in names},
        features_of,
        topics,
    )
    cluster_ids = {label: f"cluster_{label + 1}" for label in range(clustering.k)}
    profiles = {
        cluster_ids[label]: profile
        for label, profile in graph_profiles(labels, features_of, embedded.semantic).items()
    }

    subcluster_of: dict[int, str] = {}
    subclusters: list[Subcluster] = []
    for index, (community, subcluster_name) in enumerate(
        zip(communities, subcluster_names, strict=True), start=1
    ):
        subcluster_id = f"subcluster_{index}"
        for node in community.members:
            subcluster_of[node] = subcluster_id
        subclusters.append(
            Subcluster(
                id=subcluster_id,
                cluster_id=cluster_ids[community.cluster],
                node_ids=community.members,
                representative_node_id=community.representative,
                size=len(community.members),
                density=community.density,
                top_keywords=community.top_keywords,
                name=subcluster_name or None,
                cohesion_score=community.cohesion,
                internal_edges=community.internal_edges,
            )
        )

    nodes = [
        GraphNode(
            id=i,
            orig_id=item.orig_id,
            cluster_id=cluster_ids[int(labels[i])],
            cluster_name=names[int(labels[i])].name,
            cluster_confidence=round(float(clustering.confidence[i]), 4),
            keywords=keywords[i],
            top_keywords=[k.term for k in keywords[i][:TOP_KEYWORDS]],
            timestamp=iso_time(item.create_time if item.create_time is not None else item.update_time),
            num_sections=item.num_sections,
            source_type=item.source_type,
            title=item.title,
            subcluster_id=subcluster_of.get(i),
        )
        for i, item in enumerate(items)
    ]
    graph_edges = [
        GraphEdge(
            source=int(s),
            target=int(t),
            weight=round(float(w), 4),
            is_intra_cluster=bool(labels[s] == labels[t]),
            confidence=c,
        )
        for s, t, w, c in zip(edges.sources, edges.targets, edges.weights, edges.confidence, strict=True)
    ]
    metadata = GraphMetadata(
        generated_at=utc_now_iso(),
        total_nodes=len(nodes),
        total_edges=len(graph_edges),
        total_clusters=clustering.k,
        clusters={
            cluster_ids[label]: ClusterInfo(
                name=names[label].name,
                description=names[label].description,
                size=int(np.sum(labels == label)),
                key_themes=names[label].key_themes,
            )
            for label in range(clustering.k)
        },
        language=params.language,
        high_confidence_threshold=round(edges.high_threshold, 4),
    )
    graph = GraphDocument(nodes=nodes, edges=graph_edges, subclusters=subclusters, metadata=metadata)
    # constructed without re-validating the 384 floats per node that numpy already guarantees; the
    # embeddings stay a matrix (the document writes it row by row)
    features = FeaturesDocument.model_construct(
        conversations=[
            FeatureRow(
                id=i,
                orig_id=item.orig_id,
                title=item.title,
                keywords=keywords[i],
                num_sections=item.num_sections,
                source_type=item.source_type,
                create_time=item.create_time,
                update_time=item.update_time,
            )
            for i, item in enumerate(items)
        ],
        embeddings=np.round(embedded.vectors, 6),  # type: ignore[arg-type]  # written row by row
        metadata={"embedding_model": embedder.name, "embedding_dim": embedder.dim, "total": len(items)},
    )
    report(5, 1.0)
    return GraphBuild(graph, features, embedded.vectors, profiles, embedded)
