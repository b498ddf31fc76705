"""Clustering quality on labelled histories: adjusted mutual information (AMI) and purity.

Usage: python bench/quality.py FILE.json [FILE.json ...] [--embedders hybrid,lexical,all-MiniLM-L6-v2]

A labelled file is ``{"conversations": [...]}`` (or a bare list) whose conversations are in the
ChatGPT ``mapping`` shape or the ``messages`` shape, each with its true ``topic`` (or ``label``).
For every file and embedder it prints AMI and purity of the clustering the pipeline produces, both
with the number of clusters chosen by the pipeline inside [3, 8] and with the true number of topics,
in the graph's similarity space (``graph``: what the pipeline clusters) and, as a baseline, on the
stored vectors alone (``vectors``: for ``all-MiniLM-L6-v2``, the sentence model by itself).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import adjusted_mutual_info_score

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from core.services import build_embedder
from pipelines.cluster import cluster
from pipelines.ingest import parse_conversation
from pipelines.space import similarity_space
from pipelines.text import TextAnalyzer


def load_conversations(path: Path) -> list[dict[str, Any]]:
    """The conversations of a labelled file, each with its true ``topic`` (``label`` is read as one)."""
    document = json.loads(path.read_text("utf-8"))
    conversations = document.get("conversations") if isinstance(document, dict) else document
    if not isinstance(conversations, list):
        raise SystemExit(f"{path}: not a labelled history (no list of conversations)")
    for raw in conversations:
        topic = raw.get("topic") or raw.get("label")
        if topic is None:
            raise SystemExit(f"{path}: conversation {raw.get('id')} has no 'topic'")
        raw["topic"] = str(topic)
    return conversations


def load_labelled(path: Path) -> tuple[list[str], list[str]]:
    """Texts and true topics of a labelled file."""
    conversations = load_conversations(path)
    return [parse_conversation(raw).text for raw in conversations], [raw["topic"] for raw in conversations]


def purity(truth: list[str], labels: np.ndarray) -> float:
    """Share of items whose cluster's majority topic is their own."""
    total = 0
    for label in set(labels.tolist()):
        members = [truth[i] for i in np.flatnonzero(labels == label)]
        total += Counter(members).most_common(1)[0][1]
    return total / len(truth)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--embedders", default="hybrid,lexical,all-MiniLM-L6-v2")
    args = parser.parse_args()
    analyzer = TextAnalyzer()
    datasets = {path.stem: load_labelled(path) for path in args.files}
    print(f"{'set':<14} {'n':>4} {'topics':>6}  {'embedder':<34} {'space':<7} {'k':>3} {'AMI':>6} {'purity':>6}  "
          f"{'k*':>3} {'AMI*':>6} {'purity*':>7}")  # fmt: skip
    for name in args.embedders.split(","):
        embedder = build_embedder(name.strip(), analyzer)
        for set_name, (texts, topics) in datasets.items():
            embedded = embedder.embed(texts)
            for space, points in (("graph", similarity_space(embedded)), ("vectors", embedded.vectors)):
                chosen = cluster(points, min_clusters=3, max_clusters=8)
                oracle = cluster(points, min_clusters=3, max_clusters=8, num_clusters=len(set(topics)))
                print(
                    f"{set_name[:14]:<14} {len(texts):>4} {len(set(topics)):>6}  {embedder.name[:34]:<34} {space:<7} "
                    f"{chosen.k:>3} {adjusted_mutual_info_score(topics, chosen.labels):>6.3f} "
                    f"{purity(topics, chosen.labels):>6.3f}  {oracle.k:>3} "
                    f"{adjusted_mutual_info_score(topics, oracle.labels):>6.3f} {purity(topics, oracle.labels):>7.3f}",
                    flush=True,
                )
    print(
        "\nk: clusters chosen by the pipeline in [3, 8]; k*: the true number of topics given as numClusters"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
