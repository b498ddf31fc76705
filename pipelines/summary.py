"""The graph summary (``summary.json``, CONTRACT.md 6e), computed offline from a graph.

``normalize_graph`` reads a graph as stored, our own ``graph.json`` or the backend's looser summary
input, into a ``GraphDocument``. ``summarize_graph`` describes that graph: an overview, every
cluster, patterns across time and clusters, the connections between clusters and recommendations.
Everything comes from the graph itself (no model, no network); the prose is written from the
templates in ``TEMPLATES``, one dict per language.

The measures:

- *density* of a cluster: its internal edges over the pairs it could hold, ``m / (n (n - 1) / 2)``;
- *centrality* of a cluster: the share of the weight of the edges touching it that goes to other
  clusters (0: self-contained, 1: every link leads elsewhere);
- *recency* against ``now``: ``new`` when every dated node is at most 60 days old, ``active`` when
  the newest is (a cluster last touched 60-180 days ago is still ``active``, its insight says since
  when), ``dormant`` when the newest is older than 180 days, ``unknown`` without timestamps;
- *connection strength* of a cluster pair: its summed inter-cluster edge weight over that of the
  strongest pair (1.0: the most connected pair).

All of it is a few passes over nodes and edges: linear in the size of the graph.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import combinations
from typing import Any

from models.graph import GraphDocument, GraphNode
from models.summary import (
    ClusterSummary,
    Connection,
    Overview,
    Pattern,
    Recommendation,
    SummaryDocument,
)
from pipelines.edges import HIGH_SIMILARITY, MIN_SIMILARITY

#: A cluster whose newest node is at most this old is active; when all its nodes are, it is new.
ACTIVE_DAYS = 60
#: A cluster whose newest node is older than this is dormant.
DORMANT_DAYS = 180
#: A silence inside a cluster at least this long, then resumed, is a gap pattern.
RESUMED_GAP_DAYS = 120
#: A cluster (or keyword) seen in at least this many months is a repetition pattern.
REPEAT_MONTHS = 3
#: Keywords per node taken into account.
NODE_TERMS = 10
#: Where a node has no cluster.
UNCLUSTERED = "unclustered"
#: The question types, in the order they are reported on ties.
QUESTION_TYPES = ("how-to", "why", "comparison", "recommendation", "troubleshooting", "definition")

_LEVELS = ("brief", "standard", "detailed")
_PRIORITY = {"high": 0, "medium": 1, "low": 2}
_DIGITS = re.compile(r"(\d+)")

# ---------------------------------------------------------------------------------------------------
# Templates: everything a reader sees, one dict per language. A key ending in ``_one`` is used instead
# of the plain key when the count is 1. Values: {name}, {a}, {b}, {other}, {title} are quoted names;
# {names}, {themes}, {keywords}, {types} joined lists; {nodes}, {convs}, {topics}, {links}, {days},
# {months} counted phrases (the ``count.*`` keys); {n}, {count}, {share} plain numbers.
# ---------------------------------------------------------------------------------------------------

TEMPLATES: dict[str, dict[str, str]] = {
    "en": {
        "quote": "“{text}”",
        "sep": ", ",
        "and": " and ",
        "space": " ",
        "unknown": "unknown",
        "span": "{first}",
        "span.range": "{first} to {last}",
        "count.nodes": "{n} conversations and notes",
        "count.nodes_one": "{n} conversation",
        "count.convs": "{n} conversations",
        "count.convs_one": "{n} conversation",
        "count.topics": "{n} topics",
        "count.topics_one": "{n} topic",
        "count.links": "{n} links",
        "count.links_one": "{n} link",
        "count.days": "{n} days",
        "count.days_one": "{n} day",
        "count.months": "{n} different months",
        "q.how-to": "how-to",
        "q.why": "why",
        "q.comparison": "comparison",
        "q.recommendation": "recommendation",
        "q.troubleshooting": "troubleshooting",
        "q.definition": "definition",
        "source.chat": "AI chats",
        "source.note": "notes",
        "source.file": "files",
        "style": "Mostly {source} ({share}%)",
        "style.questions": "Mostly {source} ({share}%), with many {types} questions",
        "overview.intro": "Your knowledge graph holds {nodes} from {span}, grouped into {topics}.",
        "overview.intro_untimed": "Your knowledge graph holds {nodes}, grouped into {topics}.",
        "overview.interests": "Your main interests are {names}.",
        "overview.interests_one": "Your main interest is {names}.",
        "overview.peak": "You were most active in {month}.",
        "overview.dormant": "{topics} have had no new conversations for over six months, for example {name}.",
        "overview.dormant_one": "{name} has had no new conversations for over six months.",
        "overview.central": "{name} is the most connected topic, linked most often to {other}.",
        "cluster.intro": "{name} gathers {convs} about {themes}.",
        "cluster.intro_plain": "{name} gathers {convs}.",
        "cluster.new": "It is a new topic: everything in it is from the last two months.",
        "cluster.active": "It is still active; the latest conversation is from {month}.",
        "cluster.cooling": "The latest conversation is from {month}.",
        "cluster.dormant": "It has been quiet since {month}.",
        "cluster.questions": "Most questions here are {types} questions.",
        "cluster.link": "It is most closely linked to {other}.",
        "pattern.repetition": "You keep coming back to {name}: it appears in {months}.",
        "pattern.repetition_term": "The keyword {term} recurs across {months} and {topics}.",
        "pattern.progression": "In {name}, the focus moved from {early} to {late}.",
        "pattern.shift": "Over time your attention moved from {early} to {late}.",
        "pattern.gap": "{name} has been silent for {days}, since {month}.",
        "pattern.gap_resumed": "{name} went quiet for {days} before you came back to it in {month}.",
        "pattern.bridge": "{title} links {topics}: {names}.",
        "connection": "{a} and {b} share {links}, mostly through {keywords}.",
        "connection_plain": "{a} and {b} share {links}.",
        "rec.consolidate.title": "Consolidate your notes on {name}",
        "rec.consolidate": "{name} holds {convs} on the same subject. Merging them into one summary note "
        "would make them easier to reuse.",
        "rec.review.title": "Revisit {name}",
        "rec.review": "You have not come back to {name} since {month}. A quick review would refresh "
        "what you learned.",
        "rec.explore.title": "Explore {name} further",
        "rec.explore": "{name} has only {convs} so far. Digging deeper into {themes} could grow it into "
        "a fuller topic.",
        "rec.connect.title": "Connect {a} and {b}",
        "rec.connect": "These topics already meet through {keywords}. A note that links them could bring "
        "out new ideas.",
        "rec.connect_plain": "These topics already share {links}. A note that links them could bring out "
        "new ideas.",
    },
    "ko": {
        "quote": "“{text}”",
        "sep": ", ",
        "and": ", ",
        "space": " ",
        "unknown": "알 수 없음",
        "span": "{first}에",
        "span.range": "{first}부터 {last}까지",
        "count.nodes": "대화와 노트 {n}개",
        "count.convs": "대화 {n}개",
        "count.topics": "{n}개 주제",
        "count.links": "{n}개의 연결",
        "count.days": "{n}일",
        "count.months": "{n}개월",
        "q.how-to": "방법",
        "q.why": "이유",
        "q.comparison": "비교",
        "q.recommendation": "추천",
        "q.troubleshooting": "문제 해결",
        "q.definition": "개념",
        "source.chat": "AI 채팅",
        "source.note": "노트",
        "source.file": "파일",
        "style": "{source} 위주({share}%)",
        "style.questions": "{source} 위주({share}%)이며, {types} 질문이 많습니다",
        "overview.intro": "지식 그래프에는 {span} 쌓인 {nodes}가 {topics}로 정리되어 있습니다.",
        "overview.intro_untimed": "지식 그래프에는 {nodes}가 {topics}로 정리되어 있습니다.",
        "overview.interests": "가장 큰 관심사는 {names}입니다.",
        "overview.peak": "가장 활발했던 시기는 {month}입니다.",
        "overview.dormant": "반년 넘게 새 대화가 없는 주제가 {count}개 있습니다(예: {name}).",
        "overview.central": "{name} 주제가 다른 주제와 가장 많이 연결되어 있으며, "
        "특히 {other} 주제와 가깝습니다.",
        "cluster.intro": "{name} 주제에는 {themes} 관련 {convs}가 모여 있습니다.",
        "cluster.intro_plain": "{name} 주제에는 {convs}가 모여 있습니다.",
        "cluster.new": "최근 두 달 사이에 새로 생긴 주제입니다.",
        "cluster.active": "지금도 이어지는 주제로, 마지막 대화는 {month}입니다.",
        "cluster.cooling": "마지막 대화는 {month}입니다.",
        "cluster.dormant": "{month} 이후로 새 대화가 없습니다.",
        "cluster.questions": "주로 {types} 질문을 했습니다.",
        "cluster.link": "가장 가까운 주제는 {other}입니다.",
        "pattern.repetition": "{name} 주제는 {months}에 걸쳐 반복해서 등장합니다.",
        "pattern.repetition_term": "{term} 키워드가 {months}, {topics}에 걸쳐 반복됩니다.",
        "pattern.progression": "{name} 주제의 관심사는 처음에는 {early} 중심이었고, "
        "최근에는 {late} 중심입니다.",
        "pattern.shift": "시간이 지나며 관심의 중심이 {early} 주제에서 {late} 주제로 옮겨 갔습니다.",
        "pattern.gap": "{name} 주제는 {month} 이후 {days} 동안 새 대화가 없습니다.",
        "pattern.gap_resumed": "{name} 주제는 {days} 동안 멈췄다가 {month}에 다시 이어졌습니다.",
        "pattern.bridge": "{title} 대화는 {topics}({names})를 이어 줍니다.",
        "connection": "{a} 주제와 {b} 주제는 {links}을 공유하며, 주로 {keywords} 키워드로 이어집니다.",
        "connection_plain": "{a} 주제와 {b} 주제는 {links}을 공유합니다.",
        "rec.consolidate.title": "{name} 내용 정리하기",
        "rec.consolidate": "{name} 주제에는 서로 관련된 {convs}가 있습니다. 하나의 요약 노트로 묶으면 "
        "다시 활용하기 쉬워집니다.",
        "rec.review.title": "{name} 다시 보기",
        "rec.review": "{name} 주제는 {month} 이후 다루지 않았습니다. 한 번 복습하면 배운 내용을 다시 "
        "떠올릴 수 있습니다.",
        "rec.explore.title": "{name} 더 깊이 알아보기",
        "rec.explore": "{name} 주제에는 아직 {convs}뿐입니다. {themes} 쪽으로 더 파고들면 더 풍부한 "
        "주제가 될 수 있습니다.",
        "rec.connect.title": "{a} 주제와 {b} 주제 연결하기",
        "rec.connect": "두 주제는 이미 {keywords} 키워드로 만나고 있습니다. 둘을 잇는 노트를 만들면 "
        "새로운 아이디어를 얻을 수 있습니다.",
        "rec.connect_plain": "두 주제는 이미 {links}을 공유합니다. 둘을 잇는 노트를 만들면 새로운 "
        "아이디어를 얻을 수 있습니다.",
    },
    "zh": {
        "quote": "“{text}”",
        "sep": "、",
        "and": "和",
        "space": "",
        "unknown": "未知",
        "span": "{first}",
        "span.range": "{first}至{last}期间",
        "count.nodes": "{n}个对话和笔记",
        "count.convs": "{n}个对话",
        "count.topics": "{n}个主题",
        "count.links": "{n}条连接",
        "count.days": "{n}天",
        "count.months": "{n}个不同的月份",
        "q.how-to": "方法",
        "q.why": "原因",
        "q.comparison": "比较",
        "q.recommendation": "推荐",
        "q.troubleshooting": "故障排查",
        "q.definition": "概念",
        "source.chat": "AI对话",
        "source.note": "笔记",
        "source.file": "文件",
        "style": "以{source}为主（{share}%）",
        "style.questions": "以{source}为主（{share}%），多为{types}类问题",
        "overview.intro": "你的知识图谱收录了{span}的{nodes}，分为{topics}。",
        "overview.intro_untimed": "你的知识图谱收录了{nodes}，分为{topics}。",
        "overview.interests": "你最主要的兴趣是{names}。",
        "overview.peak": "你最活跃的时期是{month}。",
        "overview.dormant": "有{count}个主题已经半年以上没有新对话，例如{name}。",
        "overview.central": "{name}是与其他主题联系最紧密的主题，尤其与{other}关系密切。",
        "cluster.intro": "{name}主题汇集了{convs}，主要涉及{themes}。",
        "cluster.intro_plain": "{name}主题汇集了{convs}。",
        "cluster.new": "这是最近两个月新出现的主题。",
        "cluster.active": "这个主题仍然活跃，最近一次对话在{month}。",
        "cluster.cooling": "最近一次对话在{month}。",
        "cluster.dormant": "自{month}以来没有新的对话。",
        "cluster.questions": "提问以{types}类问题为主。",
        "cluster.link": "与它联系最紧密的主题是{other}。",
        "pattern.repetition": "你反复回到{name}这个主题：它出现在{months}。",
        "pattern.repetition_term": "关键词{term}在{months}、{topics}中反复出现。",
        "pattern.progression": "在{name}中，关注点从{early}转向了{late}。",
        "pattern.shift": "随着时间推移，你的关注点从{early}转向了{late}。",
        "pattern.gap": "{name}自{month}以来已有{days}没有新对话。",
        "pattern.gap_resumed": "{name}中断了{days}，之后在{month}重新开始。",
        "pattern.bridge": "{title}连接了{topics}：{names}。",
        "connection": "{a}与{b}之间有{links}，主要通过{keywords}等关键词相连。",
        "connection_plain": "{a}与{b}之间有{links}。",
        "rec.consolidate.title": "整理{name}的内容",
        "rec.consolidate": "{name}包含{convs}，内容彼此相关。把它们整理成一篇总结笔记，以后更容易复用。",
        "rec.review.title": "回顾{name}",
        "rec.review": "自{month}以来你没有再讨论{name}。快速回顾一下可以巩固所学。",
        "rec.explore.title": "深入探索{name}",
        "rec.explore": "{name}目前只有{convs}。围绕{themes}深入探索，可以让这个主题更加丰富。",
        "rec.connect.title": "连接{a}和{b}",
        "rec.connect": "这两个主题已经通过{keywords}相交。写一篇把它们联系起来的笔记，可能会带来新的想法。",
        "rec.connect_plain": "这两个主题之间已有{links}。写一篇把它们联系起来的笔记，可能会带来新的想法。",
    },
}

#: Title cues of each question type: substrings (Korean, Chinese) and whole Latin words or phrases.
_QUESTION_CUES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "how-to": (
        ("방법", "어떻게", "는 법", "는법", "하려면", "사용법", "설정법", "계획",
         "如何", "怎么", "怎样", "步骤", "教程", "计划"),
        ("how to", "how do", "how can", "how should", "guide", "tutorial", "setup", "set up",
         "step by step", "plan"),
    ),
    "why": (
        ("왜", "이유", "원인", "为什么", "为何", "原因"),
        ("why", "reason", "reasons", "cause", "causes"),
    ),
    "comparison": (
        ("차이", "비교", "뭐가 나", "어느 게", "区别", "比较", "对比", "还是"),
        ("vs", "versus", "difference", "differences", "compare", "compared", "comparison"),
    ),
    "recommendation": (
        ("추천", "뭐가 좋", "골라", "推荐", "建议"),
        ("best", "recommend", "recommendation", "recommendations", "suggest", "suggestions", "top"),
    ),
    "troubleshooting": (
        ("에러", "오류", "안 됨", "안됨", "안 돼", "안돼", "안 와", "안 옴", "실패", "버그", "고장",
         "错误", "报错", "失败", "无法", "故障"),
        ("error", "errors", "bug", "bugs", "fail", "fails", "failed", "failing", "failure", "issue",
         "issues", "not working", "broken", "crash", "crashes", "exception", "fix", "troubleshoot",
         "bad gateway", "timeout", "refused"),
    ),
    "definition": (
        ("이란", "란?", "뭐야", "뭔가요", "무엇", "의미", "뜻", "개념",
         "什么是", "是什么", "含义", "定义", "意思"),
        ("what is", "what are", "what's", "meaning", "definition", "explain", "explained", "introduction"),
    ),
}  # fmt: skip

_QUESTION_WORDS = {
    kind: re.compile(r"\b(?:" + "|".join(re.escape(cue) for cue in words) + r")\b")
    for kind, (_, words) in _QUESTION_CUES.items()
}

_SOURCE_GROUPS = {
    "chat": "chat",
    "conversation": "chat",
    "chatgpt": "chat",
    "markdown": "note",
    "notion": "note",
}
_SOURCE_ORDER = ("chat", "note", "file")


# ---------------------------------------------------------------------------------------------------
# Reading a stored graph
# ---------------------------------------------------------------------------------------------------


def normalize_graph(raw: dict[str, Any]) -> GraphDocument:
    """A ``GraphDocument`` from a graph as stored: our ``graph.json`` or the backend's looser input.

    Gaps are filled, never fatal: cluster names from ``label`` fields or keywords, keywords given as
    plain strings, ids as strings, edges without ``confidence``, a missing ``metadata.clusters``.
    Raises ``ValueError`` when ``raw`` is not a graph or holds no nodes.
    """
    body = _graph_body(raw)
    metadata: dict[str, Any] = body["metadata"] if isinstance(body.get("metadata"), dict) else {}
    known = _metadata_clusters(metadata.get("clusters"))
    raw_nodes = [node for node in body["nodes"] if isinstance(node, dict)]
    if not raw_nodes:
        raise ValueError("the graph has no nodes")
    ids = _node_ids(raw_nodes)
    lookup = _id_lookup(raw_nodes, ids)
    cluster_ids = [_cluster_id(node) for node in raw_nodes]
    keywords = [_node_keywords(node) for node in raw_nodes]
    names = _cluster_names(raw_nodes, cluster_ids, keywords, known)
    nodes = [
        _node(node, ids[i], cluster_ids[i], names[cluster_ids[i]], keywords[i])
        for i, node in enumerate(raw_nodes)
    ]
    cluster_of = dict(zip(ids, cluster_ids, strict=True))
    high = _as_float(metadata.get("high_confidence_threshold"), HIGH_SIMILARITY)
    edges = _edges(_list(body.get("edges", body.get("links"))), lookup, cluster_of, high)
    clusters = _cluster_infos(nodes, keywords, known)
    # Plain dicts validated in one call: far faster than a model per edge on large graphs.
    return GraphDocument.model_validate(
        {
            "nodes": nodes,
            "edges": edges,
            "subclusters": _subclusters(_list(body.get("subclusters")), lookup, cluster_of),
            "metadata": {
                "generated_at": str(_first(metadata, "generated_at", "generatedAt") or ""),
                "total_nodes": len(nodes),
                "total_edges": len(edges),
                "total_clusters": len(clusters),
                "clusters": clusters,
                "language": _text(metadata.get("language")) or None,
            },
        }
    )


def _graph_body(raw: Any) -> dict[str, Any]:
    """The object holding ``nodes``: ``raw`` itself or a ``graph`` / ``data`` / ``result`` inside it."""
    if not isinstance(raw, dict):
        raise ValueError(f"a graph must be a JSON object with 'nodes', not {type(raw).__name__}")
    wrapped = (raw.get(key) for key in ("graph", "data", "result"))
    body = raw if "nodes" in raw else next((w for w in wrapped if isinstance(w, dict) and "nodes" in w), None)
    if body is None:
        raise ValueError("not a graph: no 'nodes' list")
    if not isinstance(body["nodes"], list):
        raise ValueError(f"not a graph: 'nodes' must be a list, not {type(body['nodes']).__name__}")
    return body


def _first(mapping: dict[str, Any], *keys: str) -> Any:
    """The first value under ``keys`` that is neither missing, null nor an empty string."""
    for key in keys:
        value = mapping.get(key)
        if value is not None and value != "":
            return value
    return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def _as_float(value: Any, default: float) -> float:
    if isinstance(value, bool) or value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def _key(value: Any) -> str | None:
    """A node reference as a lookup key: ``3``, ``3.0`` and ``"3"`` are the same node."""
    if value is None or isinstance(value, dict | list):
        return None
    number = _as_int(value)
    return str(number) if number is not None else str(value)


def _node_ids(raw_nodes: list[dict[str, Any]]) -> list[int]:
    """The nodes' own integer ids when they have unique ones, else their positions."""
    ids = [_as_int(node.get("id")) for node in raw_nodes]
    if all(i is not None for i in ids) and len(set(ids)) == len(ids):
        return [i for i in ids if i is not None]
    return list(range(len(raw_nodes)))


