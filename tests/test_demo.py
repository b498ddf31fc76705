"""``ai-worker demo``: the real actors on the StubBroker, embedded storage, the files it promises."""

from __future__ import annotations

import io
import json
from pathlib import Path

from demo.run import run_demo

from helpers import EXAMPLES


def test_demo_on_the_backend_example_bundle(tmp_path: Path) -> None:
    printed = io.StringIO()
    assert run_demo(EXAMPLES / "bundle", tmp_path / "out", language="en", stream=printed) == 0
    text = printed.getvalue()
    assert "[1단계] 임베딩 생성 시작" in text and "[6단계] 그래프 요약 생성 완료" in text
    assert "GRAPH_GENERATION_RESULT COMPLETED" in text and "ADD_NODE_RESULT COMPLETED" in text
    for name in ("graph.json", "features.json", "graph.html", "summary.json", "add_node_result.json"):
        assert (tmp_path / "out" / name).stat().st_size > 0, name
    graph = json.loads((tmp_path / "out" / "graph.json").read_text("utf-8"))
    assert {n["orig_id"] for n in graph["nodes"]} == {"conv-0001", "conv-0002", "note-01"}
    added = json.loads((tmp_path / "out" / "add_node_result.json").read_text("utf-8"))
    assert added["processedCount"] == len(added["results"]) == 5
    page = (tmp_path / "out" / "graph.html").read_text("utf-8")
    assert page.count("<circle") >= 3  # nodes, and the legend
    assert "<script" not in page and "src=" not in page and "href=" not in page  # self-contained
