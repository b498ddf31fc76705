"""The add-node pipeline: new conversations and notes placed into a user's existing graph.

For each item, in batch order: embed it, score every known cluster, place it in the best one or
open a new cluster when nothing is close enough, draw edges to the user's nearest stored nodes, and
add its vector to the index and its terms to the cluster's profile, so that later items of the batch
see it.

A cluster's score is the item's similarity with the cluster's profile (profiles.py), in the space
the graph itself was clustered in. A cluster is close enough when that similarity is at least
``NEW_CLUSTER_RATIO`` of the cluster's cohesion (its members' mean similarity with it). A cluster
known only from the text the backend gave for it (name, description, themes) is scored by the
item's similarity with that text, close enough from ``TEXT_MIN_SIMILARITY``.

Pure computation: the index (a user-scoped vector store) is passed in.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from models.add_node import (
    AddedEdge,
    AddedNode,
    AddNodeBatch,
    AddNodeItemResult,
    AddNodeResultDocument,
    AssignedCluster,
    ExistingCluster,
)
from models.graph import GraphDocument, Keyword
from models.source import SourceItem
from pipelines.embed import Embedder
from pipelines.files.limits import FileLimits
from pipelines.graph_generation import iso_time
from pipelines.ingest import (
    UnreadableObject,
    file_name_parts,
    is_file,
    parse_batch_note,
    parse_conversation,
    parse_file,
)
from pipelines.keywords import TOP_KEYWORDS, extract_keywords
from pipelines.naming import display_term, label_clusters
from pipelines.profiles import (
    ClusterProfile,
    TermVector,
    TermWeights,
    profile_from_row,
    profile_row,
    similarity,
)

#: Nearest stored nodes asked for per item (edges, and the reasoning's neighbour count).
NEIGHBOURS = 15
#: Edges drawn per item, at most.
EDGES_PER_ITEM = 5
#: Below this similarity (stored-vector space) no edge is drawn.
EDGE_MIN_SIMILARITY = 0.2
#: A cluster is close enough when the item's similarity with its profile is this share of its cohesion.
NEW_CLUSTER_RATIO = 0.3
#: A cluster known only from its name, description and themes is close enough at this similarity.
TEXT_MIN_SIMILARITY = 0.1
#: Cohesion of a cluster opened by this batch while no known cluster has a profile to compare with.
NEW_CLUSTER_COHESION = 0.5

#: Metadata values a vector index accepts.
Scalar = str | int | float | bool


class Neighbour(Protocol):
    """A stored node near a query vector."""

    @property
    def id(self) -> str: ...

    @property
    def similarity(self) -> float: ...

    @property
    def metadata(self) -> Mapping[str, Any]: ...


class NodeIndex(Protocol):
    """One user's stored node vectors."""

    def nearest(self, vector: np.ndarray, limit: int) -> Sequence[Neighbour]:
        """The ``limit`` nearest nodes of this user, most similar first."""
        ...

    def add(self, id: str, vector: np.ndarray, metadata: dict[str, Scalar]) -> None:
        """Insert or replace one node's vector."""
        ...


@dataclass(slots=True)
class BatchItem:
    """One conversation or note of a batch: parsed, or the reason it is skipped."""

    kind: str  # "conversation" or "note"
    orig_id: str | None
    item: SourceItem | None = None
    error: str | None = None


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


@dataclass(slots=True)
class Placed:
    """The outcome for one item (``assignment`` is ``None`` when the item was skipped)."""

    batch_item: BatchItem
    node_id: str | None = None
    assignment: Assignment | None = None
    edges: list[tuple[str, float, bool]] = field(default_factory=list)
    keywords: list[Keyword] = field(default_factory=list)
    point: ItemPoint | None = None


#: Called with (item title, cluster name, cluster themes) for a better reasoning sentence.
Explainer = Callable[[str, str, list[str]], str | None]
#: Called with (themes, titles) for a better (name, description) of a new cluster.
Namer = Callable[[list[str], list[str]], tuple[str, str] | None]


