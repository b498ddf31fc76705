"""Better names and prose from an optional helper (an LLM), applied over offline results.

Every function here takes a callable that returns ``None`` when it has nothing better; the offline
text is then kept. Nothing here can fail a task: the callables never raise (see ``adapters.llm``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from models.graph import GraphDocument
from models.summary import SummaryDocument

#: Called with (themes, titles) for a better (name, description).
Namer = Callable[[list[str], list[str]], tuple[str, str] | None]
#: Called with facts (a JSON-able dict) for better prose.
Writer = Callable[[dict[str, Any]], str | None]

#: Titles shown to the namer per cluster.
TITLES = 8
#: Subclusters renamed at most (the largest first).
MAX_SUBCLUSTERS = 12


def rename_clusters(graph: GraphDocument, namer: Namer) -> int:
    """Rename clusters and the largest subclusters in place; returns how many names changed."""
    titles: dict[str, list[str]] = defaultdict(list)
    for node in graph.nodes:
        if node.title and len(titles[node.cluster_id]) < TITLES:
            titles[node.cluster_id].append(node.title)
    changed = 0
    taken = {info.name for info in graph.metadata.clusters.values()}
    renamed: dict[str, str] = {}
    for cluster_id, info in graph.metadata.clusters.items():
        better = namer(info.key_themes, titles[cluster_id])
        if better is None or better[0] in taken:
            continue
        taken.discard(info.name)
        taken.add(better[0])
        info.name, info.description = better
        renamed[cluster_id] = better[0]
        changed += 1
    for node in graph.nodes:
        node.cluster_name = renamed.get(node.cluster_id, node.cluster_name)
    by_id = {node.id: node for node in graph.nodes}
    subclusters = sorted(graph.subclusters, key=lambda s: (-s.size, s.id))[:MAX_SUBCLUSTERS]
    sub_taken = {s.name for s in graph.subclusters if s.name}
    for sub in subclusters:
        sub_titles = [t for t in (by_id[i].title for i in sub.node_ids[:TITLES] if i in by_id) if t]
        better = namer(sub.top_keywords, sub_titles)
        if better is None or better[0] in sub_taken:
            continue
        sub_taken.add(better[0])
        sub.name = better[0]
        changed += 1
    return changed


def polish_summary(summary: SummaryDocument, writer: Writer) -> int:
    """Rewrite the overview text and each cluster's insight in place; returns how many changed."""
    changed = 0
    facts: dict[str, Any] = {
        "overview": summary.overview.model_dump(),
        "clusters": [
            {
                "name": c.name,
                "size": c.size,
                "recency": c.recency,
                "key_themes": c.key_themes,
                "question_types": c.common_question_types,
            }
            for c in summary.clusters
        ],
        "patterns": [p.description for p in summary.patterns],
    }
    text = writer(facts)
    if text is not None:
        summary.overview.summary_text = text
        changed += 1
    for cluster in summary.clusters:
        text = writer(
            {
                "topic": cluster.name,
                "size": cluster.size,
                "recency": cluster.recency,
                "key_themes": cluster.key_themes,
                "top_keywords": cluster.top_keywords,
                "question_types": cluster.common_question_types,
                "notable_conversations": cluster.notable_conversations,
                "offline_insight": cluster.insight_text,
            }
        )
        if text is not None:
            cluster.insight_text = text
            changed += 1
    return changed
