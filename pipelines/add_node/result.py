"""``result.json`` of an add-node task."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from models.add_node import AddedEdge, AddedNode, AddNodeItemResult, AddNodeResultDocument, AssignedCluster
from pipelines.add_node.place import Placed
from pipelines.graph_generation import iso_time


def result_document(user_id: str, placed: Sequence[Placed]) -> AddNodeResultDocument:
    """``result.json``: one item per conversation or note, in batch order."""
    results: list[AddNodeItemResult] = []
    for entry in placed:
        batch_item = entry.batch_item
        ids: dict[str, Any] = (
            {"conversationId": batch_item.orig_id}
            if batch_item.kind == "conversation"
            else {"noteId": batch_item.orig_id}
        )
        item, assignment = batch_item.item, entry.assignment
        if item is None or assignment is None or entry.node_id is None:
            results.append(
                AddNodeItemResult.model_validate({**ids, "skipped": True, "error": batch_item.error})
            )
            continue
        cluster = assignment.cluster
        count = "numMessages" if batch_item.kind == "conversation" else "numSections"
        node = AddedNode.model_validate(
            {
                "id": entry.node_id,
                "userId": user_id,
                "origId": item.orig_id,
                "clusterId": cluster.id,
                "clusterName": cluster.name,
                count: item.num_sections,
                "timestamp": iso_time(item.create_time if item.create_time is not None else item.update_time),
                "createdAt": iso_time(item.create_time),
                "updatedAt": iso_time(item.update_time),
            }
        )
        edges = [
            AddedEdge(source=entry.node_id, target=target, weight=weight, intra_cluster=intra)
            for target, weight, intra in entry.edges
        ]
        assigned = AssignedCluster(
            cluster_id=cluster.id,
            is_new_cluster=assignment.is_new,
            confidence=assignment.confidence,
            reasoning=assignment.reasoning,
            name=cluster.name,
            description=cluster.description,
            themes=cluster.themes,
        )
        results.append(
            AddNodeItemResult.model_validate(
                {**ids, "nodes": [node], "edges": edges, "assignedCluster": assigned}
            )
        )
    processed = sum(1 for r in results if not r.skipped)
    return AddNodeResultDocument(user_id=user_id, processed_count=processed, results=results)
