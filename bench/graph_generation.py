"""Graph generation at scale: wall time per stage and peak memory for 1k, 2k and 10k conversations.

Usage: python bench/graph_generation.py [--sizes 1000,2000,10000] [--embedder hybrid] [--seed 0]
                                       [--bare-sample N]

Each size runs in its own process (peak RSS is per process). The synthetic histories are built by
``synthetic_history``: conversations of 2-8 messages drawn from the sentences of the labelled
fixtures and the demo sample, one topic per conversation, Korean, English and mixed, with
timestamps spread over two years. The table shows seconds per stage (1 embedding, 2 keywords,
3 clusters, 4 edges, 5 refinement), JSON serialisation of graph.json + features.json, the ratio of
all non-embedding work to embedding, and the peak resident memory.

Stage 1 (``embed``, its whole wall time) is split into ``analysis`` (wall seconds of the text
analysis, kiwipiepy morphology and English view, and of the hashed lexical features) and ``encode``
(wall seconds of the encoder work: cutting the windows, tokenising them, encoding them in fixed-shape
batches, pooling them per text); the rest of stage 1 is bookkeeping. With a sentence encoder, the
table shows the encoder windows per second (``enc w/s``: windows encoded / ``encode`` seconds) next
to the model's bare throughput (``bare w/s``), measured in the same process right after: the same
windows given to a plain ``SentenceTransformer.encode`` (batch 32, the library's default, which sorts
by length), nothing else: no analysis, no pooling. ``--bare-sample`` times the bare model on that many
of the windows (evenly spread) instead of all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "tests" / "fixtures" / "clustering" / f"{name}.json" for name in ("ko", "en", "mixed")]


def sentence_pools() -> dict[str, list[str]]:
    """Sentences by topic, from the labelled fixtures (user and assistant turns alike)."""
    pools: dict[str, list[str]] = defaultdict(list)
    for path in SOURCES:
        for conversation in json.loads(path.read_text("utf-8"))["conversations"]:
            for message in conversation["messages"]:
                for sentence in message["content"].replace("?", "?\n").replace(". ", ".\n").splitlines():
                    if len(sentence.strip()) > 12:
                        pools[f"{path.stem}:{conversation['topic']}"].append(sentence.strip())
    if not pools:
        raise SystemExit("no labelled fixtures found under tests/fixtures/clustering")
    return pools


def synthetic_history(size: int, seed: int = 0) -> list[dict[str, object]]:
    """``size`` conversations in the ``messages`` shape, each drawn from one topic's sentences."""
    rng = random.Random(seed)
    pools = sentence_pools()
    topics = sorted(pools)
    start = 1_735_689_600  # 2025-01-01
    history = []
    for index in range(size):
        topic = rng.choice(topics)
        messages = []
        for turn in range(rng.randint(2, 8)):
            sentences = rng.sample(pools[topic], k=min(len(pools[topic]), rng.randint(1, 4)))
            messages.append(
                {"role": "user" if turn % 2 == 0 else "assistant", "content": " ".join(sentences)}
            )
        history.append(
            {
                "conversationId": f"synthetic-{index:05d}",
                "title": messages[0]["content"][:40],
                "create_time": start + rng.randint(0, 2 * 365 * 86400),
                "messages": messages,
            }
        )
    return history


