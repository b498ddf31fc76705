"""The per-cluster part of the summary: one ``ClusterSummary`` per topic."""

from __future__ import annotations

from collections import Counter

from models.summary import ClusterSummary
from pipelines.summary.measure import Analysis, Topic
from pipelines.summary.questions import QUESTION_TYPES
from pipelines.summary.values import month_of
from pipelines.summary.writer import Limits, Writer, unique


def closest_topic(analysis: Analysis, topic: Topic) -> Topic | None:
    """The topic most strongly linked to ``topic``, if any."""
    other = analysis.closest.get(topic.id)
    return analysis.topics[other] if other is not None else None


def question_summary(analysis: Analysis, members: list[int], minimum: int = 1) -> list[str]:
    """The up to three most common question types among ``members`` (at least ``minimum`` each)."""
    counts = Counter(kind for p in members for kind in analysis.questions[p])
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], QUESTION_TYPES.index(kv[0])))
    return [kind for kind, count in ranked if count >= minimum][:3]


def _insight(analysis: Analysis, topic: Topic, writer: Writer) -> str:
    name, convs = writer.quote(topic.name), writer.count("convs", len(topic.members))
    themes = writer.join(topic.key_themes[:3])
    parts = [
        writer.say("cluster.intro", name=name, convs=convs, themes=themes)
        if themes
        else writer.say("cluster.intro_plain", name=name, convs=convs)
    ]
    if topic.timeline:
        last = analysis.times[topic.timeline[-1]]
        assert last is not None
        parts.append(writer.say(f"cluster.{topic.state}", month=month_of(last)))
    kinds = question_summary(analysis, topic.members)
    if kinds:
        parts.append(writer.say("cluster.questions", types=writer.questions(kinds[:2])))
    other = closest_topic(analysis, topic)
    if other is not None:
        parts.append(writer.say("cluster.link", other=writer.quote(other.name)))
    return writer.sentences(parts)


def summarize_clusters(analysis: Analysis, writer: Writer, limits: Limits) -> list[ClusterSummary]:
    """One ``ClusterSummary`` per topic, in natural cluster order."""
    return [
        ClusterSummary(
            cluster_id=topic.id,
            name=topic.name,
            size=len(topic.members),
            density=round(topic.density, 4),
            centrality=round(topic.centrality, 4),
            recency="active" if topic.state == "cooling" else topic.state,
            top_keywords=topic.terms[: limits.keywords],
            key_themes=topic.key_themes[: limits.keywords],
            common_question_types=question_summary(analysis, topic.members),
            insight_text=_insight(analysis, topic, writer),
            notable_conversations=unique(analysis.labels[p] for p in topic.notable)[: limits.notable],
        )
        for topic in analysis.topics.values()
    ]
