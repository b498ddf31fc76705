"""The offline graph summary: reading stored graphs, every section of ``summary.json``, languages."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.graph import ClusterInfo, GraphDocument, GraphEdge, GraphMetadata, GraphNode, Keyword
from models.summary import SummaryDocument
from pipelines.summary import normalize_graph, question_types, summarize_graph

NOW = datetime(2026, 6, 1, tzinfo=UTC)
HANGUL = re.compile(r"[\uac00-\ud7a3]")
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]{3,}")

CLUSTERS = {
    "cluster_1": "Python tooling",
    "cluster_2": "Sourdough baking",
    "cluster_3": "Japan travel",
    "cluster_4": "Reading list",
}
#: (cluster, title, timestamp, keywords, source type)
NODES: list[tuple[str, str, str | None, list[str], str]] = [
    (
        "cluster_1",
        "How to set up ruff with pre-commit",
        "2025-11-10T09:00:00Z",
        ["ruff", "precommit", "lint"],
        "chat",
    ),
    (
        "cluster_1",
        "uv vs pip for project installs",
        "2026-01-15T09:00:00Z",
        ["uv", "pip", "packaging"],
        "chat",
    ),
    (
        "cluster_1",
        "Why is my pytest fixture not found",
        "2026-03-20T09:00:00Z",
        ["pytest", "fixture", "packaging"],
        "chat",
    ),
    (
        "cluster_1",
        "mypy error: missing type stubs",
        "2026-05-10T09:00:00Z",
        ["mypy", "stubs", "typing"],
        "chat",
    ),
    (
        "cluster_2",
        "Sourdough starter not rising",
        "2025-03-02T09:00:00Z",
        ["sourdough", "starter", "flour"],
        "chat",
    ),
    (
        "cluster_2",
        "Best flour for sourdough bread",
        "2025-04-11T09:00:00Z",
        ["flour", "sourdough", "bread"],
        "chat",
    ),
    (
        "cluster_2",
        "How long to proof dough in the fridge",
        "2025-05-20T09:00:00Z",
        ["dough", "proof", "fridge"],
        "chat",
    ),
    ("cluster_3", "JR pass or IC card in Tokyo", "2026-04-20T09:00:00Z", ["japan", "tokyo", "pass"], "chat"),
    ("cluster_3", "Best ramen in Kyoto", "2026-05-05T09:00:00Z", ["japan", "kyoto", "ramen"], "chat"),
    ("cluster_4", "reading list", None, ["books", "reading", "pytest"], "markdown"),
]
#: (source, target, weight)
EDGES = [
    (0, 1, 0.8),
    (1, 2, 0.7),
    (2, 3, 0.6),
    (4, 5, 0.9),
    (5, 6, 0.6),
    (7, 8, 0.75),
    (2, 9, 0.5),
    (2, 6, 0.4),
    (5, 8, 0.45),
]


def make_graph(nodes: list[tuple[str, str, str | None, list[str], str]] = NODES) -> GraphDocument:
    graph_nodes = [
        GraphNode(
            id=i,
            orig_id=f"conv-{i}",
            cluster_id=cluster,
            cluster_name=CLUSTERS[cluster],
            cluster_confidence=0.9,
            keywords=[Keyword(term=t, score=round(0.5 - 0.1 * r, 2)) for r, t in enumerate(terms)],
            top_keywords=terms,
            timestamp=stamp,
            num_sections=4,
            source_type=source,
            title=title,
        )
        for i, (cluster, title, stamp, terms, source) in enumerate(nodes)
    ]
    cluster_of = [n.cluster_id for n in graph_nodes]
    edges = [
        GraphEdge(
            source=s,
            target=t,
            weight=w,
            is_intra_cluster=cluster_of[s] == cluster_of[t],
            confidence="high" if w >= 0.7 else "medium" if w >= 0.5 else "low",
        )
        for s, t, w in EDGES
    ]
    clusters = {
        cid: ClusterInfo(
            name=name,
            description=f"About {name}.",
            size=cluster_of.count(cid),
            key_themes=[name.split()[0].lower()],
        )
        for cid, name in CLUSTERS.items()
    }
    metadata = GraphMetadata(
        generated_at="2026-06-01T00:00:00Z",
        total_nodes=len(graph_nodes),
        total_edges=len(edges),
        total_clusters=len(clusters),
        clusters=clusters,
        language="en",
    )
    return GraphDocument(nodes=graph_nodes, edges=edges, metadata=metadata)


def prose(doc: SummaryDocument) -> list[str]:
    """Every text a reader sees."""
    return [
        doc.overview.summary_text,
        doc.overview.conversation_style,
        *(c.insight_text for c in doc.clusters),
        *(p.description for p in doc.patterns),
        *(c.description for c in doc.connections),
        *(r.title for r in doc.recommendations),
        *(r.description for r in doc.recommendations),
    ]


def by_id(doc: SummaryDocument) -> dict[str, Any]:
    return {c.cluster_id: c for c in doc.clusters}


def test_every_section_is_filled() -> None:
    doc = summarize_graph(make_graph(), "en", now=NOW)
    overview = doc.overview
    assert overview.total_source_nodes == 10
    assert overview.time_span == "2025-03 ~ 2026-05"
    assert overview.primary_interests[0] == "Python tooling"
    assert overview.conversation_style.startswith("Mostly AI chats (90%)")
    assert re.fullmatch(r"\d{4}-\d{2}", overview.most_active_period)
    assert 2 <= overview.summary_text.count(". ") + 1 <= 4
    assert [c.cluster_id for c in doc.clusters] == list(CLUSTERS)
    for cluster in doc.clusters:
        assert cluster.name == CLUSTERS[cluster.cluster_id]
        assert cluster.top_keywords and cluster.key_themes and cluster.notable_conversations
        assert cluster.name in cluster.insight_text
    assert {p.pattern_type for p in doc.patterns} == {"repetition", "progression", "gap", "bridge"}
    assert all(p.evidence and p.description for p in doc.patterns)
    assert doc.connections and all(c.description for c in doc.connections)
    assert {r.type for r in doc.recommendations} == {"consolidate", "review", "explore", "connect"}
    assert all(r.related_nodes and r.title and r.description for r in doc.recommendations)
    assert doc.generated_at == "2026-06-01T00:00:00.000000Z"
    assert doc.detail_level == "standard"


def test_cluster_measures() -> None:
    clusters = by_id(summarize_graph(make_graph(), "en", now=NOW))
    python = clusters["cluster_1"]
    assert python.density == 0.5  # 3 of 6 possible pairs
    assert python.centrality == pytest.approx(0.9 / 3.0, abs=1e-4)  # (0.5 + 0.4) of 3.0 leaves the cluster
    assert clusters["cluster_3"].density == 1.0
    assert clusters["cluster_4"].density == 0.0
    assert python.notable_conversations[0] == "Why is my pytest fixture not found"  # the most connected node
    assert python.common_question_types == ["how-to", "why", "comparison"]
    assert clusters["cluster_2"].common_question_types == ["recommendation"]


def test_recency_classes() -> None:
    clusters = by_id(summarize_graph(make_graph(), "en", now=NOW))
    assert {cid: c.recency for cid, c in clusters.items()} == {
        "cluster_1": "active",
        "cluster_2": "dormant",
        "cluster_3": "new",
        "cluster_4": "unknown",
    }
    later = by_id(summarize_graph(make_graph(), "en", now=NOW + timedelta(days=100)))
    assert later["cluster_1"].recency == "active"  # quiet for 122 days: cooling, not yet dormant
    assert later["cluster_3"].recency == "active"
    much_later = by_id(summarize_graph(make_graph(), "en", now=NOW + timedelta(days=400)))
    assert {c.recency for c in much_later.values()} == {"dormant", "unknown"}


def test_patterns_carry_their_evidence() -> None:
    doc = summarize_graph(make_graph(), "en", now=NOW)
    patterns = {(p.pattern_type, p.description.split("“")[1].split("”")[0]): p for p in doc.patterns}
    assert patterns[("gap", "Sourdough baking")].evidence[0] == "How long to proof dough in the fridge"
    bridge = patterns[("bridge", "Why is my pytest fixture not found")]
    assert bridge.significance == "medium"  # it reaches two other clusters
    progression = patterns[("progression", "Python tooling")]
    assert progression.evidence[0] == "How to set up ruff with pre-commit"
    assert progression.evidence[-1] == "mypy error: missing type stubs"
    assert ("repetition", "Python tooling") in patterns


def test_connections() -> None:
    connections = summarize_graph(make_graph(), "en", now=NOW).connections
    pairs = [(c.source_cluster, c.target_cluster, c.connection_strength) for c in connections]
    assert pairs == [
        ("cluster_1", "cluster_4", 1.0),
        ("cluster_2", "cluster_3", 0.9),
        ("cluster_1", "cluster_2", 0.8),
    ]
    assert connections[0].bridge_keywords == ["pytest"]


def test_recommendations_point_at_nodes() -> None:
    recommendations: dict[str, Any] = {}
    for recommendation in summarize_graph(make_graph(), "en", now=NOW).recommendations:
        recommendations.setdefault(recommendation.type, recommendation)  # the first of each type
    assert "Sourdough baking" in recommendations["review"].title
    assert set(recommendations["review"].related_nodes) <= {"conv-4", "conv-5", "conv-6"}
    assert "Japan travel" in recommendations["explore"].title
    assert recommendations["consolidate"].related_nodes[0] == "conv-2"
    assert set(recommendations["connect"].related_nodes) == {"conv-2", "conv-9"}


@pytest.mark.parametrize(
    ("title", "kinds"),
    [
        ("파이썬 가상환경 만드는 방법", ["how-to"]),
        ("How do I sort a dict by value", ["how-to"]),
        ("왜 빵이 안 부풀까", ["why"]),
        ("git rebase vs merge 차이", ["comparison"]),
        ("노트북 추천", ["recommendation"]),
        ("Best budget mechanical keyboard", ["recommendation"]),
        ("SQLAlchemy greenlet_spawn 에러", ["troubleshooting"]),
        ("Nginx 502 Bad Gateway", ["troubleshooting"]),
        ("What is a monad", ["definition"]),
        ("모나드란?", ["definition"]),
        ("如何学习日语", ["how-to"]),
        ("Sunday walk", []),
    ],
)
def test_question_types(title: str, kinds: list[str]) -> None:
    assert question_types(title) == kinds


@pytest.mark.parametrize("language", ["ko", "en", "zh", "zh-CN", "fr"])
def test_prose_is_written_in_the_requested_language(language: str) -> None:
    doc = summarize_graph(make_graph(), language, now=NOW)
    texts = prose(doc)
    assert all(texts)
    if language == "ko":
        assert all(HANGUL.search(text) for text in texts)
    elif language.startswith("zh"):
        assert all(CJK.search(text) and not HANGUL.search(text) for text in texts)
    else:  # English, also the fallback
        assert all(LATIN.search(text) and not HANGUL.search(text) and not CJK.search(text) for text in texts)


def test_no_timestamps() -> None:
    undated = [(c, title, None, terms, source) for c, title, _, terms, source in NODES]
    doc = summarize_graph(make_graph(undated), "en", now=NOW)
    assert doc.overview.time_span == "unknown"
    assert doc.overview.most_active_period == "unknown"
    assert {c.recency for c in doc.clusters} == {"unknown"}
    assert {p.pattern_type for p in doc.patterns} == {"bridge"}
    assert doc.overview.summary_text.startswith(
        "Your knowledge graph holds 10 conversations and notes, grouped"
    )
    assert summarize_graph(make_graph(undated), "ko", now=NOW).overview.time_span == "알 수 없음"


def test_single_month_span() -> None:
    same = [(c, title, "2026-05-03T10:00:00Z", terms, source) for c, title, _, terms, source in NODES]
    assert summarize_graph(make_graph(same), "en", now=NOW).overview.time_span == "2026-05"


def test_deterministic_and_round_trips() -> None:
    graph = make_graph()
    first = summarize_graph(graph, "ko", now=NOW)
    assert first.model_dump_json() == summarize_graph(graph, "ko", now=NOW).model_dump_json()
    assert SummaryDocument.model_validate_json(first.model_dump_json()) == first
    assert json.loads(first.model_dump_json())["clusters"][0]["recency"] == "active"


def test_deterministic_across_hash_seeds() -> None:
    script = (
        "import sys; from datetime import datetime, UTC\n"
        "from models.graph import GraphDocument\n"
        "from pipelines.summary import summarize_graph\n"
        "graph = GraphDocument.model_validate_json(sys.stdin.read())\n"
        "print(summarize_graph(graph, 'en', now=datetime(2026, 6, 1, tzinfo=UTC)).model_dump_json())\n"
    )
    payload = make_graph().model_dump_json()
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            input=payload,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1


def test_detail_levels() -> None:
    graph = make_graph()
    brief = summarize_graph(graph, "en", now=NOW, detail_level="brief")
    detailed = summarize_graph(graph, "en", now=NOW, detail_level="detailed")
    assert brief.detail_level == "brief" and detailed.detail_level == "detailed"
    assert len(brief.recommendations) <= 2 < len(detailed.recommendations)
    assert all(len(c.top_keywords) <= 3 and len(c.notable_conversations) <= 2 for c in brief.clusters)
    assert len(brief.patterns) < len(detailed.patterns)
    assert summarize_graph(graph, "en", now=NOW, detail_level="verbose").detail_level == "standard"


def test_own_graph_reads_back_unchanged() -> None:
    graph = make_graph()
    assert normalize_graph(json.loads(graph.model_dump_json())) == graph


def loose_backend_graph() -> dict[str, Any]:
    """The backend's summary input: empty names with labels, plain keywords, string ids, bare edges."""
    return {
        "nodes": [
            {
                "id": "n1",
                "orig_id": "conv-a",
                "cluster_id": "c1",
                "cluster_name": "",
                "cluster_label": "Home cooking",
                "keywords": ["kimchi", "stew"],
                "timestamp": "2026-05-01T10:00:00Z",
                "title": "How to make kimchi stew",
            },
            {
                "id": "n2",
                "orig_id": "conv-b",
                "cluster_id": "c1",
                "cluster_name": "",
                "label": "Home cooking",
                "keywords": ["kimchi", "fermentation"],
                "title": "Why does kimchi go sour",
            },
            {
                "id": "n3",
                "orig_id": "conv-c",
                "cluster_id": "c2",
                "cluster_name": "",
                "keywords": "guitar, chords",
                "timestamp": 1767225600,
                "title": "Guitar chords for beginners",
                "num_messages": 4,
            },
            {
                "id": "n4",
                "orig_id": "conv-d",
                "cluster_id": "c2",
                "cluster_name": "",
                "keywords": [{"term": "guitar", "score": 0.9}],
                "title": "Best guitar strings",
                "source_type": "notion",
            },
        ],
        "edges": [
            {"source": "n1", "target": "n2", "weight": 0.8},
            {"source": "n3", "target": "n2", "weight": 0.4},
            {"source": "n3", "target": "n4"},
            {"source": "n4", "target": "missing", "weight": 0.9},
            {"source": "n4", "target": "n3", "weight": 0.2},
        ],
        "metadata": {"clusters": {"c1": {"name": ""}, "c2": {"name": "", "label": "Guitar practice"}}},
    }


