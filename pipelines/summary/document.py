"""The summary document: every section of ``summary.json`` for one graph."""

from __future__ import annotations

from datetime import UTC, datetime

from models.graph import GraphDocument
from models.summary import SummaryDocument
from pipelines.summary.clusters import summarize_clusters
from pipelines.summary.connections import find_connections
from pipelines.summary.measure import analyse
from pipelines.summary.overview import summarize_overview
from pipelines.summary.patterns import find_patterns
from pipelines.summary.recommendations import recommend
from pipelines.summary.writer import DETAIL, LEVELS, Writer


def summarize_graph(
    graph: GraphDocument,
    language: str = "ko",
    *,
    now: datetime | None = None,
    detail_level: str = "standard",
) -> SummaryDocument:
    """The ``summary.json`` document of ``graph``, its prose in ``language`` (``en`` when unknown).

    ``now`` (default: the current time) dates recency; ``detail_level`` (``brief``, ``standard``,
    ``detailed``) sets how many keywords, patterns, connections and recommendations are reported.
    The same graph and ``now`` give the same document.
    """
    if not graph.nodes:
        raise ValueError("the graph has no nodes")
    moment = now or datetime.now(UTC)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    level = detail_level if detail_level in LEVELS else "standard"
    limits = DETAIL[level]
    writer = Writer(language)
    analysis = analyse(graph, moment)
    return SummaryDocument(
        overview=summarize_overview(analysis, writer),
        clusters=summarize_clusters(analysis, writer, limits),
        patterns=find_patterns(analysis, writer, limits),
        connections=find_connections(analysis, writer, limits),
        recommendations=recommend(analysis, writer, limits),
        generated_at=moment.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        detail_level=level,
    )