@dataclass(slots=True)
class Batch:
    """What the objects of an add-node input hold."""

    items: list[BatchItem] = field(default_factory=list)
    existing_clusters: list[ExistingCluster] = field(default_factory=list)
    user_ids: set[str] = field(default_factory=set)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _raw_id(raw: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if raw.get(key) not in (None, ""):
            return str(raw[key])
    return None


def batch_conversation(raw: Any) -> BatchItem:
    """One conversation of a batch, or why it is skipped."""
    if not isinstance(raw, dict):
        return BatchItem("conversation", None, error="a conversation must be a JSON object")
    orig_id = _raw_id(raw, ("id", "conversation_id", "conversationId"))
    if orig_id is None:
        return BatchItem("conversation", None, error="a conversation needs an id")
    try:
        item = parse_conversation(raw)
    except (UnreadableObject, ValueError) as error:
        return BatchItem("conversation", orig_id, error=f"unreadable conversation: {error}"[:300])
    roles = {message.role for message in item.messages}
    if not {"user", "assistant"} <= roles:
        return BatchItem(
            "conversation", orig_id, error="needs at least one user question and one assistant answer"
        )
    return BatchItem("conversation", orig_id, item=item)


def batch_note(raw: Any) -> BatchItem:
    """One note (or file with text) of a batch, or why it is skipped."""
    if not isinstance(raw, dict):
        return BatchItem("note", None, error="a note must be a JSON object")
    orig_id = _raw_id(raw, ("noteId", "id", "fileId"))
    if orig_id is None:
        return BatchItem("note", None, error="a note needs a noteId")
    try:
        item = parse_batch_note({**raw, "noteId": orig_id})
    except (UnreadableObject, ValueError) as error:
        return BatchItem("note", orig_id, error=f"unreadable note: {error}"[:300])
    if not item.messages:
        return BatchItem("note", orig_id, error="the note has no text")
    return BatchItem("note", orig_id, item=item)


def read_batch(objects: Sequence[tuple[str, bytes]], limits: FileLimits | None = None) -> Batch:
    """The items of an add-node input: ``batch.json`` objects and files (text, PDF, Office, Hangul)."""
    batch = Batch()
    for key, data in objects:
        lowered = key.lower()
        if is_file(key):
            try:
                item = parse_file(key, data, limits)
            except UnreadableObject as error:
                batch.items.append(BatchItem("note", file_name_parts(key)[0], error=str(error)[:300]))
                continue
            error_text = None if item.messages else "the file has no text"
            batch.items.append(
                BatchItem("note", item.orig_id, item=item if item.messages else None, error=error_text)
            )
            continue
        if not lowered.endswith(".json"):
            batch.skipped.append((key, "unsupported file type"))
            continue
        try:
            document = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            batch.skipped.append((key, f"invalid JSON: {error}"))
            continue
        if isinstance(document, list):
            batch.items.extend(batch_conversation(raw) for raw in document)
            continue
        if not isinstance(document, dict):
            batch.skipped.append((key, "JSON is neither a list nor an object"))
            continue
        try:
            parsed = AddNodeBatch.model_validate(document)
        except ValueError as error:
            batch.skipped.append((key, f"not an add-node batch: {error}"[:300]))
            continue
        if parsed.user_id:
            batch.user_ids.add(parsed.user_id)
        batch.existing_clusters.extend(parsed.existing_clusters)
        batch.items.extend(batch_conversation(raw) for raw in parsed.conversations)
        batch.items.extend(batch_note(raw) for raw in [*parsed.notes, *parsed.files])
    seen: set[str] = set()
    for entry in batch.items:
        if entry.item is None or entry.orig_id is None:
            continue
        if entry.orig_id in seen:
            entry.item, entry.error = None, "duplicate id in the batch"
        seen.add(entry.orig_id)
    return batch


def node_id(user_id: str, orig_id: str) -> str:
    """The id of a node's vector, shared with the backend."""
    return f"{user_id}_{orig_id}"


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


_REASONS = {
    "ko": {
        "existing": "가장 비슷한 기존 노드 {neighbours}개 중 {voters}개가 “{name}” 주제에 속하며, "
        "주제의 중심과의 유사도는 {score}입니다. 겹치는 키워드: {terms}.",
        "profile": "“{name}” 주제의 이름·설명·키워드와 가장 가깝습니다(유사도 {score}). 겹치는 키워드: {terms}.",
        "new": "기존 주제 중 충분히 가까운 것이 없어(가장 가까운 “{closest}”, 유사도 {score}) "
        "“{name}” 주제를 새로 만들었습니다.",
        "first": "비교할 기존 주제가 없어 “{name}” 주제를 새로 만들었습니다.",
        "none": "없음",
    },
    "en": {
        "existing": "{voters} of the {neighbours} most similar existing nodes belong to “{name}”, and the "
        "item's similarity with the topic's centre is {score}. Shared keywords: {terms}.",
        "profile": "The item is closest to the name, description and themes of “{name}” (similarity "
        "{score}). Shared keywords: {terms}.",
        "new": "No existing topic is close enough (closest: “{closest}”, similarity {score}), so a new "
        "topic “{name}” was opened.",
        "first": "There is no existing topic to compare with, so a new topic “{name}” was opened.",
        "none": "none",
    },
}


def reasoning(language: str, kind: str, **values: Any) -> str:
    """The offline reasoning sentence for an assignment, in ``language`` (English when unknown)."""
    table = _REASONS.get(language, _REASONS["en"])
    if kind in ("existing", "profile") and not values.get("terms"):
        values["terms"] = table["none"]
    return table[kind].format(**values)


def shared_terms(keywords: list[Keyword], themes: list[str], language: str) -> str:
    """The item's keywords that also appear in a cluster's themes or name."""
    wanted = {t.lower() for t in themes}
    shared = [display_term(k.term, language) for k in keywords if k.term.lower() in wanted]
    shared += [
        k.term for k in keywords if display_term(k.term, "en").lower() in wanted and k.term not in shared
    ]
    return ", ".join(dict.fromkeys(shared[:4]))


def new_cluster_label(
    item: SourceItem, keywords: list[Keyword], language: str, namer: Namer | None
) -> tuple[str, str, list[str]]:
    """Name, description and themes of a cluster opened for ``item`` (the naming.py wording)."""
    label = label_clusters(np.zeros(1, dtype=int), [keywords], {0: item.title or item.orig_id}, language)[0]
    name, description = label.name, label.description
    if label.key_themes == []:
        name = item.title or item.orig_id
    if namer is not None:
        better = namer(label.key_themes, [item.title or item.orig_id])
        if better is not None:
            name, description = better
    return name, description, label.key_themes


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
    embedded = embedder.embed([item.text for item in items])
    keywords = extract_keywords(embedded.analyses)
    with_text = [
        c
        for c in sorted(clusters.values(), key=lambda c: c.id)
        if c.profile is None and (c.description or c.themes)
    ]
    if with_text:
        text_vectors = embedder.embed([cluster_text(c) for c in with_text]).vectors
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


def result_document(user_id: str, placed: Sequence[Placed]) -> AddNodeResultDocument:
    """``result.json``: one item per conversation or note, in batch order."""
    results: list[AddNodeItemResult] = []
    for entry in placed:
        batch_item = entry.batch_item
        ids: dict[str, Any] = (
            {"conversationId": batch_item.orig_id}
            if batch_item.kind == "conversation"
            else {"noteId": batch_item.orig_id}
        )
        item, assignment = batch_item.item, entry.assignment
        if item is None or assignment is None or entry.node_id is None:
            results.append(
                AddNodeItemResult.model_validate({**ids, "skipped": True, "error": batch_item.error})
            )
            continue
        cluster = assignment.cluster
        count = "numMessages" if batch_item.kind == "conversation" else "numSections"
        node = AddedNode.model_validate(
            {
                "id": entry.node_id,
                "userId": user_id,
                "origId": item.orig_id,
                "clusterId": cluster.id,
                "clusterName": cluster.name,
                count: item.num_sections,
                "timestamp": iso_time(item.create_time if item.create_time is not None else item.update_time),
                "createdAt": iso_time(item.create_time),
                "updatedAt": iso_time(item.update_time),
            }
        )
        edges = [
            AddedEdge(source=entry.node_id, target=target, weight=weight, intra_cluster=intra)
            for target, weight, intra in entry.edges
        ]
        assigned = AssignedCluster(
            cluster_id=cluster.id,
            is_new_cluster=assignment.is_new,
            confidence=assignment.confidence,
            reasoning=assignment.reasoning,
            name=cluster.name,
            description=cluster.description,
            themes=cluster.themes,
        )
        results.append(
            AddNodeItemResult.model_validate(
                {**ids, "nodes": [node], "edges": edges, "assignedCluster": assigned}
            )
        )
    processed = sum(1 for r in results if not r.skipped)
    return AddNodeResultDocument(user_id=user_id, processed_count=processed, results=results)
