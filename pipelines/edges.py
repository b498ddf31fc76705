"""Similarity edges: mutual nearest neighbours by cosine (and each node's best), block by block.

Only ``neighbours`` candidates per node are kept, so memory grows with n, not n²: a block of rows is
multiplied against all points, its top entries taken, and the block dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Nearest neighbours considered per node (edges join mutual neighbours, and each node to its best).
NEIGHBOURS = 8
#: Below this cosine similarity no edge is drawn.
MIN_SIMILARITY = 0.15
#: At or above this similarity an edge is ``high`` confidence (a hard edge for the backend).
HIGH_SIMILARITY = 0.7
#: When no pair reaches ``HIGH_SIMILARITY``, the top share of edges becomes ``high`` instead.
ADAPTIVE_HIGH_QUANTILE = 0.9
#: Rows per block.
BLOCK_ROWS = 512


@dataclass(slots=True)
class Edges:
    """Undirected edges ``source < target`` with their weights and confidence labels."""

    sources: np.ndarray
    targets: np.ndarray
    weights: np.ndarray
    confidence: list[str]
    high_threshold: float

    def __len__(self) -> int:
        return int(self.sources.shape[0])


def nearest_pairs(
    points: np.ndarray,
    neighbours: int = NEIGHBOURS,
    min_similarity: float = MIN_SIMILARITY,
    *,
    mutual: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique pairs ``(i < j)`` with their similarity, where ``j`` is among ``i``'s ``neighbours``
    nearest or vice versa; with ``mutual``, only pairs nearest to each other, plus every node's best."""
    n = points.shape[0]
    keep = min(neighbours, n - 1)
    if keep < 1:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float32)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    sims: list[np.ndarray] = []
    bests: list[np.ndarray] = []
    for start in range(0, n, BLOCK_ROWS):
        block = points[start : start + BLOCK_ROWS] @ points.T
        local = np.arange(block.shape[0])
        block[local, start + local] = -np.inf
        top = np.argpartition(-block, keep - 1, axis=1)[:, :keep]
        values = np.take_along_axis(block, top, axis=1)
        mask = (values >= min_similarity).ravel()
        rows.append(np.repeat(start + local, keep)[mask])
        cols.append(top.ravel()[mask])
        sims.append(values.ravel()[mask])
        bests.append((values == values.max(axis=1, keepdims=True)).ravel()[mask])
    source = np.concatenate(rows)
    target = np.concatenate(cols)
    weight = np.concatenate(sims).astype(np.float32)
    best = np.concatenate(bests)
    low, high = np.minimum(source, target), np.maximum(source, target)
    pair_keys = low.astype(np.int64) * n + high
    keys, first, counts = np.unique(pair_keys, return_index=True, return_counts=True)
    if mutual:
        best_keys = np.unique(pair_keys[best])
        chosen = (counts == 2) | np.isin(keys, best_keys)
        first = first[chosen]
    return low[first], high[first], weight[first]


def similarity_edges(
    points: np.ndarray,
    neighbours: int = NEIGHBOURS,
    min_similarity: float = MIN_SIMILARITY,
    high_similarity: float = HIGH_SIMILARITY,
) -> Edges:
    """Edges between nearest neighbours, labelled ``high`` / ``medium`` / ``low`` confidence.

    The ``high`` threshold is lowered to the top decile of edge weights when no pair reaches it.
    """
    sources, targets, weights = nearest_pairs(points, neighbours, min_similarity, mutual=True)
    threshold = high_similarity
    if len(weights) and float(weights.max()) < high_similarity:
        threshold = float(np.quantile(weights, ADAPTIVE_HIGH_QUANTILE))
    middle = (min_similarity + threshold) / 2
    confidence = ["high" if w >= threshold else "medium" if w >= middle else "low" for w in weights.tolist()]
    return Edges(sources, targets, weights, confidence, threshold)
