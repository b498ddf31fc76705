"""Reading a stored graph, our own ``graph.json`` or the backend's looser summary input."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from models.graph import GraphDocument
from pipelines.edges import HIGH_SIMILARITY, MIN_SIMILARITY
from pipelines.summary.values import (
    UNCLUSTERED,
    as_float,
    as_int,
    as_key,
    as_keywords,
    as_list,
    as_strings,
    as_text,
    first_of,
    most_common,
    natural,
    parse_time,
    top_terms,
)


def normalize_graph(raw: dict[str, Any]) -> GraphDocument:
    """A ``GraphDocument`` from a graph as stored: our ``graph.json`` or the backend's looser input.

    Gaps are filled, never fatal: cluster names from ``label`` fields or keywords, keywords given as
    plain strings, ids as strings, edges without ``confidence``, a missing ``metadata.clusters``.
    Raises ``ValueError`` when ``raw`` is not a graph or holds no nodes.
    """
    body = _graph_body(raw)
    metadata: dict[str, Any] = body["metadata"] if isinstance(body.get("metadata"), dict) else {}
    known = _metadata_clusters(metadata.get("clusters"))
    raw_nodes = [node for node in body["nodes"] if isinstance(node, dict)]
    if not raw_nodes:
        raise ValueError("the graph has no nodes")
    ids = _node_ids(raw_nodes)
    lookup = _id_lookup(raw_nodes, ids)
    cluster_ids = [_cluster_id(node) for node in raw_nodes]
    keywords = [_node_keywords(node) for node in raw_nodes]
    names = _cluster_names(raw_nodes, cluster_ids, keywords, known)
    nodes = [
        _node(node, ids[i], cluster_ids[i], names[cluster_ids[i]], keywords[i])
        for i, node in enumerate(raw_nodes)
    ]
    cluster_of = dict(zip(ids, cluster_ids, strict=True))
    high = as_float(metadata.get("high_confidence_threshold"), HIGH_SIMILARITY)
    edges = _edges(as_list(body.get("edges", body.get("links"))), lookup, cluster_of, high)
    clusters = _cluster_infos(nodes, keywords, known)
    # Plain dicts validated in one call: far faster than a model per edge on large graphs.
    return GraphDocument.model_validate(
        {
            "nodes": nodes,
            "edges": edges,
            "subclusters": _subclusters(as_list(body.get("subclusters")), lookup, cluster_of),
            "metadata": {
                "generated_at": str(first_of(metadata, "generated_at", "generatedAt") or ""),
                "total_nodes": len(nodes),
                "total_edges": len(edges),
                "total_clusters": len(clusters),
                "clusters": clusters,
                "language": as_text(metadata.get("language")) or None,
            },
        }
    )


def _graph_body(raw: Any) -> dict[str, Any]:
    """The object holding ``nodes``: ``raw`` itself or a ``graph`` / ``data`` / ``result`` inside it."""
    if not isinstance(raw, dict):
        raise ValueError(f"a graph must be a JSON object with 'nodes', not {type(raw).__name__}")
    wrapped = (raw.get(key) for key in ("graph", "data", "result"))
    body = raw if "nodes" in raw else next((w for w in wrapped if isinstance(w, dict) and "nodes" in w), None)
    if body is None:
        raise ValueError("not a graph: no 'nodes' list")
    if not isinstance(body["nodes"], list):
        raise ValueError(f"not a graph: 'nodes' must be a list, not {type(body['nodes']).__name__}")
    return body


def _node_ids(raw_nodes: list[dict[str, Any]]) -> list[int]:
    """The nodes' own integer ids when they have unique ones, else their positions."""
    ids = [as_int(node.get("id")) for node in raw_nodes]
    if all(i is not None for i in ids) and len(set(ids)) == len(ids):
        return [i for i in ids if i is not None]
    return list(range(len(raw_nodes)))


