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

from pipelines.ingest import FILE_SUFFIXES

SAMPLE = "demo"
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
    name = path.name if path.name.lower().endswith(FILE_SUFFIXES) else "input.json"
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


def files_text(graph: dict[str, Any]) -> str:
    """The user's document files (PDF, Word, PowerPoint, Hangul) and the cluster each one joined."""
    names = {cid: info["name"] for cid, info in graph["metadata"]["clusters"].items()}
    lines = ["", "Files", "-----"]
    for node in graph["nodes"]:
        if node.get("source_type") == "file":
            cluster = node["cluster_id"]
            lines.append(
                f"{node['orig_id']} “{node.get('title') or ''}” ({node['num_sections']} sections)"
                f" -> {cluster} {names.get(cluster, '')}"
            )
    return "\n".join(lines) if len(lines) > 3 else ""


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

    from actors import broker, services
    from cli.local import backend_envelope
    from demo.render import render_html

    source = path or sample_path()
    stamp = time.strftime("%Y%m%d%H%M%S")
    task_id = f"task_{DEMO_USER}_{stamp}"
    prefix = f"graph-generation/{task_id}/"
    for name, data in bundle_files(source):
        services.blobs.put(prefix + name, data)
    print(f"input: {source}", file=stream)
    print(f"task:  {task_id}", file=stream)
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        request = backend_envelope("GRAPH_GENERATION_REQUEST", task_id, DEMO_USER, prefix, None, language)
        answer = run_task(broker, services, request, stream)
        payload = answer["payload"]
        if payload["status"] != "COMPLETED":
            print(f"  errorCode={payload['errorCode']} error={payload['error']}", file=stream)
            return 1
        graph_bytes = services.blobs.get(payload["resultS3Key"])
        graph = json.loads(graph_bytes)
        add_task = f"task_add_node_{DEMO_USER}_{stamp}"
        batch_key = f"add-node/{add_task}/batch.json"
        services.blobs.put(batch_key, json.dumps(demo_batch(graph), ensure_ascii=False).encode())
        add_request = backend_envelope("ADD_NODE_REQUEST", add_task, DEMO_USER, batch_key, None, language)
        added = run_task(broker, services, add_request, stream)
    finally:
        worker.stop()

    out.mkdir(parents=True, exist_ok=True)
    (out / "graph.json").write_bytes(graph_bytes)
    (out / "features.json").write_bytes(services.blobs.get(payload["featuresS3Key"]))
    from models.graph import GraphDocument

    document = GraphDocument.model_validate_json(graph_bytes)
    (out / "graph.html").write_text(render_html(document, title=f"Knowledge graph of {DEMO_USER}"), "utf-8")
    meta = document.metadata
    print(
        f"\n{meta.total_nodes} nodes, {meta.total_edges} edges, {meta.total_clusters} clusters\n", file=stream
    )
    print(cluster_table(graph), file=stream)
    print(files_text(graph), file=stream)
    written = [out / "graph.json", out / "features.json", out / "graph.html"]
    if payload.get("summaryS3Key"):
        summary = json.loads(services.blobs.get(payload["summaryS3Key"]))
        (out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), "utf-8")
        written.append(out / "summary.json")
        print(summary_text(summary), file=stream)
    elif payload.get("error"):
        print(f"note: {payload['error']}", file=stream)
    if added["payload"]["status"] == "COMPLETED":
        result = json.loads(services.blobs.get(added["payload"]["resultS3Key"]))
        (out / "add_node_result.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), "utf-8")
        written.append(out / "add_node_result.json")
        print(placement_text(result), file=stream)
    else:
        print(f"add-node: {added['payload']['errorCode']} {added['payload']['error']}", file=stream)
    print("\nwrote " + ", ".join(str(path) for path in written), file=stream)
    return 0


def run_task(broker: Any, services: Any, envelope: dict[str, Any], stream: TextIO) -> dict[str, Any]:
    """Put the backend's envelope on the queue as raw JSON, show progress, return the answer."""
    from actors.broker import QUEUE

    task_id = envelope["taskId"]
    sink = services.sink
    shown = len(sink.envelopes)
    broker.queues[QUEUE].put(json.dumps(envelope).encode())
    while True:
        time.sleep(0.2)
        envelopes = sink.envelopes
        for item in envelopes[shown:]:
            if item["taskType"] == "GRAPH_GENERATION_PROGRESS":
                progress = item["payload"]
                eta = progress["etaSeconds"]
                suffix = f" (ETA {eta}s)" if eta else ""
                label = progress["currentStage"]
                print(
                    f"  {label}{' ' * (30 - _width(label))}{progress['progressPercent']:>3}%{suffix}",
                    file=stream,
                )
            elif item["taskId"] == task_id:
                print(f"answer: {item['taskType']} {item['payload']['status']}", file=stream)
                return dict(item)
        shown = len(envelopes)


def demo_batch(graph: dict[str, Any]) -> dict[str, Any]:
    """An add-node batch of a few new conversations, with the graph's clusters as the backend sends them."""
    conversations = json.loads(
        resources.files(SAMPLE).joinpath("sample_add/conversations.json").read_text("utf-8")
    )
    clusters = [
        {"id": cid, "name": info["name"], "description": info["description"], "size": info["size"],
         "themes": info["key_themes"]}
        for cid, info in graph["metadata"]["clusters"].items()
    ]  # fmt: skip
    return {"userId": DEMO_USER, "existingClusters": clusters, "conversations": conversations, "notes": []}


def summary_text(summary: dict[str, Any]) -> str:
    """``summary.json`` as a few readable paragraphs."""
    overview = summary["overview"]
    lines = ["", "Summary", "-------", overview["summary_text"], ""]
    lines.append(f"time span: {overview['time_span']}; most active: {overview['most_active_period']}")
    for cluster in summary["clusters"]:
        lines.append(
            f"* {cluster['name']} ({cluster['size']}, {cluster['recency']}): {cluster['insight_text']}"
        )
    for pattern in summary["patterns"][:3]:
        lines.append(f"- pattern ({pattern['pattern_type']}): {pattern['description']}")
    for recommendation in summary["recommendations"][:3]:
        lines.append(f"> {recommendation['title']}: {recommendation['description']}")
    return "\n".join(lines)


def placement_text(result: dict[str, Any]) -> str:
    """Where each added conversation went."""
    lines = ["", "Added conversations", "-------------------"]
    for item in result["results"]:
        item_id = item.get("conversationId") or item.get("noteId")
        assigned = item.get("assignedCluster")
        if item.get("skipped") or not assigned:
            lines.append(f"{item_id}: skipped ({item.get('error')})")
            continue
        new = " (new cluster)" if assigned["isNewCluster"] else ""
        lines.append(
            f"{item_id} -> {assigned['clusterId']} {assigned['name']}{new}, "
            f"confidence {assigned['confidence']:.2f}, {len(item['edges'])} edges: {assigned['reasoning']}"
        )
    return "\n".join(lines)