def _id_lookup(raw_nodes: list[dict[str, Any]], ids: list[int]) -> dict[str, int]:
    """Node references (raw ids, then orig ids, then positions) to node ids."""
    lookup: dict[str, int] = {}
    for node, node_id in zip(raw_nodes, ids, strict=True):
        key = _key(node.get("id"))
        if key is not None:
            lookup.setdefault(key, node_id)
    for node, node_id in zip(raw_nodes, ids, strict=True):
        key = _key(_first(node, "orig_id", "origId"))
        if key is not None:
            lookup.setdefault(key, node_id)
    for node_id in ids:
        lookup.setdefault(str(node_id), node_id)
    return lookup


def _cluster_id(node: dict[str, Any]) -> str:
    """The node's cluster id; without one, its cluster's name stands in for it."""
    value = _first(node, "cluster_id", "clusterId", "cluster")
    if isinstance(value, dict):
        value = _first(value, "id", "cluster_id")
    key = _key(value) or _text(_first(node, "cluster_name", "clusterName", "cluster_label", "clusterLabel"))
    return key.strip() if key and key.strip() else UNCLUSTERED


def _metadata_clusters(value: Any) -> dict[str, dict[str, Any]]:
    """``metadata.clusters`` as a dict by cluster id, whether stored as a dict or a list."""
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = [(_first(v, "id", "cluster_id", "clusterId"), v) for v in value if isinstance(v, dict)]
    else:
        return {}
    clusters: dict[str, dict[str, Any]] = {}
    for key, info in items:
        cluster_id = _key(key)
        if cluster_id is None:
            continue
        if isinstance(info, dict):
            clusters[cluster_id] = info
        elif isinstance(info, str):
            clusters[cluster_id] = {"name": info}
    return clusters


