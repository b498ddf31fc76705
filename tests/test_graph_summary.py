"""GRAPH_SUMMARY_REQUEST end to end, ``includeSummary`` in graph generation, and the optional LLM."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from actors import graph_summary
from actors import llm as task_llm
from models.results import STAGE_NAMES
from models.summary import SummaryDocument

from helpers import EXAMPLES, answers, example
from llm_server import FakeLLM

Run = Callable[[bytes | dict[str, Any]], list[dict[str, Any]]]
Upload = Callable[[str, Any], None]

LOOSE_GRAPH = {
    "nodes": [
        {"id": "n1", "orig_id": "c-1", "cluster_id": "c1", "cluster_name": "", "label": "Sourdough", "title": "Sourdough starter", "keywords": ["sourdough", "starter"], "timestamp": "2025-03-01T00:00:00Z"},
        {"id": "n2", "orig_id": "c-2", "cluster_id": "c1", "cluster_name": "", "label": "Sourdough", "title": "Why is my bread dense?", "keywords": ["bread", "proofing"], "timestamp": "2025-04-01T00:00:00Z"},
        {"id": "n3", "orig_id": "c-3", "cluster_id": "c2", "cluster_name": "", "label": "Git", "title": "How to use git stash", "keywords": ["git", "stash"], "timestamp": "2025-05-01T00:00:00Z"},
        {"id": "n4", "orig_id": "c-4", "cluster_id": "c2", "title": "git rebase vs merge", "keywords": "git, rebase", "timestamp": 1746057600},
    ],
    "edges": [{"source": "n1", "target": "n2", "weight": 0.8}, {"source": "n3", "target": "n4", "weight": 0.75}, {"source": "n2", "target": "n3", "weight": 0.31}],
}  # fmt: skip


def summary_request(task_id: str, key: str, **payload: Any) -> dict[str, Any]:
    body = example("request_graph_summary.json")
    body["taskId"] = task_id
    body["payload"].update({"graphS3Key": key, **payload})
    return body


def graph_request(task_id: str, prefix: str, **payload: Any) -> dict[str, Any]:
    body = example("request_graph_generation.json")
    body["taskId"] = task_id
    body["payload"].update({"s3Key": prefix, "minClusters": 1, **payload})
    return body


def load(services: Any, key: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(services.blobs.get(key))
    return loaded


@pytest.fixture
def bundle(upload: Upload) -> str:
    prefix = "graph-generation/summary-bundle/"
    for path in (EXAMPLES / "bundle").iterdir():
        upload(prefix + path.name, path.read_bytes())
    return prefix


def test_summary_of_a_loose_backend_graph(run_raw: Run, upload: Upload, services: Any) -> None:
    upload("graph-summary/s1/graph.json", LOOSE_GRAPH)
    (answer,) = answers(
        run_raw(summary_request("summary_u_01", "graph-summary/s1/graph.json", chatId="chat-9"))
    )
    payload = answer["payload"]
    assert answer["taskType"] == "GRAPH_SUMMARY_RESULT" and payload["status"] == "COMPLETED", answer
    assert set(payload) == set(example("result_graph_summary_completed.json")["payload"])
    assert payload["summaryS3Key"] == "results/graph_summary/user-7f3a/summary_u_01/summary.json"
    assert payload["chatId"] == "chat-9"
    summary = SummaryDocument.model_validate(load(services, payload["summaryS3Key"]))
    assert summary.overview.total_source_nodes == 4 and summary.overview.summary_text
    assert {c.name for c in summary.clusters} == {"Sourdough", "Git"}
    assert all(c.insight_text for c in summary.clusters)


def test_missing_graph_and_not_a_graph_fail(run_raw: Run, upload: Upload) -> None:
    (missing,) = answers(run_raw(summary_request("summary_u_02", "graph-summary/none/graph.json")))
    assert missing["payload"]["status"] == "FAILED" and missing["payload"]["errorCode"] == "INPUT_NOT_FOUND"
    upload("graph-summary/bad/graph.json", {"hello": "world"})
    (bad,) = answers(run_raw(summary_request("summary_u_03", "graph-summary/bad/graph.json")))
    assert bad["payload"]["status"] == "FAILED" and bad["payload"]["errorCode"] == "INVALID_INPUT"


def test_include_summary_true_and_false(run_raw: Run, bundle: str, services: Any) -> None:
    published = run_raw(graph_request("task_u-sum_01", bundle, includeSummary=True))
    (answer,) = answers(published)
    payload = answer["payload"]
    assert payload["status"] == "COMPLETED" and payload["error"] is None, payload
    assert payload["summaryIncluded"] is True
    assert payload["summaryS3Key"] == "results/graph_summary/user-7f3a/task_u-sum_01/summary.json"
    SummaryDocument.model_validate(load(services, payload["summaryS3Key"]))
    stages = [e["payload"]["currentStage"] for e in published if e["taskType"].endswith("_PROGRESS")]
    assert f"[6단계] {STAGE_NAMES[6]} 시작" in stages and f"[6단계] {STAGE_NAMES[6]} 완료" in stages

    published = run_raw(graph_request("task_u-sum_02", bundle, includeSummary=False))
    (answer,) = answers(published)
    assert answer["payload"]["summaryIncluded"] is False and answer["payload"]["summaryS3Key"] is None
    assert not any("6단계" in e["payload"].get("currentStage", "") for e in published)


def test_summary_failure_keeps_the_graph(run_raw: Run, bundle: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(graph_summary, "summarize_graph", broken)
    (answer,) = answers(run_raw(graph_request("task_u-sum_03", bundle, includeSummary=True)))
    payload = answer["payload"]
    assert payload["status"] == "COMPLETED" and payload["resultS3Key"]
    assert payload["summaryIncluded"] is False and payload["summaryS3Key"] is None
    assert "summary failed" in payload["error"]


# The optional LLM --------------------------------------------------------------------------------

LLM_REPLY = {
    "name": "빵 굽기와 개발",
    "description": "LLM이 쓴 주제 설명입니다.",
    "summary": "LLM이 쓴 요약입니다. 사용자는 빵과 코드에 관심이 많습니다.",
    "reason": "LLM이 설명한 배치 이유입니다.",
}


@pytest.fixture
def fake_llm(services: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLM]:
    """A local chat-completions server configured as the worker's LLM, with a short budget."""
    with FakeLLM(reply=dict(LLM_REPLY), hang_seconds=30) as fake:
        settings = services.settings.model_copy(
            update={"llm_base_url": fake.base_url, "llm_api_key": SecretStr("sk-test"), "llm_model": "fake"}
        )
        monkeypatch.setattr(services, "settings", settings)
        monkeypatch.setattr(task_llm, "TIMEOUT", 0.5)
        monkeypatch.setattr(task_llm, "BUDGET", 2.0)
        yield fake


