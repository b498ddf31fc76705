"""Graph summary speed: seconds per stored graph at growing sizes, and how it scales.

    python bench/summary.py [--sizes 2500,5000,10000] [--runs 3]

Each size is a synthetic stored graph (30 clusters, 6 edges per node, 880 days of timestamps). The
figures are medians with min and max over ``--runs``; the last column is the time per node relative to
the smallest size (1.0 = linear).
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from pipelines.summary import normalize_graph, summarize_graph

CLUSTERS = 30
EDGES_PER_NODE = 6
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def stored_graph(size: int, seed: int = 7) -> dict[str, Any]:
    """A stored graph of ``size`` nodes as the backend keeps it."""
    rng = np.random.default_rng(seed)
    clusters = rng.integers(0, CLUSTERS, size)
    days = rng.integers(0, 880, size)
    first = datetime(2024, 1, 1, tzinfo=UTC)
    nodes = [
        {
            "id": index,
            "orig_id": f"conv-{index}",
            "cluster_id": f"cluster_{cluster + 1}",
            "cluster_name": f"topic {cluster + 1}",
            "keywords": [
                {"term": f"term{cluster * 40 + int(offset)}", "score": 0.9 - 0.1 * rank}
                for rank, offset in enumerate(rng.integers(0, 60, 8))
            ],
            "timestamp": (first + timedelta(days=int(day))).isoformat(),
            "title": f"notes on term{cluster * 40}",
        }
        for index, (cluster, day) in enumerate(zip(clusters, days, strict=True))
    ]
    ends = rng.integers(0, size, (size * EDGES_PER_NODE, 2))
    weights = 0.3 + 0.6 * rng.random(len(ends))
    edges = [
        {"source": int(a), "target": int(b), "weight": float(w)}
        for (a, b), w in zip(ends, weights, strict=True)
    ]
    return {"nodes": nodes, "edges": edges}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="2500,5000,10000")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    print(f"{'nodes':>7} {'edges':>7} {'median s':>9} {'min':>7} {'max':>7} {'per node vs smallest':>21}")
    base: float | None = None
    for size in sizes:
        graph = stored_graph(size)
        times = []
        for _ in range(args.runs):
            began = time.perf_counter()
            summarize_graph(normalize_graph(graph), "en", now=NOW)
            times.append(time.perf_counter() - began)
        median = statistics.median(times)
        per_node = median / size
        base = base or per_node
        print(
            f"{size:>7} {size * EDGES_PER_NODE:>7} {median:>9.2f} {min(times):>7.2f} {max(times):>7.2f}"
            f" {per_node / base:>21.2f}"
        )


if __name__ == "__main__":
    main()
