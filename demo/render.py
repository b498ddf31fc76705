"""A self-contained HTML picture of a graph: nodes coloured by cluster, edges by confidence."""

from __future__ import annotations

import html
import math

import networkx as nx

from models.graph import GraphDocument

PALETTE = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
    "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#2ca02c",
]  # fmt: skip
WIDTH, HEIGHT, MARGIN = 1100, 760, 40


def layout(graph: GraphDocument, seed: int = 7) -> dict[int, tuple[float, float]]:
    """Positions in pixels: a force layout where every cluster is pulled toward its own hub, and the
    hubs sit fixed on a circle so that unconnected clusters stay in the picture."""
    network = nx.Graph()
    network.add_nodes_from(node.id for node in graph.nodes)
    for edge in graph.edges:
        network.add_edge(edge.source, edge.target, weight=edge.weight)
    hubs = list(graph.metadata.clusters)
    start: dict[object, tuple[float, float]] = {}
    for index, cluster_id in enumerate(hubs):
        angle = 2 * math.pi * index / max(1, len(hubs))
        start[f"hub:{cluster_id}"] = (math.cos(angle), math.sin(angle))
    for node in graph.nodes:
        network.add_edge(node.id, f"hub:{node.cluster_id}", weight=1.0)
    positions = nx.spring_layout(
        network,
        pos=start or None,
        fixed=list(start) or None,
        seed=seed,
        weight="weight",
        iterations=200,
        k=0.12,
    )
    points = {n: positions[n] for n in network.nodes if isinstance(n, int)}
    xs = [p[0] for p in points.values()] or [0.0]
    ys = [p[1] for p in points.values()] or [0.0]
    span_x, span_y = (max(xs) - min(xs)) or 1.0, (max(ys) - min(ys)) or 1.0
    return {
        n: (
            MARGIN + (p[0] - min(xs)) / span_x * (WIDTH - 2 * MARGIN - 260),
            MARGIN + (p[1] - min(ys)) / span_y * (HEIGHT - 2 * MARGIN),
        )
        for n, p in points.items()
    }


def render_html(graph: GraphDocument, title: str = "Knowledge graph") -> str:
    """The page as a string: inline SVG, no scripts, no external resources."""
    positions = layout(graph)
    clusters = list(graph.metadata.clusters)
    colour = {cid: PALETTE[i % len(PALETTE)] for i, cid in enumerate(clusters)}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" style="background:#fff">'
    ]
    for edge in graph.edges:
        (x1, y1), (x2, y2) = positions[edge.source], positions[edge.target]
        stroke, opacity = ("#555", 0.55) if edge.confidence == "high" else ("#aaa", 0.3)
        parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}" '
            f'stroke-opacity="{opacity}" stroke-width="{0.5 + 2 * edge.weight:.2f}"/>'
        )
    for node in graph.nodes:
        x, y = positions[node.id]
        tip = html.escape(
            f"{node.title or node.orig_id}\n{node.cluster_name}\n{', '.join(node.top_keywords)}"
        )
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="7" fill="{colour[node.cluster_id]}" stroke="#fff">'
            f"<title>{tip}</title></circle>"
        )
    legend_x = WIDTH - 250
    for i, cid in enumerate(clusters):
        info = graph.metadata.clusters[cid]
        y = MARGIN + i * 26
        parts.append(f'<circle cx="{legend_x}" cy="{y}" r="7" fill="{colour[cid]}"/>')
        parts.append(
            f'<text x="{legend_x + 14}" y="{y + 5}" font-size="13" font-family="sans-serif">'
            f"{html.escape(info.name)} ({info.size})</text>"
        )
    parts.append("</svg>")
    meta = graph.metadata
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body style='font-family:sans-serif;margin:24px'>"
        f"<h2>{html.escape(title)}</h2><p>{meta.total_nodes} nodes, {meta.total_edges} edges, "
        f"{meta.total_clusters} clusters. Hover a node for its title and keywords.</p>"
        + "".join(parts)
        + "</body></html>"
    )
