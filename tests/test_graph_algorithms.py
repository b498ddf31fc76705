"""Clustering, edges and subclusters on synthetic points with a known structure."""

from __future__ import annotations

import numpy as np
import pytest

from models.graph import Keyword
from pipelines.cluster import cluster
from pipelines.edges import nearest_pairs, similarity_edges
from pipelines.embed import normalize_rows, windows
from pipelines.subclusters import find_subclusters


def blobs(
    groups: int, per_group: int, dim: int = 32, spread: float = 0.15, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(groups, dim))
    points = np.vstack([c + spread * rng.normal(size=(per_group, dim)) * np.linalg.norm(c) for c in centres])
    return normalize_rows(points), np.repeat(np.arange(groups), per_group)


def test_cluster_count_is_chosen_inside_the_range() -> None:
    points, _truth = blobs(5, 20)
    result = cluster(points, min_clusters=3, max_clusters=8)
    assert result.k == 5
    assert 3 <= result.k <= 8
    sizes = [int(np.sum(result.labels == c)) for c in range(result.k)]
    assert sizes == sorted(sizes, reverse=True)
    assert np.all((result.confidence > 0) & (result.confidence <= 1))


@pytest.mark.parametrize("exact", [2, 4, 7])
def test_num_clusters_is_exact(exact: int) -> None:
    points, _ = blobs(5, 12)
    assert cluster(points, min_clusters=3, max_clusters=8, num_clusters=exact).k == exact


def test_fewer_points_than_clusters() -> None:
    points, _ = blobs(2, 1)
    result = cluster(points, min_clusters=3, max_clusters=8)
    assert result.k == 2 and sorted(result.labels.tolist()) == [0, 1]


def test_edges_are_unique_and_undirected() -> None:
    points, _ = blobs(4, 30)
    edges = similarity_edges(points)
    pairs = list(zip(edges.sources.tolist(), edges.targets.tolist(), strict=True))
    assert len(pairs) == len(set(pairs)) > 0
    assert all(s < t for s, t in pairs)
    assert set(edges.confidence) <= {"high", "medium", "low"}
    exact = points[edges.sources] @ points[edges.targets].T
    assert np.allclose(np.diag(exact), edges.weights, atol=1e-5)


def test_blockwise_neighbours_match_the_full_matrix() -> None:
    points, _ = blobs(3, 700, dim=16, spread=0.4)  # 2100 points: more than one block
    sources, targets, _weights = nearest_pairs(points, neighbours=3, min_similarity=-1.0)
    full = points @ points.T
    np.fill_diagonal(full, -np.inf)
    expected = set()
    for i, row in enumerate(np.argsort(-full, axis=1)[:, :3]):
        for j in row:
            expected.add((min(i, int(j)), max(i, int(j))))
    assert set(zip(sources.tolist(), targets.tolist(), strict=True)) == expected


def test_high_threshold_is_lowered_when_nothing_reaches_it() -> None:
    points, _ = blobs(3, 20, spread=2.0)
    edges = similarity_edges(points, min_similarity=-1.0, high_similarity=0.999)
    assert edges.high_threshold < 0.999
    assert "high" in edges.confidence


def test_subclusters_partition_each_cluster() -> None:
    points, truth = blobs(2, 40, spread=0.3)
    keywords = [[Keyword(term=f"t{i % 4}", score=0.5)] for i in range(len(truth))]
    communities = find_subclusters(points, truth, keywords)
    seen = [n for c in communities for n in c.members]
    assert sorted(seen) == list(range(len(truth)))
    for community in communities:
        assert len({int(truth[n]) for n in community.members}) == 1
        assert community.representative in community.members
        assert 0 <= community.density <= 1


def test_windows_cap_long_texts() -> None:
    text = " ".join(f"w{i}" for i in range(10_000))
    chunks = windows(text, size=100, limit=12)
    assert len(chunks) == 12 and chunks[0].startswith("w0 ") and chunks[-1].endswith("w9999")
    assert windows("") == [""]