def _rank_score(rank: int) -> float:
    return round(1.0 / (rank + 1), 4)


def _keyword(item: Any, rank: int) -> tuple[str, float] | None:
    term, score = "", _rank_score(rank)
    if isinstance(item, str):
        term = item.strip()
    elif isinstance(item, list | tuple) and item and isinstance(item[0], str):
        term = item[0].strip()
        score = _as_float(item[1], score) if len(item) > 1 else score
    elif isinstance(item, dict):
        term = _text(_first(item, "term", "keyword", "word", "text", "name"))
        score = _as_float(_first(item, "score", "weight", "value"), score)
    return (term, score) if term else None


def _keywords(value: Any) -> list[tuple[str, float]]:
    """Keywords given as ``[{term, score}]``, plain strings, pairs or one comma-separated string."""
    if isinstance(value, str):
        value = value.split(",")
    seen: set[str] = set()
    keywords = []
    for rank, item in enumerate(_list(value)):
        keyword = _keyword(item, rank)
        if keyword is not None and keyword[0] not in seen:
            seen.add(keyword[0])
            keywords.append(keyword)
    return keywords


def _node_keywords(node: dict[str, Any]) -> list[tuple[str, float]]:
    keywords = _keywords(node.get("keywords"))
    return keywords or _keywords(_first(node, "top_keywords", "topKeywords"))


def _strings(value: Any) -> list[str]:
    return [term for term, _ in _keywords(value)]


