"""Graph quality with the default embedder on the labelled fixtures (see bench/quality.py).

Clusters: Korean-only AMI >= 0.8, English-only >= 0.75, the mixed history >= 0.75 and the history of
twelve topics in near pairs (Korean, English and code-switched) >= 0.9, clusters chosen in [3, 16].
Names: a ``ko`` request names topic-pure clusters in Korean, with words people use for the topic.
The held-out history (``holdout.json``) is for bench/quality.py only and never tested or tuned on.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import adjusted_mutual_info_score

from demo.run import sample_path
from pipelines.cluster import cluster
from pipelines.graph_generation import GraphParams, build_graph
from pipelines.ingest import parse_conversation
from pipelines.space import similarity_space
from pipelines.text import has_hangul
from pipelines.topics import topic_affinity

from helpers import FIXTURES

TARGETS = {"ko": 0.8, "en": 0.75, "mixed": 0.75, "pairs": 0.9}


def history(name: str) -> list[dict[str, Any]]:
    conversations: list[dict[str, Any]] = json.loads(
        (FIXTURES / "clustering" / f"{name}.json").read_text("utf-8")
    )["conversations"]
    return conversations


def ami_of(services: Any, conversations: list[dict[str, Any]], topics: list[str], high: int = 16) -> float:
    texts = [parse_conversation(raw).text for raw in conversations]
    embedded = services.embedder.embed(texts)
    affinity = topic_affinity(
        [a.features for a in embedded.analyses], embedded.semantic, services.embedder.encoder
    )
    result = cluster(similarity_space(embedded, affinity), min_clusters=3, max_clusters=high)
    return float(adjusted_mutual_info_score(topics, result.labels))


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fixture_reaches_its_target(services: Any, name: str) -> None:
    conversations = history(name)
    score = ami_of(services, conversations, [c["topic"] for c in conversations])
    assert score >= TARGETS[name], f"{name}: AMI {score:.3f} < {TARGETS[name]}"


def test_demo_sample_clusters_by_topic(services: Any) -> None:
    topics = json.loads((FIXTURES / "clustering" / "sample_topics.json").read_text("utf-8"))
    conversations = json.loads((sample_path() / "input.json").read_text("utf-8"))
    score = ami_of(services, conversations, [topics[c["id"]] for c in conversations], high=8)
    assert score >= 0.5, f"sample history (12 topics, clustered into at most 8): AMI {score:.3f}"


def test_korean_request_names_topics_in_korean(services: Any) -> None:
    document = json.loads((FIXTURES / "clustering" / "pairs.json").read_text("utf-8"))
    conversations, vocabulary = document["conversations"], document["vocabulary"]
    items = [parse_conversation(raw) for raw in conversations]
    graph = build_graph(items, services.embedder, GraphParams(language="ko", max_clusters=16)).graph
    members: dict[str, list[str]] = {}
    for node, raw in zip(graph.nodes, conversations, strict=True):
        members.setdefault(node.cluster_id, []).append(raw["topic"])
    hits, pure = 0, 0
    for cluster_id, topics in members.items():
        topic, count = Counter(topics).most_common(1)[0]
        if count / len(topics) < 0.6:
            continue
        pure += 1
        name = graph.metadata.clusters[cluster_id].name
        assert has_hangul(name), f"{cluster_id} ({topic}) is named {name!r} for a ko request"
        hits += any(word in name.lower() for word in vocabulary[topic])
    assert pure >= 9 and hits / pure >= 0.8, f"{hits} of {pure} topic-pure clusters named with a topic word"
    assert np.all([s.name for s in graph.subclusters]), "every subcluster has a name"
