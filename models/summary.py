"""``summary.json`` (CONTRACT.md 6e)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from models.base import Document


class Overview(BaseModel):
    """The whole history at a glance."""

    total_source_nodes: int
    time_span: str
    primary_interests: list[str]
    conversation_style: str
    most_active_period: str
    summary_text: str


class ClusterSummary(BaseModel):
    """One cluster, described."""

    cluster_id: str
    name: str
    size: int
    density: float
    centrality: float
    recency: Literal["active", "dormant", "new", "unknown"]
    top_keywords: list[str]
    key_themes: list[str]
    common_question_types: list[str]
    insight_text: str
    notable_conversations: list[str]


class Pattern(BaseModel):
    """A pattern seen across the history."""

    pattern_type: Literal["repetition", "progression", "gap", "bridge"]
    description: str
    evidence: list[str]
    significance: Literal["high", "medium", "low"]


class Connection(BaseModel):
    """How two clusters relate."""

    source_cluster: str
    target_cluster: str
    connection_strength: float
    bridge_keywords: list[str]
    description: str


class Recommendation(BaseModel):
    """Something the user might do next."""

    type: Literal["consolidate", "explore", "review", "connect"]
    title: str
    description: str
    related_nodes: list[str]
    priority: Literal["high", "medium", "low"]


class SummaryDocument(Document):
    """``summary.json``."""

    overview: Overview
    clusters: list[ClusterSummary]
    patterns: list[Pattern] = Field(default_factory=list)
    connections: list[Connection] = Field(default_factory=list)
    recommendations: list[Recommendation] = Field(default_factory=list)
    generated_at: str
    detail_level: Literal["brief", "standard", "detailed"] = "standard"
