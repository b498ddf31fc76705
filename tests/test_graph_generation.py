"""GRAPH_GENERATION_REQUEST end to end on the StubBroker: real actor, blob folder, Chroma, model."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from adapters.vectors import vector_id
from demo.run import sample_path
from models.graph import FeaturesDocument, GraphDocument
from models.results import STAGE_NAMES

from helpers import EXAMPLES, answers, example

Run = Callable[[bytes | dict[str, Any]], list[dict[str, Any]]]
Upload = Callable[[str, Any], None]


def request(task_id: str, user_id: str, s3_key: str, **payload: Any) -> dict[str, Any]:
    body = example("request_graph_generation.json")
    body["taskId"] = task_id
    body["payload"].update({"userId": user_id, "s3Key": s3_key, "includeSummary": False, **payload})
    return body


@pytest.fixture(scope="module")
def sample_bundle(services: Any) -> str:
    """The demo's sample history (90+ conversations and notes) uploaded as a bundle."""
    prefix = "graph-generation/sample/"
    root = sample_path()
    for path in root.rglob("*"):
        if path.is_file():
            services.blobs.put(prefix + path.relative_to(root).as_posix(), path.read_bytes())
    return prefix


def load(services: Any, key: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(services.blobs.get(key))
    return loaded


def test_backend_example_is_answered_completed(run_raw: Run, upload: Upload, services: Any) -> None:
    body = example("request_graph_generation.json")
    for path in (EXAMPLES / "bundle").iterdir():
        upload(body["payload"]["s3Key"] + path.name, path.read_bytes())
    body["payload"]["includeSummary"] = False
    published = run_raw(body)
    (answer,) = answers(published)
    assert answer["taskType"] == "GRAPH_GENERATION_RESULT" and answer["taskId"] == body["taskId"]
    payload = answer["payload"]
    assert payload["status"] == "COMPLETED", payload
    assert payload["resultS3Key"] == f"results/macro/user-7f3a/{body['taskId']}/graph.json"
    assert payload["featuresS3Key"] == f"results/macro/user-7f3a/{body['taskId']}/features.json"
    assert payload["error"] is None and payload["errorCode"] is None and payload["summaryIncluded"] is False
    assert set(payload) == set(example("result_graph_generation_completed.json")["payload"])
    graph = GraphDocument.model_validate(load(services, payload["resultS3Key"]))
    assert {n.orig_id for n in graph.nodes} == {"conv-0001", "conv-0002", "note-01"}


def test_progress_reports_stages_one_to_five(run_raw: Run, sample_bundle: str) -> None:
    published = run_raw(request("task_u-progress_01", "u-progress", sample_bundle))
    progress = [e for e in published if e["taskType"] == "GRAPH_GENERATION_PROGRESS"]
    stages = [e["payload"]["currentStage"] for e in progress]
    for stage in range(1, 6):
        assert f"[{stage}단계] {STAGE_NAMES[stage]} 시작" in stages
        assert f"[{stage}단계] {STAGE_NAMES[stage]} 완료" in stages
    for envelope in progress:
        assert envelope["taskId"] == "task_u-progress_01" and envelope["timestamp"]
        assert envelope["payload"]["userId"] == "u-progress"
        assert 0 <= envelope["payload"]["progressPercent"] <= 100
    assert published[-1]["taskType"] == "GRAPH_GENERATION_RESULT"


def test_graph_invariants_on_the_sample_history(run_raw: Run, sample_bundle: str, services: Any) -> None:
    task_id, user_id = "task_u-graph_01", "u-graph"
    (answer,) = answers(run_raw(request(task_id, user_id, sample_bundle, minClusters=4, maxClusters=10)))
    assert answer["payload"]["status"] == "COMPLETED", answer
    graph = GraphDocument.model_validate(load(services, answer["payload"]["resultS3Key"]))
    features = FeaturesDocument.model_validate(load(services, answer["payload"]["featuresS3Key"]))
    source = json.loads((sample_path() / "input.json").read_text("utf-8"))
    input_ids = {c["id"] for c in source} | {
        n["id"] for n in json.loads((sample_path() / "notes.json").read_text("utf-8"))["source_nodes"]
    }
    n = len(graph.nodes)
    assert [node.id for node in graph.nodes] == list(range(n)) and n >= 90
    assert {node.orig_id for node in graph.nodes} <= input_ids | {
        p.name.split("_")[0] for p in (sample_path() / "files").iterdir()
    }
    assert input_ids <= {node.orig_id for node in graph.nodes}
    cluster_of = {node.orig_id: node.cluster_id for node in graph.nodes}  # the PDF and the Word file
    assert cluster_of["f03"] == cluster_of["conv-0004"] and cluster_of["f04"] == cluster_of["conv-0041"]
    pairs = [(e.source, e.target) for e in graph.edges]
    assert len(pairs) == len(set(pairs)) and all(0 <= s < t < n for s, t in pairs)
    clusters = {node.cluster_id for node in graph.nodes}
    assert 4 <= len(clusters) <= 10 and set(graph.metadata.clusters) == clusters
    for info in graph.metadata.clusters.values():
        assert info.name and info.description and info.key_themes
    by_id = {node.id: node for node in graph.nodes}
    for edge in graph.edges:
        assert edge.is_intra_cluster == (by_id[edge.source].cluster_id == by_id[edge.target].cluster_id)
    assert any(e.confidence == "high" for e in graph.edges)
    assert sorted(i for s in graph.subclusters for i in s.node_ids) == list(range(n))
    for sub in graph.subclusters:
        assert {by_id[i].cluster_id for i in sub.node_ids} == {sub.cluster_id}
        assert all(by_id[i].subcluster_id == sub.id for i in sub.node_ids)
    for node in graph.nodes:
        assert node.keywords and node.top_keywords == [k.term for k in node.keywords[:5]]
    vectors = np.asarray(features.embeddings)
    assert vectors.shape[0] == n and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert [row.orig_id for row in features.conversations] == [node.orig_id for node in graph.nodes]
    assert features.metadata["embedding_model"]
    assert services.vectors.count(user_id) == n
    stored = services.vectors.get([vector_id(user_id, node.orig_id) for node in graph.nodes])
    assert len(stored) == n and all(m["userId"] == user_id for m in stored.values())


def test_same_task_twice_gives_same_keys_and_no_duplicate_vectors(
    run_raw: Run, sample_bundle: str, services: Any
) -> None:
    body = request("task_u-twice_01", "u-twice", sample_bundle, numClusters=5)
    (first,) = answers(run_raw(body))
    count = services.vectors.count("u-twice")
    (second,) = answers(run_raw(body))
    assert first["payload"] == second["payload"]
    assert services.vectors.count("u-twice") == count > 0
    graph = GraphDocument.model_validate(load(services, second["payload"]["resultS3Key"]))
    assert graph.metadata.total_clusters == 5


def test_single_object_and_extra_keys_are_merged(run_raw: Run, upload: Upload, services: Any) -> None:
    upload("single/input.json", (EXAMPLES / "bundle" / "input.json").read_bytes())
    upload("extra/notes.json", (EXAMPLES / "bundle" / "notes.json").read_bytes())
    body = request("task_u-single_01", "u-single", "single/input.json", extraS3Keys=["extra/"], minClusters=1)
    (answer,) = answers(run_raw(body))
    graph = load(services, answer["payload"]["resultS3Key"])
    assert {n["orig_id"] for n in graph["nodes"]} == {"conv-0001", "conv-0002", "note-01"}


def test_one_unreadable_file_is_skipped(run_raw: Run, upload: Upload, services: Any) -> None:
    prefix = "graph-generation/mixed-quality/"
    upload(prefix + "input.json", (EXAMPLES / "bundle" / "input.json").read_bytes())
    upload(prefix + "broken.json", b"{nope")
    upload(prefix + "files/f9_scan.pdf", b"%PDF-1.4 binary")
    (answer,) = answers(run_raw(request("task_u-skip_01", "u-skip", prefix, minClusters=1)))
    assert answer["payload"]["status"] == "COMPLETED"
    assert len(load(services, answer["payload"]["resultS3Key"])["nodes"]) == 2


def test_language_shapes_cluster_descriptions(run_raw: Run, sample_bundle: str, services: Any) -> None:
    (answer,) = answers(run_raw(request("task_u-en_01", "u-en", sample_bundle, language="en")))
    graph = load(services, answer["payload"]["resultS3Key"])
    descriptions = [c["description"] for c in graph["metadata"]["clusters"].values()]
    assert all("conversations about" in d for d in descriptions)
    assert graph["metadata"]["language"] == "en"