def test_llm_improves_names_and_prose(run_raw: Run, bundle: str, services: Any, fake_llm: FakeLLM) -> None:
    (answer,) = answers(run_raw(graph_request("task_u-llm_01", bundle, includeSummary=True)))
    payload = answer["payload"]
    assert payload["status"] == "COMPLETED" and payload["summaryIncluded"] is True, payload
    graph = load(services, payload["resultS3Key"])
    assert LLM_REPLY["name"] in {c["name"] for c in graph["metadata"]["clusters"].values()}
    summary = load(services, payload["summaryS3Key"])
    assert summary["overview"]["summary_text"] == LLM_REPLY["summary"]
    assert all(c["insight_text"] == LLM_REPLY["summary"] for c in summary["clusters"])
    assert fake_llm.requests


def test_llm_improves_add_node_reasoning(
    run_raw: Run, upload: Upload, services: Any, fake_llm: FakeLLM
) -> None:
    body = example("request_add_node.json")
    body["taskId"] = "task_add_node_u-llm_01"
    body["payload"].update({"s3Key": "add-node/llm/batch.json", "userId": "u-llm"})
    batch = json.loads((EXAMPLES / "batch.json").read_text("utf-8")) | {"userId": "u-llm"}
    upload("add-node/llm/batch.json", batch)
    (answer,) = answers(run_raw(body))
    result = load(services, answer["payload"]["resultS3Key"])
    assert [r["assignedCluster"]["reasoning"] for r in result["results"]] == [LLM_REPLY["reason"]] * 2


@pytest.mark.parametrize("mode", ["error", "hang"])
def test_failing_llm_keeps_offline_results_within_budget(
    run_raw: Run, bundle: str, services: Any, fake_llm: FakeLLM, mode: str
) -> None:
    fake_llm.mode = mode  # type: ignore[assignment]
    started = time.monotonic()
    (answer,) = answers(run_raw(graph_request(f"task_u-llm-{mode}", bundle, includeSummary=True)))
    elapsed = time.monotonic() - started
    payload = answer["payload"]
    assert payload["status"] == "COMPLETED" and payload["summaryIncluded"] is True, payload
    assert payload["error"] is None
    graph = load(services, payload["resultS3Key"])
    assert LLM_REPLY["name"] not in {c["name"] for c in graph["metadata"]["clusters"].values()}
    summary = load(services, payload["summaryS3Key"])
    assert summary["overview"]["summary_text"] != LLM_REPLY["summary"]
    assert elapsed < 2.0 + 20.0, f"took {elapsed:.1f}s"  # the LLM budget plus the offline work
    assert fake_llm.requests