def _top_terms(keyword_lists: Iterable[list[tuple[str, float]]], limit: int = 5) -> list[str]:
    totals: dict[str, float] = defaultdict(float)
    for keywords in keyword_lists:
        for term, score in keywords:
            totals[term] += score
    return [term for term, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


def _most_common(values: Iterable[str]) -> str:
    counts = Counter(value for value in values if value)
    return counts.most_common(1)[0][0] if counts else ""


def _cluster_names(
    raw_nodes: list[dict[str, Any]],
    cluster_ids: list[str],
    keywords: list[list[tuple[str, float]]],
    known: dict[str, dict[str, Any]],
) -> dict[str, str]:
    """Each cluster's name: a given name, else a given label, else its top keywords, else its id."""
    members: dict[str, list[int]] = defaultdict(list)
    for i, cluster_id in enumerate(cluster_ids):
        members[cluster_id].append(i)
    names = {}
    for cluster_id, positions in members.items():
        info = known.get(cluster_id, {})
        nodes = [raw_nodes[i] for i in positions]
        names[cluster_id] = (
            _text(info.get("name"))
            or _most_common(_text(_first(n, "cluster_name", "clusterName")) for n in nodes)
            or _text(_first(info, "label", "title"))
            or _most_common(_text(_first(n, "cluster_label", "clusterLabel", "label")) for n in nodes)
            or " · ".join(_top_terms((keywords[i] for i in positions), limit=2))
            or cluster_id
        )
    return names


def _timestamp(node: dict[str, Any]) -> str | None:
    value = _first(
        node, "timestamp", "created_at", "createdAt", "create_time", "createTime", "updated_at", "updatedAt",
        "update_time", "updateTime",
    )  # fmt: skip
    if isinstance(value, str) and not re.fullmatch(r"\s*-?\d+(\.\d+)?\s*", value):
        return value.strip() if _parse_time(value) else None
    epoch = _as_float(value, math.nan)
    if math.isnan(epoch):
        return None
    if abs(epoch) > 1e11:  # milliseconds
        epoch /= 1000
    try:
        return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return None


def _node(
    raw: dict[str, Any], node_id: int, cluster_id: str, cluster_name: str, keywords: list[tuple[str, float]]
) -> dict[str, Any]:
    """One node as ``GraphNode`` fields."""
    top = _strings(_first(raw, "top_keywords", "topKeywords")) or [term for term, _ in keywords[:5]]
    sections = _as_int(_first(raw, "num_sections", "numSections", "num_messages", "numMessages"))
    subcluster = _key(_first(raw, "subcluster_id", "subclusterId"))
    title = _first(raw, "title", "conversation_title", "conversationTitle")
    confidence = _as_float(_first(raw, "cluster_confidence", "clusterConfidence"), 1.0)
    return {
        "id": node_id,
        "orig_id": _key(_first(raw, "orig_id", "origId", "original_id", "id")) or str(node_id),
        "cluster_id": cluster_id,
        "cluster_name": cluster_name,
        "cluster_confidence": min(1.0, max(0.0, confidence)),
        "keywords": [{"term": term, "score": score} for term, score in keywords],
        "top_keywords": top,
        "timestamp": _timestamp(raw),
        "num_sections": max(0, sections) if sections is not None else 1,
        "source_type": _text(_first(raw, "source_type", "sourceType")) or "chat",
        "title": str(title) if title is not None else None,
        "subcluster_id": subcluster,
    }


def _confidence(value: Any, weight: float, high: float) -> str:
    if value in ("high", "medium", "low"):
        return str(value)
    middle = (MIN_SIMILARITY + high) / 2
    return "high" if weight >= high else "medium" if weight >= middle else "low"


def _edges(
    raw_edges: list[Any], lookup: dict[str, int], cluster_of: dict[int, str], high: float
) -> list[dict[str, Any]]:
    """Edges between known nodes, one per pair (the heaviest), ``is_intra_cluster`` recomputed."""
    kept: dict[tuple[int, int], tuple[float, Any]] = {}
    for raw in raw_edges:
        if not isinstance(raw, dict):
            continue
        source = lookup.get(_key(_first(raw, "source", "from", "sourceId", "source_id")) or "")
        target = lookup.get(_key(_first(raw, "target", "to", "targetId", "target_id")) or "")
        if source is None or target is None or source == target:
            continue
        pair = (min(source, target), max(source, target))
        weight = _as_float(_first(raw, "weight", "score", "similarity", "value"), 1.0)
        if pair not in kept or kept[pair][0] < weight:
            kept[pair] = (weight, raw.get("confidence"))
    return [
        {
            "source": s,
            "target": t,
            "weight": weight,
            "type": "semantic",
            "is_intra_cluster": cluster_of[s] == cluster_of[t],
            "confidence": _confidence(confidence, weight, high),
        }
        for (s, t), (weight, confidence) in kept.items()
    ]


def _subclusters(
    raw_list: list[Any], lookup: dict[str, int], cluster_of: dict[int, str]
) -> list[dict[str, Any]]:
    subclusters = []
    for index, raw in enumerate(raw_list, start=1):
        if not isinstance(raw, dict):
            continue
        members = [lookup[k] for k in map(_key, _list(_first(raw, "node_ids", "nodeIds"))) if k in lookup]
        if not members:
            continue
        representative = lookup.get(_key(_first(raw, "representative_node_id", "representativeNodeId")) or "")
        internal = _as_int(raw.get("internal_edges"))
        subclusters.append(
            {
                "id": _key(_first(raw, "id", "subcluster_id")) or f"subcluster_{index}",
                "cluster_id": _key(_first(raw, "cluster_id", "clusterId")) or cluster_of[members[0]],
                "node_ids": members,
                "representative_node_id": representative if representative is not None else members[0],
                "size": len(members),
                "density": _as_float(raw.get("density"), 0.0),
                "top_keywords": _strings(_first(raw, "top_keywords", "topKeywords")),
                "name": _text(raw.get("name")) or None,
                "cohesion_score": _as_float(raw["cohesion_score"], 0.0) if "cohesion_score" in raw else None,
                "internal_edges": internal,
            }
        )
    return subclusters


def _natural(text: str) -> tuple[Any, ...]:
    """Sort key that puts ``cluster_2`` before ``cluster_10``."""
    return tuple(int(part) if i % 2 else part for i, part in enumerate(_DIGITS.split(text)))


def _cluster_infos(
    nodes: list[dict[str, Any]], keywords: list[list[tuple[str, float]]], known: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """``metadata.clusters`` for the clusters the nodes are in, given themes kept."""
    members: dict[str, list[int]] = defaultdict(list)
    for position, node in enumerate(nodes):
        members[node["cluster_id"]].append(position)
    infos = {}
    for cluster_id in sorted(members, key=_natural):
        info = known.get(cluster_id, {})
        group = members[cluster_id]
        themes = _strings(_first(info, "key_themes", "keyThemes", "themes", "keywords"))
        infos[cluster_id] = {
            "name": nodes[group[0]]["cluster_name"],
            "description": _text(info.get("description")),
            "size": len(group),
            "key_themes": themes or _top_terms(keywords[p] for p in group),
        }
    return infos


# ---------------------------------------------------------------------------------------------------
# Measuring the graph
# ---------------------------------------------------------------------------------------------------


def _parse_time(value: str | None) -> datetime | None:
    """An ISO-8601 string as an aware UTC datetime; ``None`` when absent or unreadable."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _month(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def question_types(title: str) -> list[str]:
    """The question types a title's wording suggests (``how-to``, ``why``, ``comparison``...)."""
    lowered = title.lower()
    return [
        kind
        for kind in QUESTION_TYPES
        if any(cue in lowered for cue in _QUESTION_CUES[kind][0]) or _QUESTION_WORDS[kind].search(lowered)
    ]


@dataclass(slots=True)
class _Topic:
    """One cluster and what was measured about it."""

    id: str
    name: str
    members: list[int] = field(default_factory=list)
    key_themes: list[str] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)
    internal_edges: int = 0
    internal_weight: float = 0.0
    external_weight: float = 0.0
    timeline: list[int] = field(default_factory=list)
    state: str = "unknown"
    notable: list[int] = field(default_factory=list)

    @property
    def density(self) -> float:
        """Internal edges over possible pairs."""
        size = len(self.members)
        return min(1.0, self.internal_edges / (size * (size - 1) / 2)) if size > 1 else 0.0

    @property
    def centrality(self) -> float:
        """Share of the topic's edge weight that leads to other topics."""
        total = self.internal_weight + self.external_weight
        return self.external_weight / total if total > 0 else 0.0


@dataclass(slots=True)
class _Link:
    """The inter-cluster edges between two topics."""

    edges: int = 0
    weight: float = 0.0
    shared: Counter[str] = field(default_factory=Counter)
    strongest: list[tuple[float, int, int]] = field(default_factory=list)


@dataclass(slots=True)
class _Analysis:
    """The graph with per-node and per-cluster measures; nodes are addressed by position."""

    graph: GraphDocument
    now: datetime
    labels: list[str]
    cluster_of: list[str]
    terms: list[list[str]]
    times: list[datetime | None]
    questions: list[list[str]]
    degree: list[float]
    bridges: list[list[tuple[float, int]]]
    topics: dict[str, _Topic]
    links: dict[tuple[str, str], _Link]
    closest: dict[str, str] = field(default_factory=dict)

    def orig(self, position: int) -> str:
        """The node's ``orig_id``."""
        return self.graph.nodes[position].orig_id

    def age_days(self, position: int) -> float:
        """Days between the node's timestamp and ``now`` (the node must be dated)."""
        moment = self.times[position]
        assert moment is not None
        return max(0.0, (self.now - moment).total_seconds() / 86400)


def _node_terms(node: GraphNode) -> list[str]:
    ranked = sorted(node.keywords, key=lambda k: -k.score)
    terms = [k.term for k in ranked] or list(node.top_keywords)
    return terms[:NODE_TERMS]


def _term_weights(node: GraphNode) -> list[tuple[str, float]]:
    if node.keywords:
        return [(k.term, max(0.0, k.score)) for k in node.keywords[: NODE_TERMS * 2]]
    return [(term, _rank_score(rank)) for rank, term in enumerate(node.top_keywords)]


def _topics(graph: GraphDocument, cluster_of: list[str]) -> dict[str, _Topic]:
    """Topics by cluster id in natural order, with names, members and ranked terms."""
    names: dict[str, Counter[str]] = defaultdict(Counter)
    members: dict[str, list[int]] = defaultdict(list)
    for position, node in enumerate(graph.nodes):
        members[cluster_of[position]].append(position)
        if node.cluster_name.strip():
            names[cluster_of[position]][node.cluster_name.strip()] += 1
    topics = {}
    for cluster_id in sorted(members, key=_natural):
        info = graph.metadata.clusters.get(cluster_id)
        given = info.name.strip() if info else ""
        name = given or (names[cluster_id].most_common(1)[0][0] if names[cluster_id] else cluster_id)
        topics[cluster_id] = _Topic(id=cluster_id, name=name, members=members[cluster_id])
        topics[cluster_id].key_themes = list(info.key_themes) if info else []
    _rank_terms(graph, topics)
    return topics


def _rank_terms(graph: GraphDocument, topics: dict[str, _Topic]) -> None:
    """Each topic's terms by summed score; key themes, when not given, by distinctiveness."""
    weights: dict[str, dict[str, float]] = {}
    spread: Counter[str] = Counter()
    for topic in topics.values():
        totals: dict[str, float] = defaultdict(float)
        for position in topic.members:
            for term, score in _term_weights(graph.nodes[position]):
                totals[term] += score
        weights[topic.id] = totals
        spread.update(totals.keys())
    count = len(topics)
    for topic in topics.values():
        totals = weights[topic.id]
        topic.terms = [t for t, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:20]]
        if not topic.key_themes:
            distinct = {t: w * math.log(1 + count / spread[t]) for t, w in totals.items()}
            topic.key_themes = [t for t, _ in sorted(distinct.items(), key=lambda kv: (-kv[1], kv[0]))[:5]]


