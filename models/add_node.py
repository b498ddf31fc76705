"""Add-node batch input and ``result.json`` (CONTRACT.md 6d)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.base import Document, RequestModel


class ExistingCluster(RequestModel):
    """A cluster of the user's current graph, as the backend describes it."""

    id: str
    name: str | None = None
    description: str | None = None
    size: int = 0
    themes: list[str] = Field(default_factory=list)


class BatchNote(RequestModel):
    """A note in an add-node batch."""

    note_id: str = Field(alias="noteId")
    title: str | None = None
    content: str = ""


class AddNodeBatch(RequestModel):
    """``batch.json``; conversations stay raw dicts (two shapes) until ingestion parses them."""

    user_id: str | None = Field(None, alias="userId")
    existing_clusters: list[ExistingCluster] = Field(default_factory=list, alias="existingClusters")
    conversations: list[dict[str, Any]] = Field(default_factory=list)
    notes: list[dict[str, Any]] = Field(default_factory=list)
    files: list[dict[str, Any]] = Field(default_factory=list)


class _Camel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")


class AddedNode(_Camel):
    """A node created by add-node; ``id`` is ``"{userId}_{origId}"``."""

    id: str
    user_id: str = Field(alias="userId")
    orig_id: str = Field(alias="origId")
    cluster_id: str = Field(alias="clusterId")
    cluster_name: str = Field(alias="clusterName")
    num_messages: int | None = Field(None, alias="numMessages")
    num_sections: int | None = Field(None, alias="numSections")
    timestamp: str | None = None
    created_at: str | None = Field(None, alias="createdAt")
    updated_at: str | None = Field(None, alias="updatedAt")


class AddedEdge(_Camel):
    """An edge from a new node to one of the same user's nodes."""

    source: str
    target: str
    weight: float
    type: Literal["hard"] = "hard"
    intra_cluster: bool = Field(alias="intraCluster")


class AssignedCluster(_Camel):
    """The cluster a new item was placed in."""

    cluster_id: str = Field(alias="clusterId")
    is_new_cluster: bool = Field(alias="isNewCluster")
    confidence: float
    reasoning: str
    name: str
    description: str
    themes: list[str]


class AddNodeItemResult(_Camel):
    """One conversation or note of the batch."""

    conversation_id: str | None = Field(None, alias="conversationId")
    note_id: str | None = Field(None, alias="noteId")
    nodes: list[AddedNode] = Field(default_factory=list)
    edges: list[AddedEdge] = Field(default_factory=list)
    assigned_cluster: AssignedCluster | None = Field(None, alias="assignedCluster")
    skipped: bool | None = None
    error: str | None = None


class AddNodeResultDocument(Document):
    """``result.json`` of add-node."""

    user_id: str = Field(alias="userId")
    processed_count: int = Field(alias="processedCount")
    results: list[AddNodeItemResult]