def bare_throughput(embedder: Any, texts: list[str], sample: int) -> float:
    """Windows per second of the plain model on the windows the pipeline encoded for ``texts``."""
    from sentence_transformers import SentenceTransformer

    from adapters.encoders import bundled_minilm_path
    from pipelines.embed import windows

    analyses = embedder.analyzer.analyze_many(texts)
    sources = [a.english_view for a in analyses] if embedder.mode == "hybrid" else texts
    flat = [chunk for text in sources for chunk in windows(text)]
    del analyses, sources
    if 0 < sample < len(flat):
        flat = [flat[i] for i in np.linspace(0, len(flat) - 1, sample).round().astype(int)]
    name = embedder.encoder.name
    model = SentenceTransformer(
        str(bundled_minilm_path()) if name == "all-MiniLM-L6-v2" else name,
        device="cpu",
        local_files_only=True,
    )
    model.encode(flat[:32], batch_size=32)  # first-call costs
    started = time.perf_counter()
    model.encode(flat, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    return len(flat) / (time.perf_counter() - started)


def run_one(size: int, embedder_name: str, seed: int, bare_sample: int = 0) -> dict[str, float]:
    """Build one graph of ``size`` conversations in this process and measure it."""
    from core.services import build_embedder
    from pipelines.graph_generation import GraphParams, build_graph
    from pipelines.ingest import parse_conversation
    from pipelines.text import TextAnalyzer

    items = [parse_conversation(raw) for raw in synthetic_history(size, seed)]
    embedder = build_embedder(embedder_name, TextAnalyzer())
    embedder.embed(["warm-up 준비 운동"])  # model load and first-call costs are not the pipeline's
    marks: dict[int, float] = {}
    ends: dict[int, float] = {}

    def report(stage: int, fraction: float) -> None:
        now = time.perf_counter()
        marks.setdefault(stage, now)
        if fraction >= 1.0:
            ends[stage] = now

    built = build_graph(items, embedder, GraphParams(min_clusters=3, max_clusters=8), report=report)
    started = time.perf_counter()
    built.graph.model_dump_json(by_alias=True)
    built.features.model_dump_json(by_alias=True)
    serialise = time.perf_counter() - started
    figures = {f"stage{s}": ends[s] - marks[s] for s in range(1, 6)}
    figures["serialise"] = serialise
    figures["edges"] = float(len(built.graph.edges))
    figures["clusters"] = float(built.graph.metadata.total_clusters)
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["windows"] = float(built.embedded.windows)
    figures["analysis"] = built.embedded.analysis_seconds
    figures["encode"] = built.embedded.encode_seconds
    figures["encoder_rate"] = built.embedded.windows / figures["encode"] if figures["encode"] else 0.0
    figures["bare_rate"] = 0.0
    if embedder.encoder is not None:
        del built
        figures["bare_rate"] = bare_throughput(embedder, [item.text for item in items], bare_sample)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,2000,10000")
    parser.add_argument("--embedder", default="hybrid")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bare-sample", type=int, default=0)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.embedder, args.seed, args.bare_sample)))
        return 0

    print(f"machine: {os.cpu_count()} cores; embedder: {args.embedder}")
    header = (
        f"{'n':>6} {'embed':>8} {'analysis':>9} {'encode':>7} {'keywords':>9} {'clusters':>9} {'edges':>7} {'refine':>7} {'json':>6}"
        f" {'non-embed':>10} {'ratio':>6} {'peak MB':>8} {'#edges':>7} {'k':>3}"
        f" {'windows':>8} {'enc w/s':>8} {'bare w/s':>9} {'enc/bare':>9}"
    )
    print(header)
    results: dict[int, dict[str, float]] = {}
    for size in (int(s) for s in args.sizes.split(",")):
        command = [
            sys.executable,
            __file__,
            "--one",
            str(size),
            "--embedder",
            args.embedder,
            "--seed",
            str(args.seed),
            "--bare-sample",
            str(args.bare_sample),
        ]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        figures = json.loads(output.strip().splitlines()[-1])
        results[size] = figures
        non_embed = sum(figures[f"stage{s}"] for s in range(2, 6)) + figures["serialise"]
        figures["non_embed"] = non_embed
        print(
            f"{size:>6} {figures['stage1']:>8.1f} {figures['analysis']:>9.1f} {figures['encode']:>7.1f}"
            f" {figures['stage2']:>9.2f} {figures['stage3']:>9.2f}"
            f" {figures['stage4']:>7.2f} {figures['stage5']:>7.2f} {figures['serialise']:>6.2f}"
            f" {non_embed:>10.2f} {non_embed / figures['stage1']:>6.1%} {figures['peak_rss_mb']:>8.0f}"
            f" {int(figures['edges']):>7} {int(figures['clusters']):>3} {int(figures['windows']):>8}"
            f" {figures['encoder_rate']:>8.1f} {figures['bare_rate']:>9.1f}"
            f" {figures['encoder_rate'] / figures['bare_rate'] if figures['bare_rate'] else 0:>9.1%}",
            flush=True,
        )
    if 2000 in results and 10000 in results:
        scale = results[10000]["non_embed"] / results[2000]["non_embed"]
        print(f"\nnon-embedding time 10k / 2k: {scale:.2f}x (linear would be 5.0x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