def _id_lookup(raw_nodes: list[dict[str, Any]], ids: list[int]) -> dict[str, int]:
    """Node references (raw ids, then orig ids, then positions) to node ids."""
    lookup: dict[str, int] = {}
    for node, node_id in zip(raw_nodes, ids, strict=True):
        key = as_key(node.get("id"))
        if key is not None:
            lookup.setdefault(key, node_id)
    for node, node_id in zip(raw_nodes, ids, strict=True):
        key = as_key(first_of(node, "orig_id", "origId"))
        if key is not None:
            lookup.setdefault(key, node_id)
    for node_id in ids:
        lookup.setdefault(str(node_id), node_id)
    return lookup


def _cluster_id(node: dict[str, Any]) -> str:
    """The node's cluster id; without one, its cluster's name stands in for it."""
    value = first_of(node, "cluster_id", "clusterId", "cluster")
    if isinstance(value, dict):
        value = first_of(value, "id", "cluster_id")
    key = as_key(value) or as_text(
        first_of(node, "cluster_name", "clusterName", "cluster_label", "clusterLabel")
    )
    return key.strip() if key and key.strip() else UNCLUSTERED


def _metadata_clusters(value: Any) -> dict[str, dict[str, Any]]:
    """``metadata.clusters`` as a dict by cluster id, whether stored as a dict or a list."""
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = [(first_of(v, "id", "cluster_id", "clusterId"), v) for v in value if isinstance(v, dict)]
    else:
        return {}
    clusters: dict[str, dict[str, Any]] = {}
    for key, info in items:
        cluster_id = as_key(key)
        if cluster_id is None:
            continue
        if isinstance(info, dict):
            clusters[cluster_id] = info
        elif isinstance(info, str):
            clusters[cluster_id] = {"name": info}
    return clusters


def _node_keywords(node: dict[str, Any]) -> list[tuple[str, float]]:
    keywords = as_keywords(node.get("keywords"))
    return keywords or as_keywords(first_of(node, "top_keywords", "topKeywords"))


def _cluster_names(
    raw_nodes: list[dict[str, Any]],
    cluster_ids: list[str],
    keywords: list[list[tuple[str, float]]],
    known: dict[str, dict[str, Any]],
) -> dict[str, str]:
    """Each cluster's name: a given name, else a given label, else its top keywords, else its id."""
    members: dict[str, list[int]] = defaultdict(list)
    for i, cluster_id in enumerate(cluster_ids):
        members[cluster_id].append(i)
    names = {}
    for cluster_id, positions in members.items():
        info = known.get(cluster_id, {})
        nodes = [raw_nodes[i] for i in positions]
        names[cluster_id] = (
            as_text(info.get("name"))
            or most_common(as_text(first_of(n, "cluster_name", "clusterName")) for n in nodes)
            or as_text(first_of(info, "label", "title"))
            or most_common(as_text(first_of(n, "cluster_label", "clusterLabel", "label")) for n in nodes)
            or " · ".join(top_terms((keywords[i] for i in positions), limit=2))
            or cluster_id
        )
    return names


def _timestamp(node: dict[str, Any]) -> str | None:
    value = first_of(
        node, "timestamp", "created_at", "createdAt", "create_time", "createTime", "updated_at", "updatedAt",
        "update_time", "updateTime",
    )  # fmt: skip
    if isinstance(value, str) and not re.fullmatch(r"\s*-?\d+(\.\d+)?\s*", value):
        return value.strip() if parse_time(value) else None
    epoch = as_float(value, math.nan)
    if math.isnan(epoch):
        return None
    if abs(epoch) > 1e11:  # milliseconds
        epoch /= 1000
    try:
        return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return None


def _node(
    raw: dict[str, Any], node_id: int, cluster_id: str, cluster_name: str, keywords: list[tuple[str, float]]
) -> dict[str, Any]:
    """One node as ``GraphNode`` fields."""
    top = as_strings(first_of(raw, "top_keywords", "topKeywords")) or [term for term, _ in keywords[:5]]
    sections = as_int(first_of(raw, "num_sections", "numSections", "num_messages", "numMessages"))
    subcluster = as_key(first_of(raw, "subcluster_id", "subclusterId"))
    title = first_of(raw, "title", "conversation_title", "conversationTitle")
    confidence = as_float(first_of(raw, "cluster_confidence", "clusterConfidence"), 1.0)
    return {
        "id": node_id,
        "orig_id": as_key(first_of(raw, "orig_id", "origId", "original_id", "id")) or str(node_id),
        "cluster_id": cluster_id,
        "cluster_name": cluster_name,
        "cluster_confidence": min(1.0, max(0.0, confidence)),
        "keywords": [{"term": term, "score": score} for term, score in keywords],
        "top_keywords": top,
        "timestamp": _timestamp(raw),
        "num_sections": max(0, sections) if sections is not None else 1,
        "source_type": as_text(first_of(raw, "source_type", "sourceType")) or "chat",
        "title": str(title) if title is not None else None,
        "subcluster_id": subcluster,
    }


