"""The graph generation outputs: ``graph.json`` and ``features.json`` (CONTRACT.md 6b, 6c)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field, field_serializer

from models.base import Document


class Keyword(BaseModel):
    """A keyword of a node with its weight."""

    term: str
    score: float


class GraphNode(Document):
    """One conversation, note or file in the graph."""

    id: int
    orig_id: str
    cluster_id: str
    cluster_name: str
    cluster_confidence: float = Field(ge=0.0, le=1.0)
    keywords: list[Keyword]
    top_keywords: list[str]
    timestamp: str | None
    num_sections: int
    source_type: str
    title: str | None = None
    subcluster_id: str | None = None


class GraphEdge(Document):
    """A similarity edge between two nodes (ids of ``GraphNode.id``)."""

    source: int
    target: int
    weight: float
    type: Literal["semantic"] = "semantic"
    is_intra_cluster: bool
    confidence: Literal["high", "medium", "low"]


class Subcluster(Document):
    """A community inside one cluster."""

    id: str
    cluster_id: str
    node_ids: list[int]
    representative_node_id: int
    size: int
    density: float
    top_keywords: list[str]
    name: str | None = None
    cohesion_score: float | None = None
    internal_edges: int | None = None


class ClusterInfo(BaseModel):
    """What ``metadata.clusters`` says about one cluster."""

    name: str
    description: str
    size: int
    key_themes: list[str]


class GraphMetadata(Document):
    """The ``metadata`` block of ``graph.json``."""

    generated_at: str
    total_nodes: int
    total_edges: int
    total_clusters: int
    clusters: dict[str, ClusterInfo]
    language: str | None = None


class GraphDocument(Document):
    """``graph.json``: what the backend reads."""

    nodes: list[GraphNode]
    edges: list[GraphEdge]
    subclusters: list[Subcluster] = Field(default_factory=list)
    metadata: GraphMetadata


class FeatureRow(Document):
    """One conversation in ``features.json``."""

    id: int
    orig_id: str
    title: str | None
    keywords: list[Keyword]
    num_sections: int
    source_type: str
    create_time: float | None
    update_time: float | None


class FeaturesDocument(Document):
    """``features.json``: keywords and one L2-normalised vector per conversation, same order.

    Graph generation constructs it with ``embeddings`` as a numpy matrix, written row by row: at 10k
    conversations the matrix as lists of floats would hold about 180 MB while the document exists.
    """

    conversations: list[FeatureRow]
    embeddings: list[list[float]]
    metadata: dict[str, object]

    @field_serializer("embeddings")
    def _embedding_rows(self, embeddings: list[list[float]] | np.ndarray) -> Any:
        if isinstance(embeddings, np.ndarray):
            return (row.tolist() for row in embeddings)
        return embeddings
