"""The vector store, embedded and as a real Chroma server: upserts by id, queries scoped by user."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from adapters.vectors import ChromaVectorStore, vector_id
from pipelines.embed import normalize_rows

from servers import chroma_server


def exercise(store: ChromaVectorStore) -> None:
    rng = np.random.default_rng(0)
    vectors = normalize_rows(rng.normal(size=(40, 16)))
    ids = [vector_id("alice" if i < 20 else "bob", f"c{i}") for i in range(40)]
    metadata = [{"userId": "alice" if i < 20 else "bob", "orig_id": f"c{i}"} for i in range(40)]
    store.upsert(ids, vectors, metadata)
    store.upsert(ids[:5], vectors[:5], metadata[:5])  # the same ids again: replaced, not duplicated
    assert store.count("alice") == 20 and store.count("bob") == 20
    # bob's own vector is nearest to itself, yet alice's query never sees it
    found = store.nearest("alice", vectors[25], limit=10)
    assert len(found) == 10 and all(n.metadata["userId"] == "alice" for n in found)
    mine = store.nearest("bob", vectors[25], limit=1)[0]
    assert mine.id == "bob_c25" and mine.similarity == pytest.approx(1.0, abs=1e-4)
    assert set(store.get(["alice_c1", "nobody_c1"])) == {"alice_c1"}
    # cluster rows: a user without any is answered with nothing; a new graph replaces older tasks' rows
    means, rows = store.user_clusters("alice")
    assert means.shape[0] == 0 and rows == []
    row = ("alice_cluster_1", vectors[0], {"cluster_id": "cluster_1", "count": 3})
    store.upsert_clusters("alice", "task-add", [("alice_cluster_9", vectors[1], {"cluster_id": "cluster_9"})])
    store.upsert_clusters("bob", "task-bob", [("bob_cluster_1", vectors[2], {"cluster_id": "cluster_1"})])
    store.upsert_clusters("alice", "task-graph", [row], replace=True)
    means, rows = store.user_clusters("alice")
    assert [r["cluster_id"] for r in rows] == ["cluster_1"] and rows[0]["taskId"] == "task-graph"
    assert np.allclose(means[0], vectors[0], atol=1e-6)
    assert [r["cluster_id"] for r in store.user_clusters("bob")[1]] == ["cluster_1"]
    # A regeneration replaces what was written before it read the history, not what came in since
    read_at = time.time()
    store.upsert([vector_id("alice", "late")], vectors[:1], [{"userId": "alice", "orig_id": "late"}])
    store.upsert_clusters(
        "alice", "task-add-late", [("alice_cluster_8", vectors[3], {"cluster_id": "cluster_8"})]
    )
    kept = [vector_id("alice", f"c{i}") for i in range(10)]
    assert store.prune("alice", kept, written_before=read_at) == 10  # c10-c19 left the history
    assert store.count("alice") == 11 and set(store.get([vector_id("alice", "late")])) == {"alice_late"}
    store.upsert_clusters("alice", "task-graph-2", [row], replace=True, written_before=read_at)
    assert sorted(r["taskId"] for r in store.user_clusters("alice")[1]) == ["task-add-late", "task-graph-2"]
    assert store.count("bob") == 20


def test_embedded(tmp_path: Path) -> None:
    exercise(ChromaVectorStore("test-embedded", path=tmp_path / "chroma"))


def test_server(tmp_path: Path) -> None:
    with chroma_server(tmp_path / "server") as port:
        exercise(ChromaVectorStore("test-server", host="127.0.0.1", port=port))