def _confidence(value: Any, weight: float, high: float) -> str:
    if value in ("high", "medium", "low"):
        return str(value)
    middle = (MIN_SIMILARITY + high) / 2
    return "high" if weight >= high else "medium" if weight >= middle else "low"


def _edges(
    raw_edges: list[Any], lookup: dict[str, int], cluster_of: dict[int, str], high: float
) -> list[dict[str, Any]]:
    """Edges between known nodes, one per pair (the heaviest), ``is_intra_cluster`` recomputed."""
    kept: dict[tuple[int, int], tuple[float, Any]] = {}
    for raw in raw_edges:
        if not isinstance(raw, dict):
            continue
        source = lookup.get(as_key(first_of(raw, "source", "from", "sourceId", "source_id")) or "")
        target = lookup.get(as_key(first_of(raw, "target", "to", "targetId", "target_id")) or "")
        if source is None or target is None or source == target:
            continue
        pair = (min(source, target), max(source, target))
        weight = as_float(first_of(raw, "weight", "score", "similarity", "value"), 1.0)
        if pair not in kept or kept[pair][0] < weight:
            kept[pair] = (weight, raw.get("confidence"))
    return [
        {
            "source": s,
            "target": t,
            "weight": weight,
            "type": "semantic",
            "is_intra_cluster": cluster_of[s] == cluster_of[t],
            "confidence": _confidence(confidence, weight, high),
        }
        for (s, t), (weight, confidence) in kept.items()
    ]


def _subclusters(
    raw_list: list[Any], lookup: dict[str, int], cluster_of: dict[int, str]
) -> list[dict[str, Any]]:
    subclusters = []
    for index, raw in enumerate(raw_list, start=1):
        if not isinstance(raw, dict):
            continue
        members = [
            lookup[k] for k in map(as_key, as_list(first_of(raw, "node_ids", "nodeIds"))) if k in lookup
        ]
        if not members:
            continue
        representative = lookup.get(
            as_key(first_of(raw, "representative_node_id", "representativeNodeId")) or ""
        )
        internal = as_int(raw.get("internal_edges"))
        subclusters.append(
            {
                "id": as_key(first_of(raw, "id", "subcluster_id")) or f"subcluster_{index}",
                "cluster_id": as_key(first_of(raw, "cluster_id", "clusterId")) or cluster_of[members[0]],
                "node_ids": members,
                "representative_node_id": representative if representative is not None else members[0],
                "size": len(members),
                "density": as_float(raw.get("density"), 0.0),
                "top_keywords": as_strings(first_of(raw, "top_keywords", "topKeywords")),
                "name": as_text(raw.get("name")) or None,
                "cohesion_score": as_float(raw["cohesion_score"], 0.0) if "cohesion_score" in raw else None,
                "internal_edges": internal,
            }
        )
    return subclusters


def _cluster_infos(
    nodes: list[dict[str, Any]], keywords: list[list[tuple[str, float]]], known: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """``metadata.clusters`` for the clusters the nodes are in, given themes kept."""
    members: dict[str, list[int]] = defaultdict(list)
    for position, node in enumerate(nodes):
        members[node["cluster_id"]].append(position)
    infos = {}
    for cluster_id in sorted(members, key=natural):
        info = known.get(cluster_id, {})
        group = members[cluster_id]
        themes = as_strings(first_of(info, "key_themes", "keyThemes", "themes", "keywords"))
        infos[cluster_id] = {
            "name": nodes[group[0]]["cluster_name"],
            "description": as_text(info.get("description")),
            "size": len(group),
            "key_themes": themes or top_terms(keywords[p] for p in group),
        }
    return infos
