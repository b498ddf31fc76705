"""The overview of the summary: size, time span, main interests, style and what stands out."""

from __future__ import annotations

import math
from collections import Counter

from models.summary import Overview
from pipelines.summary.clusters import closest_topic, question_summary
from pipelines.summary.measure import Analysis, Topic
from pipelines.summary.values import month_of, natural
from pipelines.summary.writer import Writer

_SOURCE_GROUPS = {
    "chat": "chat",
    "conversation": "chat",
    "chatgpt": "chat",
    "markdown": "note",
    "notion": "note",
}
_SOURCE_ORDER = ("chat", "note", "file")


def _ranked_topics(analysis: Analysis) -> list[Topic]:
    """Topics by size, then by how connected they are."""
    return sorted(
        analysis.topics.values(),
        key=lambda t: (-len(t.members), -(t.internal_weight + t.external_weight), natural(t.id)),
    )


def _time_span(analysis: Analysis) -> tuple[str, str, str] | None:
    """The first, last and busiest month of the history; ``None`` when nothing is dated."""
    months = Counter(month_of(t) for t in analysis.times if t is not None)
    if not months:
        return None
    busiest = min(months.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    return min(months), max(months), busiest


def _style(analysis: Analysis, writer: Writer) -> str:
    groups = Counter(
        _SOURCE_GROUPS.get(node.source_type.strip().lower(), "file") for node in analysis.graph.nodes
    )
    main = min(groups.items(), key=lambda kv: (-kv[1], _SOURCE_ORDER.index(kv[0])))[0]
    share = round(100 * groups[main] / len(analysis.graph.nodes))
    source = writer.table[f"source.{main}"]
    minimum = max(1, math.ceil(0.05 * len(analysis.graph.nodes)))
    kinds = question_summary(analysis, list(range(len(analysis.graph.nodes))), minimum)[:2]
    if not kinds:
        return writer.say("style", source=source, share=share)
    return writer.say("style.questions", source=source, share=share, types=writer.questions(kinds))


def _central(analysis: Analysis) -> tuple[Topic, Topic] | None:
    """The topic with the most inter-cluster weight and its closest neighbour."""
    linked = [t for t in analysis.topics.values() if t.external_weight > 0]
    if not linked:
        return None
    topic = min(linked, key=lambda t: (-t.external_weight, natural(t.id)))
    other = closest_topic(analysis, topic)
    return (topic, other) if other is not None else None


def _closing_sentence(analysis: Analysis, writer: Writer) -> list[str]:
    """What stands out: the topics gone quiet, else the most connected topic."""
    dormant = [t for t in _ranked_topics(analysis) if t.state == "dormant"]
    if dormant:
        count = len(dormant)
        topics = writer.count("topics", count)
        return [
            writer.say(
                "overview.dormant", count, count=count, topics=topics, name=writer.quote(dormant[0].name)
            )
        ]
    central = _central(analysis)
    if central is None:
        return []
    name, other = writer.quote(central[0].name), writer.quote(central[1].name)
    return [writer.say("overview.central", name=name, other=other)]


def summarize_overview(analysis: Analysis, writer: Writer) -> Overview:
    """The overview section: size, time span, main interests, style and what stands out."""
    n, k = len(analysis.graph.nodes), len(analysis.topics)
    interests = [t.name for t in _ranked_topics(analysis)[:3]]
    nodes, topics = writer.count("nodes", n), writer.count("topics", k)
    period = _time_span(analysis)
    if period is None:
        span = busiest = writer.table["unknown"]
        sentences = [writer.say("overview.intro_untimed", nodes=nodes, topics=topics)]
    else:
        first, last, busiest = period
        span = first if first == last else f"{first} ~ {last}"
        sentences = [writer.say("overview.intro", nodes=nodes, topics=topics, span=writer.span(first, last))]
    sentences.append(writer.say("overview.interests", len(interests), names=writer.names(interests)))
    if period is not None:
        sentences.append(writer.say("overview.peak", month=busiest))
    sentences.extend(_closing_sentence(analysis, writer))
    return Overview(
        total_source_nodes=n,
        time_span=span,
        primary_interests=interests,
        conversation_style=_style(analysis, writer),
        most_active_period=busiest,
        summary_text=writer.sentences(sentences),
    )