def _measure_edges(analysis: _Analysis, term_sets: list[frozenset[str]]) -> None:
    """Degrees, internal and external weights, and the links between topics, in one pass."""
    position_of = {node.id: position for position, node in enumerate(analysis.graph.nodes)}
    order = {topic_id: rank for rank, topic_id in enumerate(analysis.topics)}
    degree, cluster_of, topics, links = analysis.degree, analysis.cluster_of, analysis.topics, analysis.links
    for edge in analysis.graph.edges:
        s, t = position_of.get(edge.source), position_of.get(edge.target)
        if s is None or t is None or s == t:
            continue
        weight = max(0.0, edge.weight)
        degree[s] += weight
        degree[t] += weight
        a, b = cluster_of[s], cluster_of[t]
        if a == b:
            topics[a].internal_edges += 1
            topics[a].internal_weight += weight
            continue
        topics[a].external_weight += weight
        topics[b].external_weight += weight
        analysis.bridges[s].append((weight, t))
        analysis.bridges[t].append((weight, s))
        link = links.setdefault((a, b) if order[a] < order[b] else (b, a), _Link())
        link.edges += 1
        link.weight += weight
        link.shared.update(term_sets[s] & term_sets[t])
        link.strongest.append((weight, min(s, t), max(s, t)))


def _closest_topics(links: dict[tuple[str, str], _Link]) -> dict[str, str]:
    """Each linked topic's most strongly linked other topic."""
    best: dict[str, tuple[float, tuple[Any, ...], str]] = {}
    for (a, b), link in links.items():
        for one, other in ((a, b), (b, a)):
            rank = (-link.weight, _natural(other), other)
            if one not in best or rank < best[one]:
                best[one] = rank
    return {topic: rank[2] for topic, rank in best.items()}


def _settle_topic(analysis: _Analysis, topic: _Topic) -> None:
    """A topic's timeline, recency state and most connected members."""
    dated = [p for p in topic.members if analysis.times[p] is not None]
    topic.timeline = sorted(dated, key=lambda p: (analysis.times[p], p))
    topic.notable = sorted(
        topic.members,
        key=lambda p: (
            -analysis.degree[p],
            -analysis.graph.nodes[p].num_sections,
            analysis.graph.nodes[p].id,
        ),
    )
    if not dated:
        topic.state = "unknown"
        return
    newest, oldest = analysis.age_days(topic.timeline[-1]), analysis.age_days(topic.timeline[0])
    if oldest <= ACTIVE_DAYS:
        topic.state = "new"
    elif newest <= ACTIVE_DAYS:
        topic.state = "active"
    elif newest <= DORMANT_DAYS:
        topic.state = "cooling"
    else:
        topic.state = "dormant"


def _analyse(graph: GraphDocument, now: datetime) -> _Analysis:
    nodes = graph.nodes
    cluster_of = [node.cluster_id or UNCLUSTERED for node in nodes]
    terms = [_node_terms(node) for node in nodes]
    analysis = _Analysis(
        graph=graph,
        now=now,
        labels=[(node.title or "").strip() or node.orig_id for node in nodes],
        cluster_of=cluster_of,
        terms=terms,
        times=[_parse_time(node.timestamp) for node in nodes],
        questions=[question_types(node.title or "") for node in nodes],
        degree=[0.0] * len(nodes),
        bridges=[[] for _ in nodes],
        topics=_topics(graph, cluster_of),
        links={},
    )
    _measure_edges(analysis, [frozenset(t) for t in terms])
    analysis.closest = _closest_topics(analysis.links)
    for topic in analysis.topics.values():
        _settle_topic(analysis, topic)
    return analysis


# ---------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Limits:
    keywords: int
    notable: int
    patterns: int
    connections: int
    recommendations: int
    evidence: int


_DETAIL = {
    "brief": _Limits(keywords=3, notable=2, patterns=1, connections=3, recommendations=2, evidence=3),
    "standard": _Limits(keywords=5, notable=3, patterns=3, connections=10, recommendations=5, evidence=5),
    "detailed": _Limits(keywords=10, notable=5, patterns=5, connections=30, recommendations=8, evidence=8),
}


class _Writer:
    """Sentences from ``TEMPLATES`` in one language."""

    def __init__(self, language: str) -> None:
        code = (language or "").strip().lower().replace("_", "-").split("-")[0]
        self.table = TEMPLATES.get(code, TEMPLATES["en"])

    def say(self, key: str, n: int | None = None, **values: Any) -> str:
        """The template ``key`` (its ``_one`` form when ``n`` is 1) filled with ``values``."""
        template = self.table.get(f"{key}_one", self.table[key]) if n == 1 else self.table[key]
        return template.format(n=n, **values)

    def count(self, what: str, n: int) -> str:
        """A counted phrase: ``count.convs`` with 3 is "3 conversations"."""
        return self.say(f"count.{what}", n)

    def join(self, items: list[str]) -> str:
        """``a, b and c`` in this language."""
        if len(items) < 2:
            return "".join(items)
        return self.table["sep"].join(items[:-1]) + self.table["and"] + items[-1]

    def sentences(self, parts: list[str]) -> str:
        """Sentences run together as this language writes them."""
        return self.table["space"].join(parts)

    def span(self, first: str, last: str) -> str:
        """A period in prose: "2025-01 to 2026-10"."""
        key = "span" if first == last else "span.range"
        return self.say(key, first=first, last=last)

    def quote(self, text: str) -> str:
        """A name in quotation marks."""
        return self.table["quote"].format(text=text)

    def names(self, names: list[str]) -> str:
        """Quoted names, joined."""
        return self.join([self.quote(name) for name in names])

    def questions(self, kinds: list[str]) -> str:
        """Question types, translated and joined."""
        return self.join([self.table[f"q.{kind}"] for kind in kinds])


