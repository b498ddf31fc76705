"""Recommendations: consolidate, review, explore and connect topics."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from itertools import combinations

from models.summary import Recommendation
from pipelines.summary.connections import bridge_keywords, ranked_links
from pipelines.summary.measure import Analysis, Topic
from pipelines.summary.values import month_of, natural
from pipelines.summary.writer import Limits, Writer, unique

_PRIORITY = {"high": 0, "medium": 1, "low": 2}


def _recommendation(
    kind: str, title: str, description: str, nodes: list[str], priority: str
) -> Recommendation:
    return Recommendation(
        type=kind,
        title=title,
        description=description,
        related_nodes=unique(nodes),
        priority=priority,
    )


def _consolidate(analysis: Analysis, writer: Writer, limits: Limits) -> Iterator[Recommendation]:
    n = len(analysis.graph.nodes)
    candidates = [t for t in analysis.topics.values() if len(t.members) >= 3]
    candidates.sort(key=lambda t: (-len(t.members) * (1 + t.density), natural(t.id)))
    for topic in candidates[:2]:
        name = writer.quote(topic.name)
        yield _recommendation(
            "consolidate",
            writer.say("rec.consolidate.title", name=name),
            writer.say("rec.consolidate", name=name, convs=writer.count("convs", len(topic.members))),
            [analysis.orig(p) for p in topic.notable[: limits.evidence]],
            "high" if len(topic.members) >= max(5, 0.2 * n) else "medium",
        )


def _review(analysis: Analysis, writer: Writer, limits: Limits) -> Iterator[Recommendation]:
    dormant = [t for t in analysis.topics.values() if t.state == "dormant"]
    dormant.sort(key=lambda t: (-len(t.members), natural(t.id)))
    for topic in dormant[:2]:
        moment = analysis.times[topic.timeline[-1]]
        assert moment is not None
        name = writer.quote(topic.name)
        yield _recommendation(
            "review",
            writer.say("rec.review.title", name=name),
            writer.say("rec.review", name=name, month=month_of(moment)),
            [analysis.orig(p) for p in topic.notable[: limits.evidence]],
            "high" if len(topic.members) >= 5 else "medium",
        )


def _explore(analysis: Analysis, writer: Writer, limits: Limits) -> Iterator[Recommendation]:
    topics = list(analysis.topics.values())
    sizes = sorted(len(t.members) for t in topics)
    median = sizes[len(sizes) // 2]
    fresh = [t for t in topics if t.state in ("new", "active") and len(t.members) <= median]
    fresh.sort(
        key=lambda t: (t.state != "new", len(t.members), analysis.age_days(t.timeline[-1]), natural(t.id))
    )
    if not fresh:
        smaller = [t for t in topics if len(t.members) < sizes[-1]]
        fresh = sorted(smaller, key=lambda t: (len(t.members), natural(t.id)))[:1]
    for topic in fresh[:2]:
        name = writer.quote(topic.name)
        recent = list(reversed(topic.timeline)) or topic.notable
        yield _recommendation(
            "explore",
            writer.say("rec.explore.title", name=name),
            writer.say(
                "rec.explore",
                name=name,
                convs=writer.count("convs", len(topic.members)),
                themes=writer.join(topic.key_themes[:3] or [topic.name]),
            ),
            [analysis.orig(p) for p in recent[: limits.evidence]],
            "medium" if topic.state == "new" else "low",
        )


def _unlinked_pairs(analysis: Analysis) -> list[tuple[int, str, str, list[str]]]:
    """Topic pairs without edges between them that share top terms: (shared count, a, b, terms)."""
    holders: dict[str, list[str]] = defaultdict(list)
    for topic in analysis.topics.values():
        for term in topic.terms[:10]:
            holders[term].append(topic.id)
    shared: dict[tuple[str, str], list[str]] = defaultdict(list)
    for term in sorted(holders):
        if 2 <= len(holders[term]) <= 5:
            for a, b in combinations(holders[term], 2):
                if (a, b) not in analysis.links:
                    shared[(a, b)].append(term)
    pairs = [(len(terms), a, b, terms) for (a, b), terms in shared.items()]
    return sorted(pairs, key=lambda x: (-x[0], natural(x[1]), natural(x[2])))


def _members_with(analysis: Analysis, topic: Topic, terms: list[str], limit: int) -> list[int]:
    wanted = set(terms)
    holding = [p for p in topic.notable if wanted & set(analysis.terms[p])]
    return (holding or topic.notable)[:limit]


def _connect(analysis: Analysis, writer: Writer, limits: Limits) -> Iterator[Recommendation]:
    ranked = ranked_links(analysis)
    if ranked:
        key, link = ranked[0]
        keywords = bridge_keywords(analysis, key, link)[:3]
        strongest = sorted(link.strongest, key=lambda e: (-e[0], e[1], e[2]))
        nodes = [analysis.orig(p) for _, s, t in strongest[: limits.evidence] for p in (s, t)]
        yield _connect_one(
            analysis, writer, key, keywords, link.edges, nodes[: limits.evidence], link.edges >= 3
        )
    for count, a, b, terms in _unlinked_pairs(analysis)[:1]:
        pair = [analysis.topics[a], analysis.topics[b]]
        half = max(1, limits.evidence // 2)
        nodes = [analysis.orig(p) for topic in pair for p in _members_with(analysis, topic, terms, half)]
        yield _connect_one(analysis, writer, (a, b), terms[:3], 0, nodes, count >= 2)


def _connect_one(
    analysis: Analysis,
    writer: Writer,
    key: tuple[str, str],
    keywords: list[str],
    edges: int,
    nodes: list[str],
    strong: bool,
) -> Recommendation:
    a, b = writer.quote(analysis.topics[key[0]].name), writer.quote(analysis.topics[key[1]].name)
    description = (
        writer.say("rec.connect", keywords=writer.join(keywords))
        if keywords
        else writer.say("rec.connect_plain", links=writer.count("links", edges))
    )
    return _recommendation(
        "connect",
        writer.say("rec.connect.title", a=a, b=b),
        description,
        nodes,
        "medium" if strong else "low",
    )


def recommend(analysis: Analysis, writer: Writer, limits: Limits) -> list[Recommendation]:
    """One of each type first (by priority), then the second of each, up to the limit."""
    kinds = [list(make(analysis, writer, limits)) for make in (_consolidate, _review, _explore, _connect)]
    chosen: list[Recommendation] = []
    for round_ in range(max((len(k) for k in kinds), default=0)):
        batch = [k[round_] for k in kinds if len(k) > round_]
        chosen.extend(sorted(batch, key=lambda r: _PRIORITY[r.priority]))
    return chosen[: limits.recommendations]
