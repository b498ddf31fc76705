"""Why an item went where it did, and the name of a cluster opened for it (offline wording)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from models.graph import Keyword
from models.source import SourceItem
from pipelines.naming import display_term, label_clusters

#: Called with (item title, cluster name, cluster themes) for a better reasoning sentence.
Explainer = Callable[[str, str, list[str]], str | None]
#: Called with (themes, titles) for a better (name, description) of a new cluster.
Namer = Callable[[list[str], list[str]], tuple[str, str] | None]


_REASONS = {
    "ko": {
        "existing": "가장 비슷한 기존 노드 {neighbours}개 중 {voters}개가 “{name}” 주제에 속하며, "
        "주제의 중심과의 유사도는 {score}입니다. 겹치는 키워드: {terms}.",
        "profile": "“{name}” 주제의 이름·설명·키워드와 가장 가깝습니다(유사도 {score}). 겹치는 키워드: {terms}.",
        "new": "기존 주제 중 충분히 가까운 것이 없어(가장 가까운 “{closest}”, 유사도 {score}) "
        "“{name}” 주제를 새로 만들었습니다.",
        "first": "비교할 기존 주제가 없어 “{name}” 주제를 새로 만들었습니다.",
        "none": "없음",
    },
    "en": {
        "existing": "{voters} of the {neighbours} most similar existing nodes belong to “{name}”, and the "
        "item's similarity with the topic's centre is {score}. Shared keywords: {terms}.",
        "profile": "The item is closest to the name, description and themes of “{name}” (similarity "
        "{score}). Shared keywords: {terms}.",
        "new": "No existing topic is close enough (closest: “{closest}”, similarity {score}), so a new "
        "topic “{name}” was opened.",
        "first": "There is no existing topic to compare with, so a new topic “{name}” was opened.",
        "none": "none",
    },
}


def reasoning(language: str, kind: str, **values: Any) -> str:
    """The offline reasoning sentence for an assignment, in ``language`` (English when unknown)."""
    table = _REASONS.get(language, _REASONS["en"])
    if kind in ("existing", "profile") and not values.get("terms"):
        values["terms"] = table["none"]
    return table[kind].format(**values)


def shared_terms(keywords: list[Keyword], themes: list[str], language: str) -> str:
    """The item's keywords that also appear in a cluster's themes or name."""
    wanted = {t.lower() for t in themes}
    shared = [display_term(k.term, language) for k in keywords if k.term.lower() in wanted]
    shared += [
        k.term for k in keywords if display_term(k.term, "en").lower() in wanted and k.term not in shared
    ]
    return ", ".join(dict.fromkeys(shared[:4]))


def new_cluster_label(
    item: SourceItem, keywords: list[Keyword], language: str, namer: Namer | None
) -> tuple[str, str, list[str]]:
    """Name, description and themes of a cluster opened for ``item`` (the naming.py wording)."""
    label = label_clusters(np.zeros(1, dtype=int), [keywords], {0: item.title or item.orig_id}, language)[0]
    name, description = label.name, label.description
    if label.key_themes == []:
        name = item.title or item.orig_id
    if namer is not None:
        better = namer(label.key_themes, [item.title or item.orig_id])
        if better is not None:
            name, description = better
    return name, description, label.key_themes
