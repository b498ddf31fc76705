"""The wire models against the backend's own examples (CONTRACT.md sections 1-6)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import ValidationError

from models.add_node import AddNodeBatch, AddNodeResultDocument
from models.envelope import Envelope, TaskType, result_type_for
from models.graph import FeaturesDocument, GraphDocument
from models.requests import AddNodeRequest, GraphGenerationRequest, GraphSummaryRequest
from models.results import (
    RESULT_MODELS,
    AddNodeResult,
    GraphGenerationProgress,
    GraphGenerationResult,
    GraphSummaryResult,
    Status,
    stage_label,
)
from models.summary import SummaryDocument

from helpers import EXAMPLES, example


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("request_graph_generation.json", GraphGenerationRequest),
        ("request_add_node.json", AddNodeRequest),
        ("request_graph_summary.json", GraphSummaryRequest),
    ],
)
def test_backend_requests_are_accepted(name: str, model: type) -> None:
    envelope = Envelope.model_validate(example(name))
    request = model.model_validate(envelope.payload)
    assert request.user_id == "user-7f3a"
    assert envelope.task_id == example(name)["taskId"]


def test_graph_request_defaults_and_extra_fields() -> None:
    request = GraphGenerationRequest.model_validate(
        {"userId": "u1", "s3Key": "graph-generation/t/", "summaryLanguage": "en", "inputType": "auto", "x": 1}
    )
    assert (request.language, request.min_clusters, request.max_clusters) == ("ko", 3, 8)
    assert request.num_clusters is None and request.include_summary is False and request.extra_s3_keys == []
    assert request.summary_language == "en"


def test_graph_request_rejects_inverted_range_and_missing_fields() -> None:
    with pytest.raises(ValidationError):
        GraphGenerationRequest.model_validate(
            {"userId": "u", "s3Key": "k", "minClusters": 9, "maxClusters": 3}
        )
    with pytest.raises(ValidationError):
        GraphGenerationRequest.model_validate({"s3Key": "k"})


def test_add_node_token_is_a_secret() -> None:
    request = AddNodeRequest.model_validate({"userId": "u", "s3Key": "k", "internalServiceToken": "tok-123"})
    assert "tok-123" not in repr(request)
    assert "tok-123" not in request.model_dump_json()
    assert request.internal_service_token is not None
    assert request.internal_service_token.get_secret_value() == "tok-123"


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("result_graph_generation_completed.json", GraphGenerationResult),
        ("result_graph_generation_failed.json", GraphGenerationResult),
        ("result_add_node_completed.json", AddNodeResult),
        ("result_graph_summary_completed.json", GraphSummaryResult),
        ("progress_graph_generation.json", GraphGenerationProgress),
    ],
)
def test_results_round_trip_to_the_backend_shape(name: str, model: type) -> None:
    original = example(name)
    payload = model.model_validate(original["payload"]).to_wire()
    assert payload == original["payload"]
    envelope = Envelope.model_validate(original).to_wire()
    assert envelope == original


def test_results_serialise_optional_fields_as_null() -> None:
    payload = GraphSummaryResult(user_id="u", status=Status.COMPLETED).to_wire()
    assert payload == {
        "userId": "u", "status": "COMPLETED", "error": None, "errorCode": None, "summaryS3Key": None, "chatId": None,
    }  # fmt: skip
    envelope = Envelope(taskType="GRAPH_SUMMARY_RESULT", taskId="t1", payload=payload).to_wire()
    assert envelope["taskId"] == "t1" and envelope["timestamp"].endswith("Z")


def test_result_types() -> None:
    assert result_type_for("ADD_NODE_REQUEST") == TaskType.ADD_NODE_RESULT
    assert result_type_for("MICROSCOPE_INGEST") == TaskType.GRAPH_GENERATION_RESULT
    assert result_type_for(None) == TaskType.GRAPH_GENERATION_RESULT
    assert set(RESULT_MODELS) == {"GRAPH_GENERATION_RESULT", "ADD_NODE_RESULT", "GRAPH_SUMMARY_RESULT"}


def test_stage_labels_match_production() -> None:
    assert stage_label(1, 0) == "[1단계] 임베딩 생성 시작"
    assert stage_label(1, 33) == "[1단계] 임베딩 생성 중"
    assert stage_label(3, 100) == "[3단계] 클러스터 생성 및 매핑 완료"
    assert stage_label(6, 50) == "[6단계] 그래프 요약 생성 중"


def test_add_node_batch_round_trip() -> None:
    batch = AddNodeBatch.model_validate(example("batch.json"))
    assert [c.id for c in batch.existing_clusters] == ["cluster_1", "cluster_2"]
    assert batch.conversations[0]["conversationId"] == "conv-0107"
    again = AddNodeBatch.model_validate(batch.model_dump(by_alias=True))
    assert again == batch


def test_add_node_result_document_round_trip() -> None:
    document = {
        "userId": "u",
        "processedCount": 1,
        "results": [
            {
                "conversationId": "c1",
                "nodes": [{"id": "u_c1", "userId": "u", "origId": "c1", "clusterId": "cluster_1",
                           "clusterName": "n", "numMessages": 2}],
                "edges": [{"source": "u_c1", "target": "u_c0", "weight": 0.8, "type": "hard", "intraCluster": True}],
                "assignedCluster": {"clusterId": "cluster_1", "isNewCluster": False, "confidence": 0.9,
                                    "reasoning": "r", "name": "n", "description": "d", "themes": ["t"]},
            }
        ],
    }  # fmt: skip
    parsed = AddNodeResultDocument.model_validate(document)
    dumped = json.loads(parsed.model_dump_json(by_alias=True, exclude_none=True))
    assert dumped == document


def test_graph_and_features_documents_round_trip() -> None:
    graph = {
        "nodes": [
            {"id": 0, "orig_id": "c0", "cluster_id": "cluster_1", "cluster_name": "a", "cluster_confidence": 0.9,
             "keywords": [{"term": "python", "score": 0.5}], "top_keywords": ["python"], "timestamp": None,
             "num_sections": 2, "source_type": "chat", "title": "t", "subcluster_id": "subcluster_1"},
        ],
        "edges": [],
        "subclusters": [{"id": "subcluster_1", "cluster_id": "cluster_1", "node_ids": [0],
                         "representative_node_id": 0, "size": 1, "density": 1.0, "top_keywords": ["python"]}],
        "metadata": {"generated_at": "2026-01-01T00:00:00Z", "total_nodes": 1, "total_edges": 0,
                     "total_clusters": 1, "clusters": {"cluster_1": {"name": "a", "description": "d", "size": 1,
                                                                      "key_themes": ["python"]}}},
    }  # fmt: skip
    parsed = GraphDocument.model_validate(graph)
    assert GraphDocument.model_validate_json(parsed.model_dump_json()) == parsed
    features = FeaturesDocument.model_validate(
        {"conversations": [], "embeddings": [[1.0, 0.0]], "metadata": {"embedding_model": "m"}}
    )
    assert FeaturesDocument.model_validate_json(features.model_dump_json()) == features


def test_features_embeddings_from_a_matrix_are_written_as_from_lists() -> None:
    """Graph generation hands ``features.json`` a numpy matrix (written row by row, never held as
    lists of floats): the bytes are those of the same vectors as lists."""
    matrix = np.round(np.random.default_rng(3).standard_normal((5, 4)).astype(np.float32) / 20, 6)
    matrix[0, :2] = [1e-6, 0.0]
    fields = {"conversations": [], "metadata": {"total": 5}}
    from_matrix = FeaturesDocument.model_construct(embeddings=matrix, **fields)  # type: ignore[arg-type]
    from_lists = FeaturesDocument.model_construct(embeddings=matrix.tolist(), **fields)
    assert from_matrix.model_dump_json() == from_lists.model_dump_json()
    assert FeaturesDocument.model_validate_json(from_matrix.model_dump_json()).embeddings == matrix.tolist()


def test_summary_document_round_trip() -> None:
    summary = {
        "overview": {"total_source_nodes": 3, "time_span": "2025-01 ~ 2025-03", "primary_interests": ["python"],
                     "conversation_style": "questions", "most_active_period": "2025-02", "summary_text": "s"},
        "clusters": [{"cluster_id": "cluster_1", "name": "a", "size": 3, "density": 0.5, "centrality": 0.2,
                      "recency": "active", "top_keywords": ["python"], "key_themes": ["python"],
                      "common_question_types": ["how-to"], "insight_text": "i", "notable_conversations": ["c1"]}],
        "patterns": [{"pattern_type": "repetition", "description": "d", "evidence": ["c1"], "significance": "low"}],
        "connections": [],
        "recommendations": [{"type": "explore", "title": "t", "description": "d", "related_nodes": ["c1"],
                             "priority": "medium"}],
        "generated_at": "2026-01-01T00:00:00Z",
        "detail_level": "standard",
    }  # fmt: skip
    parsed = SummaryDocument.model_validate(summary)
    assert json.loads(parsed.model_dump_json()) == summary


def test_examples_folder_is_complete() -> None:
    assert {p.name for p in EXAMPLES.glob("request_*.json")} == {
        "request_graph_generation.json", "request_add_node.json", "request_graph_summary.json",
    }  # fmt: skip


def test_an_overlong_user_id_is_invalid() -> None:
    """A userId is echoed in the answer: one that could not fit in an SQS message is refused."""
    payload = {"userId": "u" * 256, "s3Key": "graph-generation/t/input.json", "bucket": "b"}
    assert GraphGenerationRequest.model_validate(payload).user_id == "u" * 256
    payload["userId"] = "u" * 257
    with pytest.raises(ValidationError, match="userId"):
        GraphGenerationRequest.model_validate(payload)