def test_loose_backend_input_is_normalised() -> None:
    graph = normalize_graph(loose_backend_graph())
    assert [n.id for n in graph.nodes] == [0, 1, 2, 3]
    assert [n.orig_id for n in graph.nodes] == ["conv-a", "conv-b", "conv-c", "conv-d"]
    assert [n.cluster_name for n in graph.nodes] == ["Home cooking"] * 2 + ["Guitar practice"] * 2
    assert graph.metadata.clusters["c2"].name == "Guitar practice"
    assert graph.metadata.clusters["c1"].key_themes[0] == "kimchi"
    assert [k.term for k in graph.nodes[0].keywords] == ["kimchi", "stew"]
    assert graph.nodes[0].keywords[0].score > graph.nodes[0].keywords[1].score
    assert [k.term for k in graph.nodes[2].keywords] == ["guitar", "chords"]
    assert graph.nodes[0].top_keywords == ["kimchi", "stew"]
    assert graph.nodes[1].timestamp is None
    assert graph.nodes[2].timestamp == "2026-01-01T00:00:00Z"
    assert graph.nodes[2].num_sections == 4
    assert graph.nodes[3].source_type == "notion" and graph.nodes[0].source_type == "chat"
    edges = {(e.source, e.target): e for e in graph.edges}
    assert set(edges) == {(0, 1), (1, 2), (2, 3)}  # the dangling edge dropped, the duplicate merged
    assert edges[(0, 1)].confidence == "high" and edges[(0, 1)].is_intra_cluster
    assert edges[(1, 2)].confidence == "low" and not edges[(1, 2)].is_intra_cluster
    assert edges[(2, 3)].weight == 1.0
    assert graph.subclusters == []
    assert graph.metadata.total_nodes == 4 and graph.metadata.total_edges == 3

    doc = summarize_graph(graph, "en", now=NOW)
    assert [c.name for c in doc.clusters] == ["Home cooking", "Guitar practice"]
    assert "“Home cooking”" in doc.overview.summary_text
    assert doc.connections[0].source_cluster == "c1" and doc.connections[0].target_cluster == "c2"


