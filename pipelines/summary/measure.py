"""Measuring a graph for its summary: topics (clusters), their links, recency and terms.

- *density* of a cluster: its internal edges over the pairs it could hold, ``m / (n (n - 1) / 2)``;
- *centrality* of a cluster: the share of the weight of the edges touching it that goes to other
  clusters (0: self-contained, 1: every link leads elsewhere);
- *recency* against ``now``: ``new`` when every dated node is at most 60 days old, ``active`` when
  the newest is (a cluster last touched 60-180 days ago is still ``active``, its insight says since
  when), ``dormant`` when the newest is older than 180 days, ``unknown`` without timestamps.

All of it is a few passes over nodes and edges: linear in the size of the graph.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from models.graph import GraphDocument, GraphNode
from pipelines.summary.questions import question_types
from pipelines.summary.values import UNCLUSTERED, natural, parse_time, rank_score

#: A cluster whose newest node is at most this old is active; when all its nodes are, it is new.
ACTIVE_DAYS = 60
#: A cluster whose newest node is older than this is dormant.
DORMANT_DAYS = 180


#: Keywords per node taken into account.
NODE_TERMS = 10


@dataclass(slots=True)
class Topic:
    """One cluster and what was measured about it."""

    id: str
    name: str
    members: list[int] = field(default_factory=list)
    key_themes: list[str] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)
    internal_edges: int = 0
    internal_weight: float = 0.0
    external_weight: float = 0.0
    timeline: list[int] = field(default_factory=list)
    state: str = "unknown"
    notable: list[int] = field(default_factory=list)

    @property
    def density(self) -> float:
        """Internal edges over possible pairs."""
        size = len(self.members)
        return min(1.0, self.internal_edges / (size * (size - 1) / 2)) if size > 1 else 0.0

    @property
    def centrality(self) -> float:
        """Share of the topic's edge weight that leads to other topics."""
        total = self.internal_weight + self.external_weight
        return self.external_weight / total if total > 0 else 0.0


@dataclass(slots=True)
class Link:
    """The inter-cluster edges between two topics."""

    edges: int = 0
    weight: float = 0.0
    shared: Counter[str] = field(default_factory=Counter)
    strongest: list[tuple[float, int, int]] = field(default_factory=list)


@dataclass(slots=True)
class Analysis:
    """The graph with per-node and per-cluster measures; nodes are addressed by position."""

    graph: GraphDocument
    now: datetime
    labels: list[str]
    cluster_of: list[str]
    terms: list[list[str]]
    times: list[datetime | None]
    questions: list[list[str]]
    degree: list[float]
    bridges: list[list[tuple[float, int]]]
    topics: dict[str, Topic]
    links: dict[tuple[str, str], Link]
    closest: dict[str, str] = field(default_factory=dict)

    def orig(self, position: int) -> str:
        """The node's ``orig_id``."""
        return self.graph.nodes[position].orig_id

    def age_days(self, position: int) -> float:
        """Days between the node's timestamp and ``now`` (the node must be dated)."""
        moment = self.times[position]
        assert moment is not None
        return max(0.0, (self.now - moment).total_seconds() / 86400)


def _node_terms(node: GraphNode) -> list[str]:
    ranked = sorted(node.keywords, key=lambda k: -k.score)
    terms = [k.term for k in ranked] or list(node.top_keywords)
    return terms[:NODE_TERMS]


def term_weights(node: GraphNode) -> list[tuple[str, float]]:
    """A node's (term, weight) pairs: its scored keywords, else its top keywords by rank."""
    if node.keywords:
        return [(k.term, max(0.0, k.score)) for k in node.keywords[: NODE_TERMS * 2]]
    return [(term, rank_score(rank)) for rank, term in enumerate(node.top_keywords)]


def _topics(graph: GraphDocument, cluster_of: list[str]) -> dict[str, Topic]:
    """Topics by cluster id in natural order, with names, members and ranked terms."""
    names: dict[str, Counter[str]] = defaultdict(Counter)
    members: dict[str, list[int]] = defaultdict(list)
    for position, node in enumerate(graph.nodes):
        members[cluster_of[position]].append(position)
        if node.cluster_name.strip():
            names[cluster_of[position]][node.cluster_name.strip()] += 1
    topics = {}
    for cluster_id in sorted(members, key=natural):
        info = graph.metadata.clusters.get(cluster_id)
        given = info.name.strip() if info else ""
        name = given or (names[cluster_id].most_common(1)[0][0] if names[cluster_id] else cluster_id)
        topics[cluster_id] = Topic(id=cluster_id, name=name, members=members[cluster_id])
        topics[cluster_id].key_themes = list(info.key_themes) if info else []
    _rank_terms(graph, topics)
    return topics