def _spread(items: list[int], limit: int) -> list[int]:
    """Up to ``limit`` items evenly spread over ``items`` (first and last included)."""
    if len(items) <= limit:
        return items
    if limit <= 1:
        return items[:limit]
    return [items[round(i * (len(items) - 1) / (limit - 1))] for i in range(limit)]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _closest(analysis: _Analysis, topic: _Topic) -> _Topic | None:
    other = analysis.closest.get(topic.id)
    return analysis.topics[other] if other is not None else None


def _question_summary(analysis: _Analysis, members: list[int], minimum: int = 1) -> list[str]:
    counts = Counter(kind for p in members for kind in analysis.questions[p])
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], QUESTION_TYPES.index(kv[0])))
    return [kind for kind, count in ranked if count >= minimum][:3]


def _insight(analysis: _Analysis, topic: _Topic, writer: _Writer) -> str:
    name, convs = writer.quote(topic.name), writer.count("convs", len(topic.members))
    themes = writer.join(topic.key_themes[:3])
    parts = [
        writer.say("cluster.intro", name=name, convs=convs, themes=themes)
        if themes
        else writer.say("cluster.intro_plain", name=name, convs=convs)
    ]
    if topic.timeline:
        last = analysis.times[topic.timeline[-1]]
        assert last is not None
        parts.append(writer.say(f"cluster.{topic.state}", month=_month(last)))
    kinds = _question_summary(analysis, topic.members)
    if kinds:
        parts.append(writer.say("cluster.questions", types=writer.questions(kinds[:2])))
    other = _closest(analysis, topic)
    if other is not None:
        parts.append(writer.say("cluster.link", other=writer.quote(other.name)))
    return writer.sentences(parts)


def _cluster_summaries(analysis: _Analysis, writer: _Writer, limits: _Limits) -> list[ClusterSummary]:
    return [
        ClusterSummary(
            cluster_id=topic.id,
            name=topic.name,
            size=len(topic.members),
            density=round(topic.density, 4),
            centrality=round(topic.centrality, 4),
            recency="active" if topic.state == "cooling" else topic.state,
            top_keywords=topic.terms[: limits.keywords],
            key_themes=topic.key_themes[: limits.keywords],
            common_question_types=_question_summary(analysis, topic.members),
            insight_text=_insight(analysis, topic, writer),
            notable_conversations=_unique(analysis.labels[p] for p in topic.notable)[: limits.notable],
        )
        for topic in analysis.topics.values()
    ]


def _ranked_topics(analysis: _Analysis) -> list[_Topic]:
    """Topics by size, then by how connected they are."""
    return sorted(
        analysis.topics.values(),
        key=lambda t: (-len(t.members), -(t.internal_weight + t.external_weight), _natural(t.id)),
    )


def _time_span(analysis: _Analysis) -> tuple[str, str, str] | None:
    """The first, last and busiest month of the history; ``None`` when nothing is dated."""
    months = Counter(_month(t) for t in analysis.times if t is not None)
    if not months:
        return None
    busiest = min(months.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    return min(months), max(months), busiest


def _style(analysis: _Analysis, writer: _Writer) -> str:
    groups = Counter(
        _SOURCE_GROUPS.get(node.source_type.strip().lower(), "file") for node in analysis.graph.nodes
    )
    main = min(groups.items(), key=lambda kv: (-kv[1], _SOURCE_ORDER.index(kv[0])))[0]
    share = round(100 * groups[main] / len(analysis.graph.nodes))
    source = writer.table[f"source.{main}"]
    minimum = max(1, math.ceil(0.05 * len(analysis.graph.nodes)))
    kinds = _question_summary(analysis, list(range(len(analysis.graph.nodes))), minimum)[:2]
    if not kinds:
        return writer.say("style", source=source, share=share)
    return writer.say("style.questions", source=source, share=share, types=writer.questions(kinds))


def _central(analysis: _Analysis) -> tuple[_Topic, _Topic] | None:
    """The topic with the most inter-cluster weight and its closest neighbour."""
    linked = [t for t in analysis.topics.values() if t.external_weight > 0]
    if not linked:
        return None
    topic = min(linked, key=lambda t: (-t.external_weight, _natural(t.id)))
    other = _closest(analysis, topic)
    return (topic, other) if other is not None else None


def _closing_sentence(analysis: _Analysis, writer: _Writer) -> list[str]:
    """What stands out: the topics gone quiet, else the most connected topic."""
    dormant = [t for t in _ranked_topics(analysis) if t.state == "dormant"]
    if dormant:
        count = len(dormant)
        topics = writer.count("topics", count)
        return [
            writer.say(
                "overview.dormant", count, count=count, topics=topics, name=writer.quote(dormant[0].name)
            )
        ]
    central = _central(analysis)
    if central is None:
        return []
    name, other = writer.quote(central[0].name), writer.quote(central[1].name)
    return [writer.say("overview.central", name=name, other=other)]


def _overview(analysis: _Analysis, writer: _Writer) -> Overview:
    n, k = len(analysis.graph.nodes), len(analysis.topics)
    interests = [t.name for t in _ranked_topics(analysis)[:3]]
    nodes, topics = writer.count("nodes", n), writer.count("topics", k)
    period = _time_span(analysis)
    if period is None:
        span = busiest = writer.table["unknown"]
        sentences = [writer.say("overview.intro_untimed", nodes=nodes, topics=topics)]
    else:
        first, last, busiest = period
        span = first if first == last else f"{first} ~ {last}"
        sentences = [writer.say("overview.intro", nodes=nodes, topics=topics, span=writer.span(first, last))]
    sentences.append(writer.say("overview.interests", len(interests), names=writer.names(interests)))
    if period is not None:
        sentences.append(writer.say("overview.peak", month=busiest))
    sentences.extend(_closing_sentence(analysis, writer))
    return Overview(
        total_source_nodes=n,
        time_span=span,
        primary_interests=interests,
        conversation_style=_style(analysis, writer),
        most_active_period=busiest,
        summary_text=writer.sentences(sentences),
    )


# Patterns ------------------------------------------------------------------------------------------


def _significance(high: bool, medium: bool) -> str:
    return "high" if high else "medium" if medium else "low"


def _pattern(kind: str, description: str, evidence: list[str], significance: str) -> Pattern:
    return Pattern(
        pattern_type=kind,
        description=description,
        evidence=_unique(evidence),
        significance=significance,
    )


def _months_of(analysis: _Analysis, positions: list[int]) -> dict[str, int]:
    """Each month with the first (dated, in time order) node of that month."""
    firsts: dict[str, int] = {}
    for p in positions:
        moment = analysis.times[p]
        if moment is not None:
            firsts.setdefault(_month(moment), p)
    return firsts


def _repetitions(analysis: _Analysis, writer: _Writer, limits: _Limits) -> Iterator[Pattern]:
    """Topics that recur over many months, then the keyword that recurs across most topics."""
    spans = {t.id: _months_of(analysis, t.timeline) for t in analysis.topics.values()}
    recurring = [t for t in analysis.topics.values() if len(spans[t.id]) >= REPEAT_MONTHS]
    recurring.sort(key=lambda t: (-len(spans[t.id]), -len(t.members), _natural(t.id)))
    for topic in recurring[: limits.patterns]:
        months = len(spans[topic.id])
        yield _pattern(
            "repetition",
            writer.say(
                "pattern.repetition", name=writer.quote(topic.name), months=writer.count("months", months)
            ),
            [analysis.labels[p] for p in _spread(list(spans[topic.id].values()), limits.evidence)],
            _significance(months >= 6, months >= 4),
        )
    if limits.patterns > 1:
        yield from _recurring_term(analysis, writer, limits)


def _recurring_term(analysis: _Analysis, writer: _Writer, limits: _Limits) -> Iterator[Pattern]:
    months: dict[str, set[str]] = defaultdict(set)
    topics: dict[str, set[str]] = defaultdict(set)
    nodes: dict[str, list[int]] = defaultdict(list)
    for p, moment in enumerate(analysis.times):
        for term in analysis.terms[p][:3]:
            if moment is not None:
                months[term].add(_month(moment))
            topics[term].add(analysis.cluster_of[p])
            nodes[term].append(p)
    candidates = [t for t in months if len(months[t]) >= REPEAT_MONTHS and len(topics[t]) >= 2]
    if not candidates:
        return
    term = min(candidates, key=lambda t: (-len(topics[t]), -len(months[t]), t))
    dated = sorted(
        (p for p in nodes[term] if analysis.times[p] is not None), key=lambda p: (analysis.times[p], p)
    )
    yield _pattern(
        "repetition",
        writer.say(
            "pattern.repetition_term",
            term=writer.quote(term),
            months=writer.count("months", len(months[term])),
            topics=writer.count("topics", len(topics[term])),
        ),
        [analysis.labels[p] for p in _spread(dated, limits.evidence)],
        _significance(len(topics[term]) >= 4, len(topics[term]) >= 3),
    )


def _ranked_terms(analysis: _Analysis, positions: list[int]) -> list[str]:
    totals: dict[str, float] = defaultdict(float)
    for p in positions:
        for term, score in _term_weights(analysis.graph.nodes[p]):
            totals[term] += score
    return [t for t, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))]


