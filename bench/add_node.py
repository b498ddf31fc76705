"""Add-node latency: one conversation added to a user whose graph already has 10k nodes.

Usage: python bench/add_node.py [--nodes 10000] [--runs 30] [--embedder hybrid]

The user's 10k stored vectors are made from 400 embedded synthetic conversations (bench/
graph_generation.py's generator), each repeated with small noise, clustered into 8 clusters, and
upserted into an embedded Chroma in a temporary folder with the metadata graph generation writes,
together with the per-cluster rows graph generation writes.
Each run then does what the ADD_NODE actor does for a one-conversation batch, minus blob I/O: read the
user's cluster rows, embed the conversation, choose its cluster, find its edges, upsert its vector and
its cluster row.
Model load is excluded (one warm-up run). Prints p50 and p95 per stage and in total (target: p95 <= 250 ms).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from actors.add_node import known_clusters
from adapters.vectors import ChromaVectorStore, UserVectors
from core.services import build_embedder
from graph_generation import synthetic_history
from pipelines.add_node import (
    Batch,
    KnownCluster,
    add_items,
    batch_cluster_rows,
    batch_conversation,
    cluster_row,
)
from pipelines.cluster import cluster
from pipelines.embed import normalize_rows
from pipelines.ingest import parse_conversation
from pipelines.profiles import graph_profiles
from pipelines.text import TextAnalyzer

USER = "bench-user"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--embedder", default="hybrid")
    args = parser.parse_args()

    embedder = build_embedder(args.embedder, TextAnalyzer())
    pool = synthetic_history(400 + args.runs + 1, seed=1)
    base, probes = pool[:400], pool[400:]
    embedded = embedder.embed([parse_conversation(raw).text for raw in base])
    base_vectors = embedded.vectors
    labels = cluster(base_vectors, min_clusters=8, max_clusters=8, num_clusters=8).labels
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(base), size=args.nodes)
    semantic = embedded.semantic[picks] if embedded.semantic is not None else None
    profiles = graph_profiles(
        labels[picks], [embedded.analyses[p].features for p in picks.tolist()], semantic
    )
    vectors = normalize_rows(
        base_vectors[picks] + 0.05 * rng.normal(size=(args.nodes, base_vectors.shape[1]))
    )
    with tempfile.TemporaryDirectory() as folder:
        store = ChromaVectorStore("bench-add-node", path=Path(folder))
        ids = [f"{USER}_graph-{i:05d}" for i in range(args.nodes)]
        metadata = [
            {"userId": USER, "orig_id": f"graph-{i:05d}", "cluster_id": f"cluster_{labels[p] + 1}",
             "cluster_name": f"topic {labels[p] + 1}", "title": str(base[p]["title"])}
            for i, p in enumerate(picks.tolist())
        ]  # fmt: skip
        store.upsert(ids, vectors, metadata)
        rows = [
            cluster_row(USER, KnownCluster(id=f"cluster_{c + 1}", name=f"topic {c + 1}"), p, embedder.dim)
            for c, p in sorted(profiles.items())
        ]  # fmt: skip
        store.upsert_clusters(USER, "bench-graph", rows, replace=True)  # as graph generation writes them
        timings: dict[str, list[float]] = {"read clusters": [], "embed + place + upsert": [], "total": []}
        for run, raw in enumerate(probes):
            raw = {**raw, "conversationId": f"probe-{run:03d}"}
            batch = Batch(items=[batch_conversation(raw)], existing_clusters=[])
            batch_ids = {f"{USER}_probe-{run:03d}"}
            started = time.perf_counter()
            clusters, taken, stored = known_clusters(store, USER, batch, batch_ids, f"bench-{run}")
            middle = time.perf_counter()
            placed = add_items(
                batch.items, embedder, UserVectors(store, USER), clusters, user_id=USER, task_id=f"bench-{run}",
                taken_cluster_ids=taken, stored_batch_ids=stored,
            )  # fmt: skip
            store.upsert_clusters(
                USER, f"bench-{run}", batch_cluster_rows(USER, f"bench-{run}", placed, embedder.dim)
            )
            ended = time.perf_counter()
            assert placed[0].assignment is not None
            if run == 0:
                continue  # warm-up: first calls into the model and Chroma
            timings["read clusters"].append((middle - started) * 1000)
            timings["embed + place + upsert"].append((ended - middle) * 1000)
            timings["total"].append((ended - started) * 1000)
    print(f"machine: {os.cpu_count()} cores; embedder: {embedder.name}; user graph: {args.nodes} nodes; "
          f"{len(timings['total'])} runs (ms)")  # fmt: skip
    print(f"{'stage':<24} {'p50':>8} {'p95':>8} {'mean':>8}")
    for stage, values in timings.items():
        print(
            f"{stage:<24} {percentile(values, 0.5):>8.1f} {percentile(values, 0.95):>8.1f} "
            f"{statistics.mean(values):>8.1f}"
        )
    print(
        f"target: p95 total <= 250 ms -> {'met' if percentile(timings['total'], 0.95) <= 250 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
