"""Regeneration reuses what the user's previous graph computed, and gives the same documents.

End to end on the StubBroker with the real actor, blob folder, Chroma and model: a cold graph, a warm
one over the same history (built after an older, smaller history), removal, invalidation and user
isolation of the reuse store.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import pipelines.embed
from actors.graph_generation import reuse_key
from adapters.vectors import vector_id
from demo.run import sample_path
from pipelines.embed import Known
from pipelines.reuse import ReuseStore
from pipelines.text import AnalyzedText

from helpers import answers, example

Run = Callable[[bytes | dict[str, Any]], list[dict[str, Any]]]

SAMPLE = json.loads((sample_path() / "input.json").read_text("utf-8"))
NOTES = json.loads((sample_path() / "notes.json").read_text("utf-8"))
#: The older history: 40 conversations; the newer one edits two of them and adds three.
OLD = SAMPLE[:40]
EDITED = (3, 17)


def edit(conversation: dict[str, Any]) -> dict[str, Any]:
    """The conversation with one more sentence in its first non-empty message."""
    changed = copy.deepcopy(conversation)
    for node in changed["mapping"].values():
        message = node.get("message") or {}
        parts = (message.get("content") or {}).get("parts") or []
        if parts and isinstance(parts[0], str) and parts[0].strip():
            parts[0] += " Also, what about the weekend schedule?"
            return changed
    raise AssertionError("no message to edit")


NEW = [edit(c) if i in EDITED else c for i, c in enumerate(OLD)] + SAMPLE[40:43]
ITEMS_NEW = len(NEW) + len(NOTES["source_nodes"])


@pytest.fixture
def analysed(services: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many texts each call into the real analyser got (every fresh text is analysed once)."""
    analyzer = services.embedder.analyzer
    calls: list[int] = []
    real = analyzer.analyze_many

    def counting(texts: list[str]) -> list[AnalyzedText]:
        calls.append(len(texts))
        return real(texts)

    monkeypatch.setattr(analyzer, "analyze_many", counting)
    return calls


def graph_request(
    services: Any, task_id: str, user_id: str, conversations: list[dict[str, Any]]
) -> dict[str, Any]:
    prefix = f"regeneration/{task_id}/"
    services.blobs.put(prefix + "input.json", json.dumps(conversations, ensure_ascii=False).encode())
    services.blobs.put(prefix + "notes.json", json.dumps(NOTES, ensure_ascii=False).encode())
    body = example("request_graph_generation.json")
    body["taskId"] = task_id
    body["payload"].update({"userId": user_id, "s3Key": prefix, "includeSummary": False, "numClusters": 4})
    return body


