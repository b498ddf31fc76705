"""``ai-worker demo``: a graph generation request through the real actor, with no servers at all.

The input is copied into a local blob folder as the backend would upload a bundle, the backend's
envelope is put on the StubBroker's queue as raw JSON, a Dramatiq worker answers it, and the
outputs are copied into ``--out`` with an HTML picture of the graph.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

SAMPLE = "ai_worker.demo"
DEMO_USER = "demo-user"


def sample_path() -> Path:
    """The bundled sample history (a bundle folder)."""
    return Path(str(resources.files(SAMPLE).joinpath("sample")))


def _configure_environment(work: Path) -> None:
    os.environ["BROKER"] = "stub"
    os.environ["BLOB_DIR"] = str(work / "blobs")
    os.environ["CHROMA_PATH"] = str(work / "chroma")
    os.environ.pop("S3_PAYLOAD_BUCKET", None)
    os.environ.pop("CHROMA_HOST", None)
    os.environ.setdefault("LOG_FORMAT", "console")
    os.environ.setdefault("LOG_LEVEL", "WARNING")


def bundle_files(path: Path) -> list[tuple[str, bytes]]:
    """(relative name, bytes) of a bundle folder, or of one export file as ``input.json``."""
    if path.is_dir():
        return [
            (p.relative_to(path).as_posix(), p.read_bytes()) for p in sorted(path.rglob("*")) if p.is_file()
        ]
    name = path.name if path.suffix.lower() in (".md", ".txt") else "input.json"
    return [(name, path.read_bytes())]


def cluster_table(graph: dict[str, Any]) -> str:
    """A plain-text table of the clusters."""
    rows = [("cluster", "size", "name", "key themes")]
    for cluster_id, info in graph["metadata"]["clusters"].items():
        rows.append((cluster_id, str(info["size"]), info["name"], ", ".join(info["key_themes"][:5])))
    widths = [max(_width(row[i]) for row in rows) for i in range(3)]
    lines = []
    for index, row in enumerate(rows):
        cells = [row[i] + " " * (widths[i] - _width(row[i])) for i in range(3)]
        lines.append("  ".join([*cells, row[3]]))
        if index == 0:
            lines.append("-" * (sum(widths) + 6 + 30))
    return "\n".join(lines)


def _width(text: str) -> int:
    """Display width: Hangul and CJK take two columns."""
    return sum(2 if "\u1100" <= ch <= "\ud7a3" or "\u3000" <= ch <= "\u9fff" else 1 for ch in text)


def run_demo(path: Path | None, out: Path, language: str = "ko", stream: TextIO = sys.stdout) -> int:
    """Run the demo; returns the process exit code."""
    out = out.resolve()
    work = out / ".work"
    shutil.rmtree(work, ignore_errors=True)
    _configure_environment(work)

    import dramatiq

    from ..actors import broker, services
    from ..actors.broker import QUEUE
    from ..actors.graph_generation import features_key, graph_key
    from ..adapters.sinks import MemorySink
    from .render import render_html

    source = path or sample_path()
    task_id = f"task_{DEMO_USER}_{time.strftime('%Y%m%d%H%M%S')}"
    prefix = f"graph-generation/{task_id}/"
    for name, data in bundle_files(source):
        services.blobs.put(prefix + name, data)
    envelope = {
        "taskId": task_id,
        "taskType": "GRAPH_GENERATION_REQUEST",
        "payload": {
            "userId": DEMO_USER,
            "s3Key": prefix,
            "includeSummary": False,
            "summaryLanguage": language,
            "language": language,
            "inputType": "auto",
            "minClusters": 3,
            "maxClusters": 8,
        },
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
    }
    print(f"input: {source}", file=stream)
    print(f"task:  {task_id}", file=stream)
    sink = services.sink
    assert isinstance(sink, MemorySink)
    broker.queues[QUEUE].put(json.dumps(envelope).encode())
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    answer: dict[str, Any] | None = None
    shown = 0
    try:
        while answer is None:
            time.sleep(0.2)
            envelopes = sink.envelopes
            for item in envelopes[shown:]:
                if item["taskType"] == "GRAPH_GENERATION_PROGRESS":
                    progress = item["payload"]
                    eta = progress["etaSeconds"]
                    suffix = f" (ETA {eta}s)" if eta else ""
                    print(
                        f"  {progress['currentStage']:<28} {progress['progressPercent']:>3}%{suffix}",
                        file=stream,
                    )
                elif item["taskId"] == task_id:
                    answer = item
            shown = len(envelopes)
    finally:
        worker.stop()

    payload = answer["payload"]
    print(f"answer: {answer['taskType']} {payload['status']}", file=stream)
    if payload["status"] != "COMPLETED":
        print(f"  errorCode={payload['errorCode']} error={payload['error']}", file=stream)
        return 1
    graph_bytes = services.blobs.get(graph_key(DEMO_USER, task_id))
    features_bytes = services.blobs.get(features_key(DEMO_USER, task_id))
    out.mkdir(parents=True, exist_ok=True)
    (out / "graph.json").write_bytes(graph_bytes)
    (out / "features.json").write_bytes(features_bytes)

    from ..models.graph import GraphDocument

    graph = GraphDocument.model_validate_json(graph_bytes)
    (out / "graph.html").write_text(render_html(graph, title=f"Knowledge graph of {DEMO_USER}"), "utf-8")
    meta = graph.metadata
    print(
        f"\n{meta.total_nodes} nodes, {meta.total_edges} edges, {meta.total_clusters} clusters\n", file=stream
    )
    print(cluster_table(json.loads(graph_bytes)), file=stream)
    print(f"\nwrote {out / 'graph.json'}, {out / 'features.json'}, {out / 'graph.html'}", file=stream)
    if payload.get("error"):
        print(f"note: {payload['error']}", file=stream)
    return 0