def _rank_terms(graph: GraphDocument, topics: dict[str, Topic]) -> None:
    """Each topic's terms by summed score; key themes, when not given, by distinctiveness."""
    weights: dict[str, dict[str, float]] = {}
    spread: Counter[str] = Counter()
    for topic in topics.values():
        totals: dict[str, float] = defaultdict(float)
        for position in topic.members:
            for term, score in term_weights(graph.nodes[position]):
                totals[term] += score
        weights[topic.id] = totals
        spread.update(totals.keys())
    count = len(topics)
    for topic in topics.values():
        totals = weights[topic.id]
        topic.terms = [t for t, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:20]]
        if not topic.key_themes:
            distinct = {t: w * math.log(1 + count / spread[t]) for t, w in totals.items()}
            topic.key_themes = [t for t, _ in sorted(distinct.items(), key=lambda kv: (-kv[1], kv[0]))[:5]]


def _measure_edges(analysis: Analysis, term_sets: list[frozenset[str]]) -> None:
    """Degrees, internal and external weights, and the links between topics, in one pass."""
    position_of = {node.id: position for position, node in enumerate(analysis.graph.nodes)}
    order = {topic_id: rank for rank, topic_id in enumerate(analysis.topics)}
    degree, cluster_of, topics, links = analysis.degree, analysis.cluster_of, analysis.topics, analysis.links
    for edge in analysis.graph.edges:
        s, t = position_of.get(edge.source), position_of.get(edge.target)
        if s is None or t is None or s == t:
            continue
        weight = max(0.0, edge.weight)
        degree[s] += weight
        degree[t] += weight
        a, b = cluster_of[s], cluster_of[t]
        if a == b:
            topics[a].internal_edges += 1
            topics[a].internal_weight += weight
            continue
        topics[a].external_weight += weight
        topics[b].external_weight += weight
        analysis.bridges[s].append((weight, t))
        analysis.bridges[t].append((weight, s))
        link = links.setdefault((a, b) if order[a] < order[b] else (b, a), Link())
        link.edges += 1
        link.weight += weight
        link.shared.update(term_sets[s] & term_sets[t])
        link.strongest.append((weight, min(s, t), max(s, t)))


def _closest_topics(links: dict[tuple[str, str], Link]) -> dict[str, str]:
    """Each linked topic's most strongly linked other topic."""
    best: dict[str, tuple[float, tuple[Any, ...], str]] = {}
    for (a, b), link in links.items():
        for one, other in ((a, b), (b, a)):
            rank = (-link.weight, natural(other), other)
            if one not in best or rank < best[one]:
                best[one] = rank
    return {topic: rank[2] for topic, rank in best.items()}


def _settle_topic(analysis: Analysis, topic: Topic) -> None:
    """A topic's timeline, recency state and most connected members."""
    dated = [p for p in topic.members if analysis.times[p] is not None]
    topic.timeline = sorted(dated, key=lambda p: (analysis.times[p], p))
    topic.notable = sorted(
        topic.members,
        key=lambda p: (
            -analysis.degree[p],
            -analysis.graph.nodes[p].num_sections,
            analysis.graph.nodes[p].id,
        ),
    )
    if not dated:
        topic.state = "unknown"
        return
    newest, oldest = analysis.age_days(topic.timeline[-1]), analysis.age_days(topic.timeline[0])
    if oldest <= ACTIVE_DAYS:
        topic.state = "new"
    elif newest <= ACTIVE_DAYS:
        topic.state = "active"
    elif newest <= DORMANT_DAYS:
        topic.state = "cooling"
    else:
        topic.state = "dormant"


def analyse(graph: GraphDocument, now: datetime) -> Analysis:
    """The per-node and per-topic measures of ``graph`` against ``now``."""
    nodes = graph.nodes
    cluster_of = [node.cluster_id or UNCLUSTERED for node in nodes]
    terms = [_node_terms(node) for node in nodes]
    analysis = Analysis(
        graph=graph,
        now=now,
        labels=[(node.title or "").strip() or node.orig_id for node in nodes],
        cluster_of=cluster_of,
        terms=terms,
        times=[parse_time(node.timestamp) for node in nodes],
        questions=[question_types(node.title or "") for node in nodes],
        degree=[0.0] * len(nodes),
        bridges=[[] for _ in nodes],
        topics=_topics(graph, cluster_of),
        links={},
    )
    _measure_edges(analysis, [frozenset(t) for t in terms])
    analysis.closest = _closest_topics(analysis.links)
    for topic in analysis.topics.values():
        _settle_topic(analysis, topic)
    return analysis