def test_clusters_without_metadata_are_derived_from_nodes() -> None:
    raw = loose_backend_graph()
    del raw["metadata"]
    for node in raw["nodes"]:
        node.pop("cluster_label", None)
        node.pop("label", None)
    raw["nodes"][0]["cluster_id"] = 7  # an int id
    raw["nodes"][1]["cluster_id"] = "7"
    graph = normalize_graph(raw)
    assert list(graph.metadata.clusters) == ["7", "c2"]
    assert graph.metadata.clusters["7"].name == "kimchi · fermentation"  # from the top keywords
    assert graph.metadata.clusters["7"].size == 2
    assert graph.metadata.generated_at == ""
    assert summarize_graph(graph, "zh", now=NOW).clusters[0].name == "kimchi · fermentation"


def test_numeric_string_ids_are_kept() -> None:
    raw = {
        "nodes": [{"id": "10", "cluster_id": "a"}, {"id": "11", "cluster_id": "a"}],
        "edges": [{"source": 10, "target": "11", "weight": 0.6}],
    }
    graph = normalize_graph(raw)
    assert [n.id for n in graph.nodes] == [10, 11]
    assert [n.orig_id for n in graph.nodes] == ["10", "11"]
    assert graph.edges[0].source == 10 and graph.edges[0].confidence == "medium"
    doc = summarize_graph(normalize_graph({"graph": raw}), "ko", now=NOW)
    assert doc.clusters[0].density == 1.0 and doc.clusters[0].recency == "unknown"


