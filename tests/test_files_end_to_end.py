"""Files of every format through the real actors: a graph node per readable file, a reason per bad one."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from core.logs import build_handler
from demo.run import files_text
from models.add_node import AddNodeResultDocument

from helpers import EXAMPLES, FIXTURES, answers, example

Run = Callable[[bytes | dict[str, Any]], list[dict[str, Any]]]
Upload = Callable[[str, Any], None]

USER = "u-files"
FILES = FIXTURES / "files"
READABLE = {
    "f101": "page",
    "f102": "page",
    "f103": "section",
    "f104": "slide",
    "f105": "section",
    "f106": "page",
}
HOSTILE = {
    "f201": "encrypted PDF",
    "f202": "corrupt PDF",
    "f203": "is a zip archive and this is not one",
    "f204": "a zip bomb",
    "f205": "hostile XML",
    "f206": "hostile XML",
    "f207": "10000 pages, more than the limit",
    "f208": "no text layer",
    "f209": "HWP 5 binary documents are not read",
}
TEXT_FILES = {
    "f301_reading-list.md": "# Books\n\nDesigning Data-Intensive Applications\n\n사피엔스 다시 읽기".encode(),
    "f302_러닝일지.txt": "오늘 10km 러닝, 정강이 통증 없음. Zone 2 heart rate 유지.".encode(),
}


def envelope(name: str, task_id: str, s3_key: str, **payload: Any) -> dict[str, Any]:
    body = example(name)
    body["taskId"] = task_id
    body["payload"].update({"userId": USER, "s3Key": s3_key, **payload})
    return body


def upload_files(upload: Upload, prefix: str) -> None:
    for path in sorted(FILES.glob("f*_*")):
        if path.suffix != ".py":
            upload(prefix + path.name, path.read_bytes())
    for name, data in TEXT_FILES.items():
        upload(prefix + name, data)


@pytest.fixture(scope="module")
def run_raw(stub_worker: Any) -> Run:  # module scope for the graph fixture, as in test_add_node
    from actors import services as worker_services
    from conftest import raw_runner

    return raw_runner(stub_worker, worker_services.sink)


@pytest.fixture(scope="module")
def generated(run_raw: Run, services: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A bundle of conversations, notes and files of every format (good and hostile): graph and log."""
    prefix = "graph-generation/files-bundle/"
    for name in ("input.json", "notes.json"):
        services.blobs.put(prefix + name, (EXAMPLES / "bundle" / name).read_bytes())
    upload_files(lambda key, data: services.blobs.put(key, data), prefix + "files/")
    body = envelope("request_graph_generation.json", f"task_{USER}_01", prefix, includeSummary=False)
    stream = io.StringIO()
    handler = build_handler("json", stream)
    logging.getLogger().addHandler(handler)
    try:
        (answer,) = answers(run_raw(body))
    finally:
        logging.getLogger().removeHandler(handler)
    assert answer["payload"]["status"] == "COMPLETED", answer["payload"]
    graph: dict[str, Any] = json.loads(services.blobs.get(answer["payload"]["resultS3Key"]))
    return graph, [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def graph(generated: tuple[dict[str, Any], list[dict[str, Any]]]) -> dict[str, Any]:
    return generated[0]


def test_every_readable_file_is_a_node_of_the_graph(graph: dict[str, Any]) -> None:
    nodes = {node["orig_id"]: node for node in graph["nodes"]}
    expected = {"conv-0001", "conv-0002", "note-01", "f301", "f302", *READABLE}
    assert set(nodes) == expected  # no hostile file became a node, and none stopped the task
    sections = {"f101": 2, "f102": 1, "f103": 2, "f104": 4, "f105": 4, "f106": 1}
    for file_id, count in sections.items():
        node = nodes[file_id]
        assert node["source_type"] == "file" and node["num_sections"] == count
        assert node["timestamp"] and node["timestamp"].startswith("2026-03-14"), node["timestamp"]
        assert node["cluster_id"] in graph["metadata"]["clusters"] and node["top_keywords"]
    assert nodes["f105"]["title"] == "오사카 교토 여행 계획"
    assert nodes["f102"]["title"] == "untitled scan"
    shown = files_text(graph).splitlines()  # what the demo prints
    for file_id in READABLE:
        (line,) = [line for line in shown if line.startswith(file_id + " ")]
        assert line.endswith(graph["metadata"]["clusters"][nodes[file_id]["cluster_id"]]["name"])


def test_each_bad_file_is_logged_with_its_reason(
    generated: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    skipped = {
        line["key"].rsplit("/", 1)[-1].split("_", 1)[0]: line["reason"]
        for line in generated[1]
        if line.get("event") == "ingest.skipped"
    }
    assert set(skipped) == set(HOSTILE)
    for file_id, reason in HOSTILE.items():
        assert reason in skipped[file_id]


def test_add_node_places_files_and_answers_bad_ones_with_a_reason(
    graph: dict[str, Any], run_raw: Run, upload: Upload, services: Any
) -> None:
    task_id = f"task_add_node_{USER}_01"
    prefix = f"add-node/{task_id}/"
    batch = {
        "userId": USER,
        "notes": [{"noteId": "note-77", "title": "Garden", "content": "방울토마토 곁순 따기"}],
        "files": [{"fileId": "f401", "title": "회의 메모", "content": "배포 일정과 도커 이미지 정리"}],
    }
    upload(prefix + "batch.json", batch)
    upload_files(upload, prefix + "files/")
    (answer,) = answers(run_raw(envelope("request_add_node.json", task_id, prefix)))
    assert answer["payload"]["status"] == "COMPLETED", answer["payload"]
    document = json.loads(services.blobs.get(answer["payload"]["resultS3Key"]))
    AddNodeResultDocument.model_validate(document)
    results = {item["noteId"]: item for item in document["results"]}
    assert set(results) == {"note-77", "f401", "f301", "f302", *READABLE, *HOSTILE}
    for file_id in [*READABLE, "f301", "f302", "f401"]:
        item = results[file_id]
        assert not item.get("skipped") and item["assignedCluster"]["clusterId"], item
        (node,) = item["nodes"]
        assert node["id"] == f"{USER}_{file_id}" and node["numSections"] >= 1
    for file_id, reason in HOSTILE.items():
        item = results[file_id]
        assert item["skipped"] is True and reason in item["error"] and not item["nodes"], item
    assert document["processedCount"] == len(READABLE) + 4
