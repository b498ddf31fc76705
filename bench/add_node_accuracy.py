"""Add-node accuracy on labelled histories: held-out conversations placed into a graph of the rest.

Usage: python bench/add_node_accuracy.py FILE.json [FILE.json ...] [--folds 5] [--embedder hybrid]

A labelled file is what bench/quality.py reads (conversations with their true ``topic``; at least
``2 * folds`` per topic). Fold ``f`` holds out conversations ``2f`` and ``2f + 1`` (mod 9) of every
topic, builds the graph of the others (numClusters = number of topics), stores its vectors and
cluster profile rows in an embedded Chroma in a temporary folder exactly as the GRAPH_GENERATION
actor does, and places the held-out batch as the ADD_NODE actor does. An item is right when it goes
to the cluster that holds most of its topic; an item that opens a new cluster is wrong.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from actors.add_node import known_clusters
from actors.graph_generation import node_metadata
from adapters.vectors import ChromaVectorStore, UserVectors, vector_id
from core.services import build_embedder
from pipelines.add_node import Batch, add_items, batch_conversation, graph_cluster_rows
from pipelines.embed import Embedder
from pipelines.graph_generation import GraphParams, build_graph
from pipelines.ingest import parse_conversation
from pipelines.text import TextAnalyzer
from quality import load_conversations

USER = "bench-user"


def fold_accuracy(
    conversations: list[dict[str, Any]], fold: int, embedder: Embedder, folder: Path
) -> tuple[int, int, int]:
    """(right, placed, opened new clusters) for one fold."""
    seen: Counter[str] = Counter()
    base, held = [], []
    for raw in conversations:
        topic = str(raw["topic"])
        position = seen[topic] % 9
        seen[topic] += 1
        (held if position in {(2 * fold) % 9, (2 * fold + 1) % 9} else base).append(raw)
    topics = len(seen)
    built = build_graph(
        [parse_conversation(raw) for raw in base],
        embedder,
        GraphParams(min_clusters=min(3, topics), max_clusters=max(8, topics), num_clusters=topics),
    )
    topic_of = {str(raw["id"]): str(raw["topic"]) for raw in conversations}
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for node in built.graph.nodes:
        counts[topic_of[node.orig_id]][node.cluster_id] += 1
    home = {topic: c.most_common(1)[0][0] for topic, c in counts.items()}

    store = ChromaVectorStore(f"accuracy-{fold}", path=folder / f"fold-{fold}")
    graph_task = f"graph-{fold}"
    ids = [vector_id(USER, node.orig_id) for node in built.graph.nodes]
    store.upsert(ids, np.asarray(built.vectors), node_metadata(USER, graph_task, built.graph))
    rows = graph_cluster_rows(USER, built.graph, built.profiles, embedder.dim)
    store.upsert_clusters(USER, graph_task, rows, replace=True)

    task = f"add-{fold}"
    batch = Batch(items=[batch_conversation(raw) for raw in held])
    batch_ids = {vector_id(USER, str(raw["id"])) for raw in held}
    clusters, taken, stored = known_clusters(store, USER, batch, batch_ids, task)
    placed = add_items(
        batch.items,
        embedder,
        UserVectors(store, USER),
        clusters,
        user_id=USER,
        task_id=task,
        taken_cluster_ids=taken,
        stored_batch_ids=stored,
    )
    right = opened = 0
    for entry, raw in zip(placed, held, strict=True):
        assert entry.assignment is not None
        opened += entry.assignment.is_new
        right += entry.assignment.cluster.id == home[str(raw["topic"])]
    return right, len(held), opened


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--embedder", default="hybrid")
    args = parser.parse_args()

    embedder = build_embedder(args.embedder, TextAnalyzer())
    print(f"embedder: {embedder.name}; {args.folds} folds; 2 held-out conversations per topic and fold")
    print(f"{'file':<24} {'right':>7} {'placed':>7} {'new':>5} {'accuracy':>9}")
    with tempfile.TemporaryDirectory() as folder:
        for path in args.files:
            conversations = load_conversations(path)
            right = placed = opened = 0
            for fold in range(args.folds):
                r, p, o = fold_accuracy(conversations, fold, embedder, Path(folder))
                right, placed, opened = right + r, placed + p, opened + o
            print(f"{path.name:<24} {right:>7} {placed:>7} {opened:>5} {right / placed:>9.1%}")
    print("target: >= 90 % on the labelled fixture")
    return 0


if __name__ == "__main__":
    sys.exit(main())
