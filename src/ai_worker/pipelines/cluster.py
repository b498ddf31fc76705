"""Top-level clusters: spherical k-means, the count chosen by silhouette inside the requested range."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

#: Softmax temperature turning centroid similarities into a membership confidence.
CONFIDENCE_TEMPERATURE = 0.05
#: Silhouette is computed on at most this many points (it is quadratic).
SILHOUETTE_SAMPLE = 2000


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


def _kmeans(points: np.ndarray, k: int, seed: int) -> np.ndarray:
    model = KMeans(n_clusters=k, n_init=4, random_state=seed, max_iter=200)
    return np.asarray(model.fit_predict(points))


def choose_labels(points: np.ndarray, low: int, high: int, seed: int = 0) -> np.ndarray:
    """k-means labels for the k in ``[low, high]`` with the best silhouette."""
    n = points.shape[0]
    low, high = max(1, min(low, n)), max(1, min(high, n))
    if low == high or n < 3:
        return _kmeans(points, low, seed)
    best: tuple[float, np.ndarray] | None = None
    sample = min(n, SILHOUETTE_SAMPLE)
    for k in range(low, high + 1):
        labels = _kmeans(points, k, seed)
        if k < 2 or len(set(labels.tolist())) < 2 or k >= n:
            score = -1.0
        else:
            score = float(silhouette_score(points, labels, sample_size=sample, random_state=seed))
        if best is None or score > best[0]:
            best = (score, labels)
    assert best is not None
    return best[1]


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
    centroids = np.vstack([points[labels == c].mean(axis=0) for c in range(len(order))])
    norms = np.linalg.norm(centroids, axis=1, keepdims=True)
    centroids = centroids / np.where(norms == 0, 1.0, norms)
    similarity = points @ centroids.T
    scaled = (similarity - similarity.max(axis=1, keepdims=True)) / CONFIDENCE_TEMPERATURE
    probabilities = np.exp(scaled)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    confidence = probabilities[np.arange(len(labels)), labels]
    return Clustering(labels=labels, confidence=confidence.astype(np.float32), centroids=centroids)
