"""ADD_NODE_REQUEST end to end on the StubBroker: real actor, blob folder, Chroma, embedder."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from models.add_node import AddNodeResultDocument

from helpers import EXAMPLES, FIXTURES, answers, example

Run = Callable[[bytes | dict[str, Any]], list[dict[str, Any]]]
Upload = Callable[[str, Any], None]

NODE_KEYS = {"id", "userId", "origId", "clusterId", "clusterName"}
ASSIGNED_KEYS = {"clusterId", "isNewCluster", "confidence", "reasoning", "name", "description", "themes"}
EDGE_KEYS = {"source", "target", "weight", "type", "intraCluster"}


def add_request(task_id: str, user_id: str, s3_key: str, **payload: Any) -> dict[str, Any]:
    body = example("request_add_node.json")
    body["taskId"] = task_id
    body["payload"].update({"userId": user_id, "s3Key": s3_key, **payload})
    return body


def graph_request(task_id: str, user_id: str, s3_key: str, **payload: Any) -> dict[str, Any]:
    body = example("request_graph_generation.json")
    body["taskId"] = task_id
    body["payload"].update({"userId": user_id, "s3Key": s3_key, "includeSummary": False, **payload})
    return body


def load(services: Any, key: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(services.blobs.get(key))
    return loaded


def run_batch(
    run_raw: Run, upload: Upload, services: Any, task_id: str, user_id: str, batch: Any
) -> dict[str, Any]:
    """Upload ``batch`` as ``add-node/{task_id}/batch.json``, run the task, return result.json."""
    key = f"add-node/{task_id}/batch.json"
    upload(key, batch)
    (answer,) = answers(run_raw(add_request(task_id, user_id, key)))
    assert answer["taskType"] == "ADD_NODE_RESULT" and answer["taskId"] == task_id
    payload = answer["payload"]
    assert payload["status"] == "COMPLETED", payload
    assert payload["resultS3Key"] == f"results/add_node/{user_id}/{task_id}/result.json"
    return load(services, payload["resultS3Key"])


def check_contract(document: dict[str, Any], user_id: str) -> None:
    """The camelCase shape of CONTRACT.md 6d."""
    assert set(document) == {"userId", "processedCount", "results"} and document["userId"] == user_id
    AddNodeResultDocument.model_validate(document)
    for item in document["results"]:
        assert not ("conversationId" in item and "noteId" in item), item
        if item.get("skipped"):  # an item without an id is answered without one
            assert item["error"] and not item.get("nodes"), item
            continue
        assert ("conversationId" in item) != ("noteId" in item), item
        (node,) = item["nodes"]
        assert set(node) >= NODE_KEYS and ({"numMessages", "numSections"} & set(node)), node
        assert node["id"] == f"{user_id}_{node['origId']}" and node["userId"] == user_id
        assert set(item["assignedCluster"]) == ASSIGNED_KEYS
        assert node["clusterId"] == item["assignedCluster"]["clusterId"]
        assert item["assignedCluster"]["reasoning"] and 0 <= item["assignedCluster"]["confidence"] <= 1
        for edge in item["edges"]:
            assert set(edge) == EDGE_KEYS and edge["type"] == "hard" and edge["source"] == node["id"]
    assert document["processedCount"] == sum(1 for r in document["results"] if not r.get("skipped"))


def test_backend_example_batch(run_raw: Run, upload: Upload, services: Any) -> None:
    body = example("request_add_node.json")
    upload(body["payload"]["s3Key"], (EXAMPLES / "batch.json").read_bytes())
    published = run_raw(body)
    (answer,) = answers(published)
    assert answer["taskType"] == "ADD_NODE_RESULT" and answer["taskId"] == body["taskId"]
    assert set(answer["payload"]) == set(example("result_add_node_completed.json")["payload"])
    assert answer["payload"]["status"] == "COMPLETED" and answer["payload"]["error"] is None
    document = load(services, answer["payload"]["resultS3Key"])
    check_contract(document, "user-7f3a")
    by_id = {r.get("conversationId") or r.get("noteId"): r for r in document["results"]}
    assert set(by_id) == {"conv-0107", "note-09"} and document["processedCount"] == 2
    assert by_id["conv-0107"]["nodes"][0]["numMessages"] == 2
    assert by_id["note-09"]["nodes"][0]["numSections"] == 1


# A labelled history: a graph from 7 of every 9 conversations per topic, the rest added later.


def labelled() -> list[dict[str, Any]]:
    conversations: list[dict[str, Any]] = json.loads(
        (FIXTURES / "clustering" / "ko.json").read_text("utf-8")
    )["conversations"]
    return conversations


def split_history() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    seen: Counter[str] = Counter()
    base, held = [], []
    for conversation in labelled():
        seen[conversation["topic"]] += 1
        (held if seen[conversation["topic"]] > 7 else base).append(conversation)
    return base, held


ACC_USER = "u-accuracy"


@pytest.fixture(scope="module")
def ko_graph(run_raw: Run, services: Any) -> dict[str, Any]:
    base, _ = split_history()
    services.blobs.put("graph-generation/acc/input.json", json.dumps(base, ensure_ascii=False).encode())
    (answer,) = answers(
        run_raw(graph_request("task_u-accuracy_01", ACC_USER, "graph-generation/acc/", numClusters=8))
    )
    assert answer["payload"]["status"] == "COMPLETED", answer
    return load(services, answer["payload"]["resultS3Key"])


@pytest.fixture(scope="module")
def run_raw(stub_worker: Any) -> Run:  # module scope for ko_graph
    from actors import services as worker_services
    from conftest import raw_runner

    return raw_runner(stub_worker, worker_services.sink)


def existing_clusters(graph: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": cid,
            "name": info["name"],
            "description": info["description"],
            "size": info["size"],
            "themes": info["key_themes"],
        }
        for cid, info in graph["metadata"]["clusters"].items()
    ]


def test_accuracy_and_idempotent_redelivery(
    run_raw: Run, upload: Upload, services: Any, ko_graph: dict[str, Any]
) -> None:
    _, held = split_history()
    by_topic: dict[str, Counter[str]] = {}
    topic_of = {c["id"]: c["topic"] for c in labelled()}
    for node in ko_graph["nodes"]:
        by_topic.setdefault(topic_of[node["orig_id"]], Counter())[node["cluster_id"]] += 1
    home = {topic: counts.most_common(1)[0][0] for topic, counts in by_topic.items()}
    batch = {
        "userId": ACC_USER,
        "existingClusters": existing_clusters(ko_graph),
        "conversations": held,
        "notes": [],
    }
    before = services.vectors.count(ACC_USER)
    first = run_batch(run_raw, upload, services, "task_add_node_u-accuracy_01", ACC_USER, batch)
    check_contract(first, ACC_USER)
    placed = {r["conversationId"]: r["assignedCluster"]["clusterId"] for r in first["results"]}
    right = sum(placed[c["id"]] == home[c["topic"]] for c in held)
    share = right / len(held)
    count = services.vectors.count(ACC_USER)
    assert count == before + len(held)

    second = run_batch(run_raw, upload, services, "task_add_node_u-accuracy_01", ACC_USER, batch)
    assert second == first
    assert services.vectors.count(ACC_USER) == count
    assert share >= 0.9, f"add-node accuracy {share:.1%} ({right}/{len(held)}) on held-out ko conversations"


def test_invariants_and_skipped_items(
    run_raw: Run, upload: Upload, services: Any, ko_graph: dict[str, Any]
) -> None:
    good = labelled()[0] | {"id": "new-plants-1"}
    off_topic = {
        "conversationId": "new-astro-1",
        "title": "Black hole event horizon and Hawking radiation",
        "messages": [
            {
                "role": "user",
                "content": "How does Hawking radiation let a black hole evaporate past the event horizon?",
            },
            {
                "role": "assistant",
                "content": "Quantum field fluctuations near the event horizon of a black hole produce "
                "thermal radiation; the black hole loses mass, so tiny black holes evaporate quickly in cosmology.",
            },
        ],
    }
    batch = {
        "userId": ACC_USER,
        "existingClusters": existing_clusters(ko_graph),
        "conversations": [
            good,
            {
                "title": "no id",
                "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
            },
            {"conversationId": "only-question", "messages": [{"role": "user", "content": "질문만 있어요"}]},
            {"conversationId": "no-shape", "title": "neither mapping nor messages"},
            good,
            off_topic,
        ],
        "notes": [
            {"title": "no id", "content": "text"},
            {"noteId": "note-empty", "content": ""},
            {
                "noteId": "note-ok",
                "title": "Houseplant watering",
                "content": "몬스테라 물주기: 흙이 마르면 흠뻑.",
            },
        ],
    }
    document = run_batch(run_raw, upload, services, "task_add_node_u-accuracy_02", ACC_USER, batch)
    check_contract(document, ACC_USER)
    results = document["results"]
    assert len(results) == 9  # every item answered, in order
    skipped = [bool(r.get("skipped")) for r in results]
    assert skipped == [False, True, True, True, True, False, True, True, False]
    assert results[4]["conversationId"] == "new-plants-1" and "duplicate" in results[4]["error"]
    graph_clusters = set(ko_graph["metadata"]["clusters"])
    new_ids = [
        r["assignedCluster"]["clusterId"] for r in results if r.get("assignedCluster", {}).get("isNewCluster")
    ]
    assert len(new_ids) == len(set(new_ids)) and not set(new_ids) & graph_clusters
    for result in results:
        for edge in result.get("edges", []):
            assert edge["target"].startswith(f"{ACC_USER}_")
            stored = services.vectors.get([edge["target"]])
            assert stored[edge["target"]]["userId"] == ACC_USER
            assert edge["intraCluster"] == (
                stored[edge["target"]]["cluster_id"] == result["nodes"][0]["clusterId"]
            )
    # nothing in a graph about plants, running, cooking... is close to black holes: a new cluster,
    # which a later task finds in the user's stored cluster rows and adds the next black-hole item to
    astro = results[5]["assignedCluster"]
    assert astro["isNewCluster"] and not results[0]["assignedCluster"]["isNewCluster"]
    follow_up = off_topic | {
        "conversationId": "new-astro-2",
        "title": "Do small black holes evaporate faster?",
        "messages": [
            {
                "role": "user",
                "content": "Why do tiny black holes evaporate faster through Hawking radiation?",
            },
            {
                "role": "assistant",
                "content": "A smaller black hole has a hotter event horizon, so its Hawking radiation is "
                "stronger and it loses mass faster; primordial black holes could evaporate today.",
            },
        ],
    }
    later = {"userId": ACC_USER, "existingClusters": [], "conversations": [follow_up]}
    (result,) = run_batch(run_raw, upload, services, "task_add_node_u-accuracy_03", ACC_USER, later)[
        "results"
    ]
    assert result["assignedCluster"]["clusterId"] == astro["clusterId"], result["assignedCluster"]
    assert not result["assignedCluster"]["isNewCluster"]
    assert any(e["target"] == f"{ACC_USER}_new-astro-1" for e in result["edges"])


def cheap_items(prefix: str, copies: int) -> list[dict[str, Any]]:
    """Short conversations (title, first question, first answer) from every labelled fixture."""
    items = []
    for name in ("ko", "en", "mixed"):
        for conversation in json.loads((FIXTURES / "clustering" / f"{name}.json").read_text("utf-8"))[
            "conversations"
        ]:
            for copy in range(copies):
                items.append(
                    {
                        "conversationId": f"{prefix}-{conversation['id']}-{copy}",
                        "title": conversation["title"],
                        "messages": conversation["messages"][:2],
                    }
                )
    return items


def test_tenant_isolation_over_500_items(run_raw: Run, upload: Upload, services: Any) -> None:
    users = {"iso-alpha": cheap_items("a", 2)[:260], "iso-beta": cheap_items("b", 2)[:260]}
    assert sum(len(items) for items in users.values()) >= 500
    crossing = total_edges = 0
    for user_id, items in users.items():
        for part in range(2):
            chunk = items[part * 130 : (part + 1) * 130]
            batch = {"userId": user_id, "existingClusters": [], "conversations": chunk}
            document = run_batch(run_raw, upload, services, f"task_add_node_{user_id}_{part}", user_id, batch)
            assert len(document["results"]) == len(chunk) and document["processedCount"] == len(chunk)
            targets = [e["target"] for r in document["results"] for e in r["edges"]]
            total_edges += len(targets)
            stored = services.vectors.get(list(dict.fromkeys(targets)))
            crossing += sum(
                1
                for t in targets
                if not t.startswith(f"{user_id}_") or stored.get(t, {}).get("userId") != user_id
            )
    for user_id, items in users.items():
        assert services.vectors.count(user_id) == len(items)
    assert total_edges > 0
    assert crossing == 0, f"{crossing} of {total_edges} edges point to another user's nodes"
