"""Cluster profiles: term weights, left-out cohesion, and the stored row round trip."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from pipelines.add_node import KnownCluster, cluster_row, clusters_from_rows
from pipelines.embed import normalize_rows
from pipelines.profiles import (
    ClusterProfile,
    TermWeights,
    graph_profiles,
    profile_from_row,
    profile_row,
    similarity,
)

FEATURES = [
    ["run", "km", "pace", "eat"],
    ["run", "marathon", "pace", "eat", "eat"],
    ["run", "km", "shoes"],
    ["bread", "flour", "oven", "eat"],
    ["bread", "yeast", "oven"],
    ["bread", "flour", "butter", "eat"],
]
LABELS = np.array([0, 0, 0, 1, 1, 1])


def semantic_vectors() -> np.ndarray:
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(2, 16))
    return normalize_rows(centres[LABELS] + 0.3 * rng.normal(size=(6, 16)))


def test_shared_words_weigh_less_than_a_topics_own() -> None:
    profiles = graph_profiles(LABELS, FEATURES, None)
    weights = TermWeights(profiles.values())
    assert weights.idf("eat") < weights.idf("run") < weights.idf("never-seen")
    running = weights.profile_terms(profiles[0])
    assert running["run"] > running["eat"] and "bread" not in running
    item = weights.item_terms(["run", "km", "eat"])
    assert similarity(None, item, profiles[0], running) > similarity(
        None, item, profiles[1], weights.profile_terms(profiles[1])
    )


def test_cohesion_leaves_each_member_out() -> None:
    """The fast left-out similarity equals comparing each member with a profile built without it."""
    semantic = semantic_vectors()
    profiles = graph_profiles(LABELS, FEATURES, semantic)
    weights = TermWeights(profiles.values())
    for label, profile in profiles.items():
        expected = []
        for member in np.flatnonzero(label == LABELS).tolist():
            rest = ClusterProfile()
            for other in np.flatnonzero(label == LABELS).tolist():
                if other != member:
                    rest.add(semantic[other], FEATURES[other])
            terms = weights.item_terms(FEATURES[member])
            expected.append(similarity(semantic[member], terms, rest, weights.profile_terms(rest)))
        assert profile.cohesion == pytest.approx(float(np.mean(expected)), abs=1e-9)
        assert 0 < profile.cohesion < 1


def test_stored_row_round_trip() -> None:
    semantic = semantic_vectors()
    profile = graph_profiles(LABELS, FEATURES, semantic)[1]
    vector, metadata = profile_row(profile, dim=16)
    back = profile_from_row(vector, metadata)
    assert back is not None and back.count == 3 and back.term_counts == profile.term_counts
    assert back.cohesion == pytest.approx(profile.cohesion, abs=1e-6)
    assert profile.semantic_sum is not None and back.semantic_sum is not None
    assert np.allclose(back.semantic_sum, profile.semantic_sum, atol=1e-5)
    lexical = graph_profiles(LABELS, FEATURES, None)[0]
    vector, metadata = profile_row(lexical, dim=16)
    assert metadata["semantic"] is False and float(np.linalg.norm(vector)) == pytest.approx(1.0)
    back = profile_from_row(vector, metadata)
    assert back is not None and back.semantic_sum is None and back.term_counts == Counter(lexical.term_counts)
    assert profile_from_row(vector, {**metadata, "terms": "not json"}) is None
    assert profile_from_row(vector, {**metadata, "count": 0}) is None


def test_rows_of_one_cluster_are_merged() -> None:
    """A graph row and an add-node task's row of the same cluster read back as one profile."""

    semantic = semantic_vectors()
    graph_profile = graph_profiles(LABELS, FEATURES, semantic)[0]
    added = ClusterProfile()
    added.add(semantic[0], ["run", "trail"])
    cluster = KnownCluster(id="cluster_1", name="running", themes=["run", "pace"])
    rows = [
        cluster_row("u", cluster, graph_profile, 16),
        cluster_row("u", cluster, added, 16, task_id="task-add"),
    ]
    assert rows[0][0] == "u_cluster_1" and rows[1][0] == "u_cluster_1_task-add"
    clusters = clusters_from_rows(np.asarray([r[1] for r in rows]), [r[2] for r in rows], [])
    merged = clusters["cluster_1"].profile
    assert (
        merged is not None and merged.count == 4 and merged.cohesion == pytest.approx(graph_profile.cohesion)
    )
    assert merged.term_counts["run"] == 4 and merged.term_counts["trail"] == 1
    assert clusters["cluster_1"].name == "running" and clusters["cluster_1"].themes == ["run", "pace"]
