"""The connections between clusters.

The *connection strength* of a cluster pair is its summed inter-cluster edge weight over that of the
strongest pair (1.0: the most connected pair).
"""

from __future__ import annotations

from models.summary import Connection
from pipelines.summary.measure import Analysis, Link
from pipelines.summary.values import natural
from pipelines.summary.writer import Limits, Writer


def bridge_keywords(analysis: Analysis, key: tuple[str, str], link: Link) -> list[str]:
    """Up to five keywords the linked topics share, the most shared first."""
    shared = sorted(link.shared.items(), key=lambda kv: (-kv[1], kv[0]))
    if shared:
        return [term for term, _ in shared[:5]]
    other = set(analysis.topics[key[1]].terms)
    return [term for term in analysis.topics[key[0]].terms if term in other][:5]


def ranked_links(analysis: Analysis) -> list[tuple[tuple[str, str], Link]]:
    """Topic pairs by summed inter-cluster weight, the strongest first."""
    return sorted(
        analysis.links.items(), key=lambda kv: (-kv[1].weight, natural(kv[0][0]), natural(kv[0][1]))
    )


def find_connections(analysis: Analysis, writer: Writer, limits: Limits) -> list[Connection]:
    """The strongest links between topics, strength relative to the strongest pair."""
    ranked = ranked_links(analysis)[: limits.connections]
    strongest = ranked[0][1].weight if ranked and ranked[0][1].weight > 0 else 1.0
    connections = []
    for key, link in ranked:
        keywords = bridge_keywords(analysis, key, link)
        a, b = writer.quote(analysis.topics[key[0]].name), writer.quote(analysis.topics[key[1]].name)
        links = writer.count("links", link.edges)
        description = (
            writer.say("connection", a=a, b=b, links=links, keywords=writer.join(keywords[:3]))
            if keywords
            else writer.say("connection_plain", a=a, b=b, links=links)
        )
        connections.append(
            Connection(
                source_cluster=key[0],
                target_cluster=key[1],
                connection_strength=round(link.weight / strongest, 4),
                bridge_keywords=keywords,
                description=description,
            )
        )
    return connections
