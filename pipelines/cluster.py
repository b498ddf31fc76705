"""Top-level clusters: Ward's hierarchical clustering, cut where the silhouette is best.

Ward's method is deterministic and, on the labelled fixtures, clearly better than k-means (whose
result swings with its seed). One tree serves every candidate count in the requested range. Above
``WARD_SAMPLE`` points the tree is built on a seeded sample and the clusters are finished with a few
k-means steps started from its centroids, so time and memory stay bounded at 10k nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

#: Softmax temperature turning centroid similarities into a membership confidence.
CONFIDENCE_TEMPERATURE = 0.05
#: Silhouette is computed on at most this many points (it is quadratic).
SILHOUETTE_SAMPLE = 2000
#: Ward's tree is built on at most this many points (it is quadratic in memory).
WARD_SAMPLE = 3000


@dataclass(slots=True)
class Clustering:
    """Labels ``0..k-1`` ordered by cluster size (largest first), with confidences and centroids."""

    labels: np.ndarray
    confidence: np.ndarray
    centroids: np.ndarray

    @property
    def k(self) -> int:
        """Number of clusters."""
        return int(self.centroids.shape[0])


def _centroids(points: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return np.vstack([points[labels == label].mean(axis=0) for label in np.unique(labels)])


def _cuts(points: np.ndarray, low: int, high: int) -> dict[int, np.ndarray]:
    """Ward labels (0-based) for every k in ``[low, high]`` from one tree."""
    tree = linkage(points, method="ward", metric="euclidean")
    return {k: fcluster(tree, t=k, criterion="maxclust") - 1 for k in range(low, high + 1)}


def _score(points: np.ndarray, labels: np.ndarray, seed: int) -> float:
    found = len(np.unique(labels))
    if found < 2 or found >= len(labels):
        return -1.0
    sample = min(len(labels), SILHOUETTE_SAMPLE)
    return float(silhouette_score(points, labels, sample_size=sample, random_state=seed))


def choose_labels(points: np.ndarray, low: int, high: int, seed: int = 0) -> np.ndarray:
    """Labels for the k in ``[low, high]`` (at most one cluster per point) with the best silhouette."""
    n = points.shape[0]
    low, high = max(1, min(low, n)), max(1, min(high, n))
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    sample = np.arange(n)
    if n > WARD_SAMPLE:
        sample = np.sort(np.random.default_rng(seed).choice(n, size=WARD_SAMPLE, replace=False))
    cuts = _cuts(points[sample], low, high)
    best_k = max(cuts, key=lambda k: (_score(points[sample], cuts[k], seed), -k)) if low < high else low
    labels = cuts[best_k]
    if n > WARD_SAMPLE:
        start = _centroids(points[sample], labels)
        refine = KMeans(n_clusters=start.shape[0], init=start, n_init=1, max_iter=20, random_state=seed)
        labels = np.asarray(refine.fit_predict(points))
    return np.asarray(labels, dtype=np.int64)


def cluster(
    points: np.ndarray,
    *,
    min_clusters: int,
    max_clusters: int,
    num_clusters: int | None = None,
    seed: int = 0,
) -> Clustering:
    """Cluster unit rows: exactly ``num_clusters`` when given, else the best count in the range."""
    low, high = (num_clusters, num_clusters) if num_clusters else (min_clusters, max_clusters)
    raw = choose_labels(points, low, high, seed)
    order = sorted(set(raw.tolist()), key=lambda label: (-int(np.sum(raw == label)), label))
    relabel = {old: new for new, old in enumerate(order)}
    labels = np.asarray([relabel[label] for label in raw.tolist()], dtype=np.int64)
    centroids = _centroids(points, labels)
    norms = np.linalg.norm(centroids, axis=1, keepdims=True)
    centroids = centroids / np.where(norms == 0, 1.0, norms)
    similarity = points @ centroids.T
    scaled = (similarity - similarity.max(axis=1, keepdims=True)) / CONFIDENCE_TEMPERATURE
    probabilities = np.exp(scaled)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    confidence = probabilities[np.arange(len(labels)), labels]
    return Clustering(labels=labels, confidence=confidence.astype(np.float32), centroids=centroids)
