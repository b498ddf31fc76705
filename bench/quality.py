"""Graph quality on labelled histories: clusters against true topics, and the names users see.

Usage: python bench/quality.py FILE.json [FILE.json ...] [--max-clusters 16] [--embedder hybrid] [--names]

A labelled file is ``{"conversations": [...]}`` (or a bare list) whose conversations are in the
ChatGPT ``mapping`` shape or the ``messages`` shape, each with its true ``topic`` (or ``label``) and
optionally its ``language`` (``ko``, ``en`` or ``mixed``; else judged from the share of Korean words).
Names are judged against a per-topic vocabulary of words people use for the topic: the file's
``vocabulary`` or, for topics it lacks, ``vocabulary.json`` beside it.

Every history runs through the real pipeline (``build_graph``, minClusters 3, maxClusters 16) as a
whole and per language (Korean, English, code-switched). Per run it prints: conversations, topics,
clusters (k), AMI, purity, how many clusters are topic-pure (at least 60 % one topic), glued (no
topic above 60 %), how many topics are split (under 75 % in their largest cluster), and for the whole
history the share of pure clusters whose ``ko`` and ``en`` names carry a word for their topic.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import adjusted_mutual_info_score

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from core.services import build_embedder
from models.graph import GraphDocument
from pipelines.embed import Embedder
from pipelines.graph_generation import GraphParams, build_graph
from pipelines.ingest import parse_conversation
from pipelines.text import TextAnalyzer

#: A cluster is topic-pure when at least this share of it is one topic.
PURE = 0.6
#: A topic is split when less than this share of it is in its largest cluster.
WHOLE = 0.75
_NAME_WORDS = re.compile(r"[^\w+#&.-]+")


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


def load_vocabulary(path: Path) -> dict[str, list[str]]:
    """Per topic, the words a person uses for it (the file's own, then ``vocabulary.json``)."""
    shared_path = path.parent / "vocabulary.json"
    shared = json.loads(shared_path.read_text("utf-8")) if shared_path.exists() else {}
    document = json.loads(path.read_text("utf-8"))
    own = document.get("vocabulary", {}) if isinstance(document, dict) else {}
    return {**{k: v for k, v in shared.items() if isinstance(v, list)}, **own}


def language_of(raw: dict[str, Any], text: str) -> str:
    """``ko``, ``en`` or ``mixed``: as labelled, else from the share of Hangul among letters."""
    if raw.get("language") in ("ko", "en", "mixed"):
        return str(raw["language"])
    hangul = len(re.findall(r"[\uac00-\ud7a3]", text))
    latin = len(re.findall(r"[A-Za-z]", text))
    share = hangul / max(1, hangul + latin / 3)  # a Hangul syllable is about three Latin letters
    return "ko" if share > 0.85 else "en" if share < 0.15 else "mixed"


def purity(truth: list[str], labels: np.ndarray) -> float:
    """Share of items whose cluster's majority topic is their own."""
    total = 0
    for label in set(labels.tolist()):
        members = [truth[i] for i in np.flatnonzero(labels == label)]
        total += Counter(members).most_common(1)[0][1]
    return total / len(truth)


def name_hits(name: str, words: list[str]) -> bool:
    """Whether a word of ``name`` starts with one of the topic's ``words``."""
    tokens = [t for t in _NAME_WORDS.split(name.lower()) if t]
    return any(token.startswith(word.lower()) for token in tokens for word in words)


def run(embedder: Embedder, raws: list[dict[str, Any]], language: str, max_clusters: int) -> GraphDocument:
    """The graph the real pipeline builds for ``raws``."""
    items = [parse_conversation(raw) for raw in raws]
    params = GraphParams(language=language, min_clusters=3, max_clusters=max_clusters)
    return build_graph(items, embedder, params).graph


def clusters_of(graph: GraphDocument) -> np.ndarray:
    ids = sorted({node.cluster_id for node in graph.nodes})
    return np.asarray([ids.index(node.cluster_id) for node in graph.nodes])


def composition(graph: GraphDocument, topics: list[str]) -> dict[str, tuple[str, float, int]]:
    """Per cluster id: its majority topic, that topic's share and the cluster's size."""
    members: dict[str, list[str]] = {}
    for node, topic in zip(graph.nodes, topics, strict=True):
        members.setdefault(node.cluster_id, []).append(topic)
    result = {}
    for cluster_id, found in members.items():
        topic, count = Counter(found).most_common(1)[0]
        result[cluster_id] = (topic, count / len(found), len(found))
    return result


def figures(graph: GraphDocument, topics: list[str]) -> dict[str, Any]:
    labels = clusters_of(graph)
    parts = composition(graph, topics)
    split = 0
    for topic in set(topics):
        where = Counter(node.cluster_id for node, t in zip(graph.nodes, topics, strict=True) if t == topic)
        split += where.most_common(1)[0][1] / sum(where.values()) < WHOLE
    return {
        "k": int(labels.max()) + 1,
        "ami": float(adjusted_mutual_info_score(topics, labels)),
        "purity": purity(topics, labels),
        "pure": sum(share >= PURE for _, share, _ in parts.values()),
        "glued": sum(share < PURE for _, share, _ in parts.values()),
        "split": split,
    }


def hit_rate(graph: GraphDocument, topics: list[str], vocabulary: dict[str, list[str]]) -> tuple[int, int]:
    """(pure clusters whose name carries a word for their topic, pure clusters)."""
    hits = total = 0
    for cluster_id, (topic, share, _) in composition(graph, topics).items():
        if share >= PURE and topic in vocabulary:
            total += 1
            hits += name_hits(graph.metadata.clusters[cluster_id].name, vocabulary[topic])
    return hits, total


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--embedder", default="hybrid")
    parser.add_argument("--max-clusters", type=int, default=16)
    parser.add_argument("--names", action="store_true", help="list every cluster's names and topic make-up")
    args = parser.parse_args()
    embedder = build_embedder(args.embedder, TextAnalyzer())
    print(f"embedder {embedder.name}; clusters chosen by the pipeline in [3, {args.max_clusters}]\n")
    header = f"{'history':<9} {'part':<6} {'n':>4} {'topics':>6} {'k':>3} {'AMI':>6} {'purity':>6}"
    print(f"{header} {'pure':>4} {'glued':>5} {'split':>5}  {'ko names':>9} {'en names':>9}")
    totals = {"ko": [0, 0], "en": [0, 0]}
    for path in args.files:
        raws = load_conversations(path)
        vocabulary = load_vocabulary(path)
        texts = [parse_conversation(raw).text for raw in raws]
        languages = [language_of(raw, text) for raw, text in zip(raws, texts, strict=True)]
        parts: list[tuple[str, list[int]]] = [("all", list(range(len(raws))))]
        for part in ("ko", "en", "mixed"):
            chosen = [i for i, lang in enumerate(languages) if lang == part]
            if len(chosen) >= 12 and len(chosen) < len(raws):
                parts.append((part, chosen))
        for part, chosen in parts:
            subset = [raws[i] for i in chosen]
            topics = [raws[i]["topic"] for i in chosen]
            graph = run(embedder, subset, "ko", args.max_clusters)
            found = figures(graph, topics)
            line = (
                f"{path.stem[:9]:<9} {part:<6} {len(chosen):>4} {len(set(topics)):>6} {found['k']:>3} "
                f"{found['ami']:>6.3f} {found['purity']:>6.3f} {found['pure']:>4} {found['glued']:>5} "
                f"{found['split']:>5}"
            )
            if part == "all":
                english = run(embedder, subset, "en", args.max_clusters)
                ko_hits, ko_total = hit_rate(graph, topics, vocabulary)
                en_hits, en_total = hit_rate(english, topics, vocabulary)
                for language, (h, t) in (("ko", (ko_hits, ko_total)), ("en", (en_hits, en_total))):
                    totals[language][0] += h
                    totals[language][1] += t
                line += f"  {ko_hits:>4}/{ko_total:<4} {en_hits:>4}/{en_total:<4}"
                if args.names:
                    parts_of = composition(graph, topics)
                    for cluster_id, info in graph.metadata.clusters.items():
                        topic, share, size = parts_of[cluster_id]
                        en_name = english.metadata.clusters.get(cluster_id)
                        line += (
                            f"\n    {cluster_id:<11} {size:>3} {topic[:20]:<20} {share:>4.0%}  "
                            f"{info.name}  |  {en_name.name if en_name else ''}"
                        )
            print(line, flush=True)
    for language, (hits, total) in totals.items():
        print(
            f"\n{language} names: {hits}/{total} topic-pure clusters named with a word for their topic",
            end="",
        )
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
