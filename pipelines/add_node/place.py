"""Placing a batch: each item embedded, given a cluster and edges, and added to the index in order."""

from __future__ import annotations

from dataclasses import dataclass, field

from models.graph import Keyword
from models.source import SourceItem
from pipelines.add_node.batch import BatchItem
from pipelines.add_node.clusters import Assignment, ClusterChooser, ItemPoint, KnownCluster
from pipelines.add_node.index import NodeIndex, Scalar, node_id
from pipelines.add_node.reasoning import Explainer, Namer, new_cluster_label, reasoning, shared_terms
from pipelines.embed import Embedder
from pipelines.graph_generation import iso_time
from pipelines.keywords import TOP_KEYWORDS, extract_keywords

#: Nearest stored nodes asked for per item (edges, and the reasoning's neighbour count).
NEIGHBOURS = 15
#: Edges drawn per item, at most.
EDGES_PER_ITEM = 5
#: Below this similarity (stored-vector space) no edge is drawn.
EDGE_MIN_SIMILARITY = 0.2


@dataclass(slots=True)
class Placed:
    """The outcome for one item (``assignment`` is ``None`` when the item was skipped)."""

    batch_item: BatchItem
    node_id: str | None = None
    assignment: Assignment | None = None
    edges: list[tuple[str, float, bool]] = field(default_factory=list)
    keywords: list[Keyword] = field(default_factory=list)
    point: ItemPoint | None = None


def vector_metadata(
    user_id: str, task_id: str, item: SourceItem, cluster: KnownCluster, keywords: list[Keyword]
) -> dict[str, Scalar]:
    """Index metadata of an added node, as graph generation writes it (no nulls)."""
    row: dict[str, Scalar | None] = {
        "userId": user_id,
        "orig_id": item.orig_id,
        "cluster_id": cluster.id,
        "cluster_name": cluster.name,
        "title": item.title,
        "source_type": item.source_type,
        "timestamp": iso_time(item.create_time if item.create_time is not None else item.update_time),
        "num_sections": item.num_sections,
        "top_keywords": ", ".join(k.term for k in keywords[:TOP_KEYWORDS]),
        "taskId": task_id,
    }
    return {k: v for k, v in row.items() if v is not None}


def cluster_text(cluster: KnownCluster) -> str:
    """What a cluster's profile vector is embedded from."""
    return "\n".join(p for p in (cluster.name, cluster.description, ", ".join(cluster.themes)) if p)


def add_items(
    batch: list[BatchItem],
    embedder: Embedder,
    index: NodeIndex,
    clusters: dict[str, KnownCluster],
    *,
    user_id: str,
    task_id: str,
    language: str = "ko",
    taken_cluster_ids: set[str] | None = None,
    stored_batch_ids: set[str] | None = None,
    explain: Explainer | None = None,
    namer: Namer | None = None,
) -> list[Placed]:
    """Place every readable item of ``batch``, in order; skipped items are passed through.

    ``clusters`` come from ``clusters_from_rows`` (without rows this task wrote in an earlier delivery);
    ``taken_cluster_ids`` are ids a new cluster must not reuse; ``stored_batch_ids`` are node ids of
    this batch already in the index (a redelivery): item ``i`` never sees items ``i`` and later, so a
    redelivered batch is placed exactly as the first time.
    """
    placed = [Placed(batch_item=b) for b in batch]
    ready = [p for p in placed if p.batch_item.item is not None]
    if not ready:
        return placed
    items = [p.batch_item.item for p in ready if p.batch_item.item is not None]
    embedded = embedder.embed([item.text for item in items], reproducible=False)  # never stored for reuse
    keywords = extract_keywords(embedded.analyses)
    with_text = [
        c
        for c in sorted(clusters.values(), key=lambda c: c.id)
        if c.profile is None and (c.description or c.themes)
    ]
    if with_text:
        text_vectors = embedder.embed([cluster_text(c) for c in with_text], reproducible=False).vectors
        for cluster, text_vector in zip(with_text, text_vectors, strict=True):
            cluster.text_vector = text_vector
    chooser = ClusterChooser(clusters, taken_cluster_ids or set())
    semantic = embedded.semantic
    ids = [node_id(user_id, item.orig_id) for item in items]
    stored = stored_batch_ids or set()
    for position, (entry, item) in enumerate(zip(ready, items, strict=True)):
        vector = embedded.vectors[position]
        point = chooser.point(
            vector,
            semantic[position] if semantic is not None else None,
            embedded.analyses[position].features,
        )
        hidden = set(ids[position:])
        extra = len(hidden & stored)
        neighbours = [n for n in index.nearest(vector, NEIGHBOURS + extra) if n.id not in hidden][:NEIGHBOURS]
        for neighbour in neighbours:  # the index is user-scoped; never trust it blindly
            if neighbour.metadata.get("userId") != user_id or not neighbour.id.startswith(f"{user_id}_"):
                raise RuntimeError("the vector index returned another user's node")
        assignment = chooser.choose(point, neighbours)
        if assignment is None:
            closest = _closest_name(chooser, point)
            name, description, themes = new_cluster_label(item, keywords[position], language, namer)
            cluster = chooser.open_cluster(name, description, themes)
            assignment = Assignment(
                cluster=cluster,
                is_new=True,
                confidence=round(1.0 - min(1.0, max(0.0, closest[1])), 4),
                similarity=closest[1],
                voters=0,
                neighbours=len(neighbours),
            )
            offline = (
                reasoning(language, "new", name=name, closest=closest[0], score=f"{closest[1]:.2f}")
                if closest[0]
                else reasoning(language, "first", name=name)
            )
        else:
            cluster = assignment.cluster
            offline = reasoning(
                language,
                "profile" if cluster.profile is None else "existing",
                name=cluster.name,
                neighbours=assignment.neighbours,
                voters=assignment.voters,
                score=f"{assignment.similarity:.2f}",
                terms=shared_terms(keywords[position], [*cluster.themes, cluster.name], language),
            )
        better = explain(item.title or item.orig_id, cluster.name, cluster.themes) if explain else None
        assignment.reasoning = better or offline
        entry.assignment = assignment
        entry.node_id = ids[position]
        entry.keywords = keywords[position]
        entry.point = point
        entry.edges = [
            (n.id, round(float(n.similarity), 4), n.metadata.get("cluster_id") == cluster.id)
            for n in neighbours[:EDGES_PER_ITEM]
            if n.similarity >= EDGE_MIN_SIMILARITY
        ]
        chooser.add_member(cluster, point)
        index.add(ids[position], vector, vector_metadata(user_id, task_id, item, cluster, keywords[position]))
    return placed


def _closest_name(chooser: ClusterChooser, point: ItemPoint) -> tuple[str, float]:
    best = ("", 0.0, -1.0)
    for cluster in sorted(chooser.clusters.values(), key=lambda c: c.id):
        score, closeness = chooser.score(cluster, point)
        if score is not None and closeness > best[2]:
            best = (cluster.name, score, closeness)
    return best[0], best[1]