def _progressions(analysis: _Analysis, writer: _Writer, limits: _Limits) -> Iterator[Pattern]:
    """The shift of attention between topics, then topics whose own keywords moved over time."""
    yield from _shift(analysis, writer, limits)
    candidates = [
        t
        for t in analysis.topics.values()
        if len(t.timeline) >= 4 and len(_months_of(analysis, t.timeline)) >= 2
    ]
    candidates.sort(key=lambda t: (-len(t.timeline), _natural(t.id)))
    found = 0
    for topic in candidates:
        half = len(topic.timeline) // 2
        early_terms = _ranked_terms(analysis, topic.timeline[:half])
        late_terms = _ranked_terms(analysis, topic.timeline[half:])
        early = [t for t in early_terms[:5] if t not in late_terms[:5]][:2]
        late = [t for t in late_terms[:5] if t not in early_terms[:5]][:2]
        if not early or not late:
            continue
        months = len(_months_of(analysis, topic.timeline))
        yield _pattern(
            "progression",
            writer.say(
                "pattern.progression",
                name=writer.quote(topic.name),
                early=writer.join(early),
                late=writer.join(late),
            ),
            [analysis.labels[p] for p in _spread(topic.timeline, limits.evidence)],
            _significance(months >= 6 and len(topic.timeline) >= 8, len(topic.timeline) >= 5),
        )
        found += 1
        if found >= limits.patterns:
            return