def documents(run_raw: Run, services: Any, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run ``body``; its graph (without the generation time) and features documents."""
    (answer,) = answers(run_raw(body))
    assert answer["payload"]["status"] == "COMPLETED" and answer["payload"]["error"] is None, answer
    graph = json.loads(services.blobs.get(answer["payload"]["resultS3Key"]))
    assert graph["metadata"].pop("generated_at")
    features = json.loads(services.blobs.get(answer["payload"]["featuresS3Key"]))
    return graph, features


def stored(services: Any, user_id: str) -> ReuseStore:
    data = services.blobs.get(reuse_key(user_id, services.settings.embedder))
    return ReuseStore.from_bytes(data, user_id, services.embedder.fingerprint)


@pytest.fixture(scope="module")
def cold(run_raw_module: Run, services: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The newer history's graph, built from nothing."""
    return documents(
        run_raw_module, services, graph_request(services, "task_regen-cold", "u-regen-cold", NEW)
    )


@pytest.fixture(scope="module")
def run_raw_module(stub_worker: Any, services: Any) -> Run:
    """``run_raw`` for module-scoped fixtures."""
    from conftest import raw_runner

    return raw_runner(stub_worker, services.sink)


def test_warm_run_reuses_unchanged_conversations_and_equals_the_cold_run(
    run_raw: Run, services: Any, cold: tuple[dict[str, Any], dict[str, Any]], analysed: list[int]
) -> None:
    user = "u-regen-warm"
    documents(run_raw, services, graph_request(services, "task_regen-warm-1", user, OLD))
    assert sum(analysed) == len(OLD) + len(NOTES["source_nodes"])  # cold: everything analysed
    analysed.clear()
    body = graph_request(services, "task_regen-warm-2", user, NEW)
    warm = documents(run_raw, services, body)
    assert sum(analysed) == len(EDITED) + 3  # only the edited and the new conversations
    assert warm[0] == cold[0]
    assert warm[1] == cold[1]
    analysed.clear()
    again = documents(run_raw, services, body)  # a redelivered task: nothing fresh, same answer
    assert sum(analysed) == 0 and again == warm
    assert services.vectors.count(user) == ITEMS_NEW


def test_removed_conversations_lose_vectors_and_reuse_entries(
    run_raw: Run, services: Any, analysed: list[int]
) -> None:
    user = "u-regen-removal"
    documents(run_raw, services, graph_request(services, "task_regen-removal-1", user, NEW))
    kept = NEW[:30]
    graph, _ = documents(run_raw, services, graph_request(services, "task_regen-removal-2", user, kept))
    ids = {node["orig_id"] for node in graph["nodes"]}
    assert services.vectors.count(user) == len(ids) == 30 + len(NOTES["source_nodes"])
    gone = [vector_id(user, c["id"]) for c in NEW[30:]]
    assert services.vectors.get(gone) == {}
    assert {orig_id for orig_id, _ in stored(services, user).entries} == ids


def test_changed_embedder_version_computes_everything_afresh(
    run_raw: Run, services: Any, analysed: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    user = "u-regen-version"
    documents(run_raw, services, graph_request(services, "task_regen-version-1", user, OLD))
    analysed.clear()
    monkeypatch.setattr(pipelines.embed, "ANALYSIS_VERSION", pipelines.embed.ANALYSIS_VERSION + 1)
    documents(run_raw, services, graph_request(services, "task_regen-version-2", user, OLD))
    assert sum(analysed) == len(OLD) + len(NOTES["source_nodes"])
    analysed.clear()
    monkeypatch.setitem(services.embedder.encoder.__dict__, "version", "other-weights")
    documents(run_raw, services, graph_request(services, "task_regen-version-3", user, OLD))
    assert sum(analysed) == len(OLD) + len(NOTES["source_nodes"])


def test_a_windows_vector_does_not_depend_on_its_batch(services: Any) -> None:
    encoder = services.embedder.encoder
    texts = [
        f"{word} " * length
        for word, length in zip(("garden", "python", "서울", "tax"), (5, 40, 90, 160), strict=True)
    ]
    others = [f"filler text number {i} " * (i % 7 + 1) for i in range(23)]

    def rows(batch: list[str]) -> np.ndarray:
        out = np.zeros((len(batch), encoder.dim), dtype=np.float32)
        for indices, vectors in encoder.encode_batches(batch):
            out[indices] = vectors
        return out

    alone = rows(texts)
    mixed = rows(others[:11] + texts[::-1] + others[11:])[11:15][::-1]
    assert np.array_equal(alone, mixed)
    assert np.allclose(np.linalg.norm(alone, axis=1), 1.0, atol=1e-5)


def test_add_nodes_unfilled_batches_give_the_same_vectors_up_to_rounding(services: Any) -> None:
    encoder = services.embedder.encoder
    texts = ["a sourdough starter that will not rise", "서울 여행 일정 추천해줘", "python pandas groupby"]

    def rows(reproducible: bool) -> np.ndarray:
        out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
        for indices, vectors in encoder.encode_batches(texts, reproducible=reproducible):
            out[indices] = vectors
        return out

    assert np.allclose(rows(False), rows(True), atol=1e-5)


def test_one_users_store_is_never_reused_for_another(
    run_raw: Run, services: Any, cold: tuple[dict[str, Any], dict[str, Any]], analysed: list[int]
) -> None:
    owner, other = "u-regen-cold", "u-regen-other"
    assert reuse_key(owner, "hybrid") != reuse_key(other, "hybrid")
    assert reuse_key("../u", "hybrid").count("/") == 3  # any user id is a safe key
    data = services.blobs.get(reuse_key(owner, services.settings.embedder))
    assert ReuseStore.from_bytes(data, other, services.embedder.fingerprint).entries == {}
    services.blobs.put(reuse_key(other, services.settings.embedder), data)  # even planted under its key
    analysed.clear()
    graph, features = documents(run_raw, services, graph_request(services, "task_regen-other", other, NEW))
    assert sum(analysed) == ITEMS_NEW
    assert (graph, features) == cold
    assert set(stored(services, other).entries) == set(stored(services, owner).entries)


def test_store_round_trip_and_refusals() -> None:
    analysis = AnalyzedText(
        terms=["서울", "trip"], features=["서울", "seoul", "trip", "가다"], korean_share=0.5
    )
    vector = np.arange(4, dtype=np.float32) / 7
    store = ReuseStore(
        "u1",
        "embedder-a",
        {("c1", "h1"): Known(analysis, vector), ("c2", "h2"): Known(AnalyzedText(), vector)},
    )
    data = store.to_bytes()
    loaded = ReuseStore.from_bytes(data, "u1", "embedder-a")
    assert set(loaded.entries) == {("c1", "h1"), ("c2", "h2")}
    known = loaded.entries[("c1", "h1")]
    assert known.analysis == analysis and known.semantic is not None
    assert np.array_equal(known.semantic, vector) and known.semantic.dtype == np.float32
    assert loaded.entries[("c2", "h2")].analysis == AnalyzedText()
    assert ReuseStore.from_bytes(data, "u2", "embedder-a").entries == {}
    assert ReuseStore.from_bytes(data, "u1", "embedder-b").entries == {}
    with pytest.raises(ValueError):
        ReuseStore.from_bytes(b"not a store", "u1", "embedder-a")
    with pytest.raises(ValueError):
        ReuseStore.from_bytes(data[: len(data) // 2], "u1", "embedder-a")
