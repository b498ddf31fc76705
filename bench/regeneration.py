"""Regeneration: a cold graph, then the same history grown by 5 % new and 2 % edited conversations.

Usage: python bench/regeneration.py [--size 10000] [--new 0.05] [--edited 0.02] [--embedder hybrid]

Both runs go through the worker's own graph generation (``actors.graph_generation``: the reuse store in
a local blob folder, vectors in an embedded Chroma, progress through ``report_progress``) in one process,
on the synthetic histories of ``bench/graph_generation.py``. Printed: both wall times and their ratio,
the encoder windows each run encoded, seconds per stage, the largest ETA each run sent against the time
its stage really had left, and the process's peak resident memory. Targets: warm wall time at most
15 % of cold, windows at most 10 %, peak memory under 2 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
WORK = Path(tempfile.mkdtemp(prefix="bench-regeneration-"))
os.environ.update(
    {
        "BROKER": "stub",
        "BLOB_DIR": str(WORK / "blobs"),
        "CHROMA_PATH": str(WORK / "chroma"),
        "HF_HUB_OFFLINE": "1",
        "LOG_LEVEL": "WARNING",
    }
)
for name in ("S3_PAYLOAD_BUCKET", "CHROMA_HOST", "SENTRY_DSN", "LLM_BASE_URL"):
    os.environ.pop(name, None)

from graph_generation import synthetic_history  # noqa: E402


class TimedSink:
    """Keeps every progress envelope with the moment it was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, dict[str, Any]]] = []

    def publish(self, envelope: dict[str, Any]) -> None:
        self.sent.append((time.monotonic(), envelope))


def edited(conversation: dict[str, Any]) -> dict[str, Any]:
    """The conversation with its last message changed."""
    messages = [dict(m) for m in conversation["messages"]]  # type: ignore[union-attr]
    messages[-1]["content"] = f"{messages[-1]['content']} One more thought on this before the weekend."
    return {**conversation, "messages": messages}


def histories(size: int, new: float, edit: float, seed: int) -> tuple[list[Any], list[Any]]:
    """The cold history and the grown one (the first ``edit`` share edited, ``new`` share appended)."""
    grown = synthetic_history(size + round(size * new), seed)
    stride = max(1, round(1 / edit)) if edit > 0 else 0
    later = [edited(c) if stride and i < size and i % stride == 0 else c for i, c in enumerate(grown)]
    return grown[:size], later


def counting_windows(encoder: Any, counter: list[int]) -> None:
    """Count the windows the real encoder is given (it still encodes them)."""
    real = encoder.encode_batches

    def encode_batches(texts: Sequence[str], **options: Any) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        counter[0] += len(texts)
        yield from real(texts, **options)

    encoder.encode_batches = encode_batches


def run(user_id: str, task_id: str, history: list[Any]) -> dict[str, Any]:
    """One GRAPH_GENERATION_REQUEST through the worker's graph generation, timed."""
    from actors.graph_generation import _generate_graph
    from actors.runtime import services
    from middleware.results import _Progress, _progress
    from models.requests import GraphGenerationRequest

    prefix = f"bench/{task_id}/"
    services.blobs.put(prefix + "input.json", json.dumps(history, ensure_ascii=False).encode())
    request = GraphGenerationRequest.model_validate(
        {"userId": user_id, "s3Key": prefix, "includeSummary": False, "minClusters": 3, "maxClusters": 8}
    )
    sink = TimedSink()
    _progress.set(_Progress(sink=sink, task_id=task_id, user_id=user_id))  # type: ignore[arg-type]
    windows = [0]
    counting_windows(services.embedder.encoder, windows)
    started = time.monotonic()
    result = _generate_graph(request, task_id, None)
    wall = time.monotonic() - started
    _progress.set(None)
    assert result.error is None, result.error
    return {"wall": wall, "windows": windows[0], "progress": sink.sent, "started": started}


def stage_figures(progress: list[tuple[float, dict[str, Any]]]) -> tuple[dict[int, float], float, float]:
    """Seconds per stage, and the ETA claimed at the largest over-claim with what was really left."""
    starts: dict[int, float] = {}
    ends: dict[int, float] = {}
    for moment, envelope in progress:
        stage = int(envelope["payload"]["currentStage"][1])
        starts.setdefault(stage, moment)
        ends[stage] = moment
    worst = (0.0, 0.0)
    for moment, envelope in progress:
        stage = int(envelope["payload"]["currentStage"][1])
        eta = envelope["payload"].get("etaSeconds")
        if eta is not None and eta - (ends[stage] - moment) > worst[0] - worst[1]:
            worst = (float(eta), ends[stage] - moment)
    return {s: ends[s] - starts[s] for s in sorted(starts)}, worst[0], worst[1]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--new", type=float, default=0.05)
    parser.add_argument("--edited", type=float, default=0.02)
    parser.add_argument("--embedder", default="hybrid")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ["EMBEDDER"] = args.embedder

    from actors.runtime import services

    services.embedder.embed(["warm-up 준비 운동"])  # model load and first-call costs are not a run's
    services.embedder.fingerprint  # noqa: B018 (hashing the weights, once per process)
    cold_history, warm_history = histories(args.size, args.new, args.edited, args.seed)
    print(
        f"machine: {os.cpu_count()} cores; embedder: {args.embedder}; cold {len(cold_history)} conversations,"
        f" warm {len(warm_history)} ({args.new:.0%} new, {args.edited:.0%} edited)",
        flush=True,
    )
    figures = {}
    for name, history in (("cold", cold_history), ("warm", warm_history)):
        figures[name] = run("bench-user", f"task_bench-{name}", history)
        stages, claimed, left = stage_figures(figures[name]["progress"])
        per_stage = " ".join(f"{s}:{t:.1f}s" for s, t in stages.items())
        eta = f"{claimed:.0f} s claimed, {left:.0f} s left" if claimed > left else "never above the time left"
        print(
            f"{name}: {figures[name]['wall']:.1f} s wall, {figures[name]['windows']} windows encoded;"
            f" stages {per_stage}; largest ETA over-claim: {eta}",
            flush=True,
        )
    cold, warm = figures["cold"], figures["warm"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"warm / cold wall time: {warm['wall'] / cold['wall']:.1%} (target <= 15%)")
    print(f"warm / cold windows:   {warm['windows'] / max(1, cold['windows']):.1%} (target <= 10%)")
    print(f"peak RSS: {peak:.0f} MB (target < 2048)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