def _shift(analysis: _Analysis, writer: _Writer, limits: _Limits) -> Iterator[Pattern]:
    dated = sorted(
        (p for p, t in enumerate(analysis.times) if t is not None), key=lambda p: (analysis.times[p], p)
    )
    if len(dated) < 6 or len(analysis.topics) < 2:
        return
    halves = dated[: len(dated) // 2], dated[len(dated) // 2 :]
    counts = [Counter(analysis.cluster_of[p] for p in half) for half in halves]
    early, late = (min(c.items(), key=lambda kv: (-kv[1], _natural(kv[0])))[0] for c in counts)
    if early == late or counts[0][early] <= 2 * counts[1][early] or counts[1][late] <= 2 * counts[0][late]:
        return
    evidence = [p for p in halves[0] if analysis.cluster_of[p] == early][:2]
    evidence += [p for p in halves[1] if analysis.cluster_of[p] == late][-2:]
    yield _pattern(
        "progression",
        writer.say(
            "pattern.shift",
            early=writer.quote(analysis.topics[early].name),
            late=writer.quote(analysis.topics[late].name),
        ),
        [analysis.labels[p] for p in evidence][: limits.evidence],
        "medium",
    )


def _gaps(analysis: _Analysis, writer: _Writer, limits: _Limits) -> Iterator[Pattern]:
    """Dormant topics, then topics that went silent for a long time and came back."""
    n = len(analysis.graph.nodes)
    dormant = sorted(
        (t for t in analysis.topics.values() if t.state == "dormant"),
        key=lambda t: (-len(t.members), _natural(t.id)),
    )
    for topic in dormant[: limits.patterns]:
        last = topic.timeline[-1]
        moment = analysis.times[last]
        assert moment is not None
        yield _pattern(
            "gap",
            writer.say(
                "pattern.gap",
                name=writer.quote(topic.name),
                days=writer.count("days", int(analysis.age_days(last))),
                month=_month(moment),
            ),
            [analysis.labels[p] for p in reversed(topic.timeline[-limits.evidence :])],
            _significance(len(topic.members) >= max(5, 0.1 * n), len(topic.members) >= 3),
        )
    yield from _resumed(analysis, writer, max(0, limits.patterns - len(dormant)))


def _longest_silence(analysis: _Analysis, topic: _Topic) -> tuple[float, int, int]:
    best = (0.0, -1, -1)
    for before, after in zip(topic.timeline, topic.timeline[1:], strict=False):
        days = analysis.age_days(before) - analysis.age_days(after)
        if days > best[0]:
            best = (days, before, after)
    return best


def _resumed(analysis: _Analysis, writer: _Writer, limit: int) -> Iterator[Pattern]:
    silences = []
    for topic in analysis.topics.values():
        if topic.state != "dormant" and len(topic.timeline) >= 2:
            days, before, after = _longest_silence(analysis, topic)
            if days >= RESUMED_GAP_DAYS:
                silences.append((days, topic, before, after))
    silences.sort(key=lambda s: (-s[0], _natural(s[1].id)))
    for days, topic, before, after in silences[:limit]:
        moment = analysis.times[after]
        assert moment is not None
        yield _pattern(
            "gap",
            writer.say(
                "pattern.gap_resumed",
                name=writer.quote(topic.name),
                days=writer.count("days", int(days)),
                month=_month(moment),
            ),
            [analysis.labels[before], analysis.labels[after]],
            _significance(False, days >= 2 * RESUMED_GAP_DAYS),
        )


def _bridges(analysis: _Analysis, writer: _Writer, limits: _Limits) -> Iterator[Pattern]:
    """Nodes whose edges reach into other clusters, the most far-reaching first."""
    reach = {
        p: {analysis.cluster_of[q] for _, q in links} for p, links in enumerate(analysis.bridges) if links
    }
    ranked = sorted(reach, key=lambda p: (-len(reach[p]), -sum(w for w, _ in analysis.bridges[p]), p))
    strong = [p for p in ranked if len(reach[p]) >= 2 or len(analysis.bridges[p]) >= 2] or ranked[:1]
    for p in strong[: limits.patterns]:
        clusters = sorted(reach[p] | {analysis.cluster_of[p]}, key=_natural)
        neighbours = sorted(analysis.bridges[p], key=lambda wq: (-wq[0], wq[1]))
        yield _pattern(
            "bridge",
            writer.say(
                "pattern.bridge",
                title=writer.quote(analysis.labels[p]),
                topics=writer.count("topics", len(clusters)),
                names=writer.names([analysis.topics[c].name for c in clusters[:4]]),
            ),
            [analysis.labels[p]] + [analysis.labels[q] for _, q in neighbours[: limits.evidence - 1]],
            _significance(len(reach[p]) >= 3, len(reach[p]) >= 2),
        )


def _patterns(analysis: _Analysis, writer: _Writer, limits: _Limits) -> list[Pattern]:
    return [
        *_repetitions(analysis, writer, limits),
        *_progressions(analysis, writer, limits),
        *_gaps(analysis, writer, limits),
        *_bridges(analysis, writer, limits),
    ]


# Connections ---------------------------------------------------------------------------------------


def _bridge_keywords(analysis: _Analysis, key: tuple[str, str], link: _Link) -> list[str]:
    shared = sorted(link.shared.items(), key=lambda kv: (-kv[1], kv[0]))
    if shared:
        return [term for term, _ in shared[:5]]
    other = set(analysis.topics[key[1]].terms)
    return [term for term in analysis.topics[key[0]].terms if term in other][:5]


def _ranked_links(analysis: _Analysis) -> list[tuple[tuple[str, str], _Link]]:
    return sorted(
        analysis.links.items(), key=lambda kv: (-kv[1].weight, _natural(kv[0][0]), _natural(kv[0][1]))
    )


def _connections(analysis: _Analysis, writer: _Writer, limits: _Limits) -> list[Connection]:
    ranked = _ranked_links(analysis)[: limits.connections]
    strongest = ranked[0][1].weight if ranked and ranked[0][1].weight > 0 else 1.0
    connections = []
    for key, link in ranked:
        keywords = _bridge_keywords(analysis, key, link)
        a, b = writer.quote(analysis.topics[key[0]].name), writer.quote(analysis.topics[key[1]].name)
        links = writer.count("links", link.edges)
        description = (
            writer.say("connection", a=a, b=b, links=links, keywords=writer.join(keywords[:3]))
            if keywords
            else writer.say("connection_plain", a=a, b=b, links=links)
        )
        connections.append(
            Connection(
                source_cluster=key[0],
                target_cluster=key[1],
                connection_strength=round(link.weight / strongest, 4),
                bridge_keywords=keywords,
                description=description,
            )
        )
    return connections


# Recommendations -----------------------------------------------------------------------------------


def _recommendation(
    kind: str, title: str, description: str, nodes: list[str], priority: str
) -> Recommendation:
    return Recommendation(
        type=kind,
        title=title,
        description=description,
        related_nodes=_unique(nodes),
        priority=priority,
    )


def _consolidate(analysis: _Analysis, writer: _Writer, limits: _Limits) -> Iterator[Recommendation]:
    n = len(analysis.graph.nodes)
    candidates = [t for t in analysis.topics.values() if len(t.members) >= 3]
    candidates.sort(key=lambda t: (-len(t.members) * (1 + t.density), _natural(t.id)))
    for topic in candidates[:2]:
        name = writer.quote(topic.name)
        yield _recommendation(
            "consolidate",
            writer.say("rec.consolidate.title", name=name),
            writer.say("rec.consolidate", name=name, convs=writer.count("convs", len(topic.members))),
            [analysis.orig(p) for p in topic.notable[: limits.evidence]],
            "high" if len(topic.members) >= max(5, 0.2 * n) else "medium",
        )


def _review(analysis: _Analysis, writer: _Writer, limits: _Limits) -> Iterator[Recommendation]:
    dormant = [t for t in analysis.topics.values() if t.state == "dormant"]
    dormant.sort(key=lambda t: (-len(t.members), _natural(t.id)))
    for topic in dormant[:2]:
        moment = analysis.times[topic.timeline[-1]]
        assert moment is not None
        name = writer.quote(topic.name)
        yield _recommendation(
            "review",
            writer.say("rec.review.title", name=name),
            writer.say("rec.review", name=name, month=_month(moment)),
            [analysis.orig(p) for p in topic.notable[: limits.evidence]],
            "high" if len(topic.members) >= 5 else "medium",
        )


def _explore(analysis: _Analysis, writer: _Writer, limits: _Limits) -> Iterator[Recommendation]:
    topics = list(analysis.topics.values())
    sizes = sorted(len(t.members) for t in topics)
    median = sizes[len(sizes) // 2]
    fresh = [t for t in topics if t.state in ("new", "active") and len(t.members) <= median]
    fresh.sort(
        key=lambda t: (t.state != "new", len(t.members), analysis.age_days(t.timeline[-1]), _natural(t.id))
    )
    if not fresh:
        smaller = [t for t in topics if len(t.members) < sizes[-1]]
        fresh = sorted(smaller, key=lambda t: (len(t.members), _natural(t.id)))[:1]
    for topic in fresh[:2]:
        name = writer.quote(topic.name)
        recent = list(reversed(topic.timeline)) or topic.notable
        yield _recommendation(
            "explore",
            writer.say("rec.explore.title", name=name),
            writer.say(
                "rec.explore",
                name=name,
                convs=writer.count("convs", len(topic.members)),
                themes=writer.join(topic.key_themes[:3] or [topic.name]),
            ),
            [analysis.orig(p) for p in recent[: limits.evidence]],
            "medium" if topic.state == "new" else "low",
        )


def _unlinked_pairs(analysis: _Analysis) -> list[tuple[int, str, str, list[str]]]:
    """Topic pairs without edges between them that share top terms: (shared count, a, b, terms)."""
    holders: dict[str, list[str]] = defaultdict(list)
    for topic in analysis.topics.values():
        for term in topic.terms[:10]:
            holders[term].append(topic.id)
    shared: dict[tuple[str, str], list[str]] = defaultdict(list)
    for term in sorted(holders):
        if 2 <= len(holders[term]) <= 5:
            for a, b in combinations(holders[term], 2):
                if (a, b) not in analysis.links:
                    shared[(a, b)].append(term)
    pairs = [(len(terms), a, b, terms) for (a, b), terms in shared.items()]
    return sorted(pairs, key=lambda x: (-x[0], _natural(x[1]), _natural(x[2])))


def _members_with(analysis: _Analysis, topic: _Topic, terms: list[str], limit: int) -> list[int]:
    wanted = set(terms)
    holding = [p for p in topic.notable if wanted & set(analysis.terms[p])]
    return (holding or topic.notable)[:limit]


def _connect(analysis: _Analysis, writer: _Writer, limits: _Limits) -> Iterator[Recommendation]:
    ranked = _ranked_links(analysis)
    if ranked:
        key, link = ranked[0]
        keywords = _bridge_keywords(analysis, key, link)[:3]
        strongest = sorted(link.strongest, key=lambda e: (-e[0], e[1], e[2]))
        nodes = [analysis.orig(p) for _, s, t in strongest[: limits.evidence] for p in (s, t)]
        yield _connect_one(
            analysis, writer, key, keywords, link.edges, nodes[: limits.evidence], link.edges >= 3
        )
    for count, a, b, terms in _unlinked_pairs(analysis)[:1]:
        pair = [analysis.topics[a], analysis.topics[b]]
        half = max(1, limits.evidence // 2)
        nodes = [analysis.orig(p) for topic in pair for p in _members_with(analysis, topic, terms, half)]
        yield _connect_one(analysis, writer, (a, b), terms[:3], 0, nodes, count >= 2)


def _connect_one(
    analysis: _Analysis,
    writer: _Writer,
    key: tuple[str, str],
    keywords: list[str],
    edges: int,
    nodes: list[str],
    strong: bool,
) -> Recommendation:
    a, b = writer.quote(analysis.topics[key[0]].name), writer.quote(analysis.topics[key[1]].name)
    description = (
        writer.say("rec.connect", keywords=writer.join(keywords))
        if keywords
        else writer.say("rec.connect_plain", links=writer.count("links", edges))
    )
    return _recommendation(
        "connect",
        writer.say("rec.connect.title", a=a, b=b),
        description,
        nodes,
        "medium" if strong else "low",
    )


def _recommendations(analysis: _Analysis, writer: _Writer, limits: _Limits) -> list[Recommendation]:
    """One of each type first (by priority), then the second of each, up to the limit."""
    kinds = [list(make(analysis, writer, limits)) for make in (_consolidate, _review, _explore, _connect)]
    chosen: list[Recommendation] = []
    for round_ in range(max((len(k) for k in kinds), default=0)):
        batch = [k[round_] for k in kinds if len(k) > round_]
        chosen.extend(sorted(batch, key=lambda r: _PRIORITY[r.priority]))
    return chosen[: limits.recommendations]


# ---------------------------------------------------------------------------------------------------
# The summary
# ---------------------------------------------------------------------------------------------------


def summarize_graph(
    graph: GraphDocument,
    language: str = "ko",
    *,
    now: datetime | None = None,
    detail_level: str = "standard",
) -> SummaryDocument:
    """The ``summary.json`` document of ``graph``, its prose in ``language`` (``en`` when unknown).

    ``now`` (default: the current time) dates recency; ``detail_level`` (``brief``, ``standard``,
    ``detailed``) sets how many keywords, patterns, connections and recommendations are reported.
    The same graph and ``now`` give the same document.
    """
    if not graph.nodes:
        raise ValueError("the graph has no nodes")
    moment = now or datetime.now(UTC)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    level = detail_level if detail_level in _LEVELS else "standard"
    limits = _DETAIL[level]
    writer = _Writer(language)
    analysis = _analyse(graph, moment)
    return SummaryDocument(
        overview=_overview(analysis, writer),
        clusters=_cluster_summaries(analysis, writer, limits),
        patterns=_patterns(analysis, writer, limits),
        connections=_connections(analysis, writer, limits),
        recommendations=_recommendations(analysis, writer, limits),
        generated_at=moment.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        detail_level=level,
    )
