"""The add-node pipeline: new conversations and notes placed into a user's existing graph.

For each item, in batch order: embed it, score every known cluster, place it in the best one or
open a new cluster when nothing is close enough, draw edges to the user's nearest stored nodes, and
add its vector to the index and its terms to the cluster's profile, so that later items of the batch
see it.

Modules: ``batch`` (reading the input), ``clusters`` (scoring and opening clusters), ``rows``
(stored cluster rows), ``reasoning`` (why an item went where it did), ``place`` (the batch, item by
item), ``index`` (the vector index it uses) and ``result`` (``result.json``).

Pure computation: the index (a user-scoped vector store) is passed in.
"""

from pipelines.add_node.batch import Batch, BatchItem, batch_conversation, batch_note, read_batch
from pipelines.add_node.clusters import Assignment, ClusterChooser, ItemPoint, KnownCluster, fresh_cluster_id
from pipelines.add_node.index import Neighbour, NodeIndex, Scalar, node_id
from pipelines.add_node.place import Placed, add_items, cluster_text, vector_metadata
from pipelines.add_node.reasoning import Explainer, Namer, new_cluster_label, reasoning, shared_terms
from pipelines.add_node.result import result_document
from pipelines.add_node.rows import (
    ClusterRow,
    batch_cluster_rows,
    cluster_row,
    clusters_from_rows,
    graph_cluster_rows,
)

__all__ = [
    "Assignment",
    "Batch",
    "BatchItem",
    "ClusterChooser",
    "ClusterRow",
    "Explainer",
    "ItemPoint",
    "KnownCluster",
    "Namer",
    "Neighbour",
    "NodeIndex",
    "Placed",
    "Scalar",
    "add_items",
    "batch_cluster_rows",
    "batch_conversation",
    "batch_note",
    "cluster_row",
    "cluster_text",
    "clusters_from_rows",
    "fresh_cluster_id",
    "graph_cluster_rows",
    "new_cluster_label",
    "node_id",
    "read_batch",
    "reasoning",
    "result_document",
    "shared_terms",
    "vector_metadata",
]