def test_nodes_without_cluster_ids_are_grouped_by_label() -> None:
    raw = {
        "nodes": [
            {"orig_id": "a", "cluster_label": "Garden"},
            {"orig_id": "b", "cluster_label": "Garden"},
            {"orig_id": "c"},
        ],
        "edges": [{"source": "a", "target": "b"}],  # endpoints by orig_id
    }
    graph = normalize_graph(raw)
    assert [n.cluster_id for n in graph.nodes] == ["Garden", "Garden", "unclustered"]
    assert graph.edges[0].source == 0 and graph.edges[0].target == 1 and graph.edges[0].is_intra_cluster
    assert [c.name for c in summarize_graph(graph, "en", now=NOW).clusters] == ["Garden", "unclustered"]


@pytest.mark.parametrize(
    "raw",
    [
        [],
        "graph",
        {},
        {"edges": []},
        {"nodes": "x"},
        {"graph": {"nodes": 3}},
        {"nodes": []},
        {"nodes": [1, "two"]},
    ],
)
def test_not_a_graph(raw: Any) -> None:
    with pytest.raises(ValueError, match="graph"):
        normalize_graph(raw)


def test_large_graph_is_summarized() -> None:
    """A 10k-node, 60k-edge graph is summarized whole (its speed: ``bench/summary.py``)."""
    rng = random.Random(7)
    n, m, k = 10_000, 60_000, 30
    start = datetime(2024, 1, 1, tzinfo=UTC)
    titles = ["How to tune {}", "Why does {} fail", "{} vs the rest", "Best {} setup", "notes on {}"]
    nodes = []
    for i in range(n):
        c = rng.randrange(k)
        terms = [f"term{c * 40 + rng.randrange(60)}" for _ in range(8)]
        nodes.append(
            {
                "id": i,
                "orig_id": f"conv-{i}",
                "cluster_id": f"cluster_{c + 1}",
                "cluster_name": f"topic {c + 1}",
                "keywords": [{"term": t, "score": 0.9 - 0.1 * r} for r, t in enumerate(terms)],
                "timestamp": (start + timedelta(days=rng.randrange(880))).isoformat(),
                "title": rng.choice(titles).format(terms[0]),
            }
        )
    edges = [
        {"source": rng.randrange(n), "target": rng.randrange(n), "weight": 0.3 + 0.6 * rng.random()}
        for _ in range(m)
    ]
    doc = summarize_graph(normalize_graph({"nodes": nodes, "edges": edges}), "en", now=NOW)
    assert doc.overview.total_source_nodes == n and len(doc.clusters) == k
