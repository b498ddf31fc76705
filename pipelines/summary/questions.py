"""The question types a conversation title suggests (how-to, why, comparison...), from its wording."""

from __future__ import annotations

import re

#: The question types, in the order they are reported on ties.
QUESTION_TYPES = ("how-to", "why", "comparison", "recommendation", "troubleshooting", "definition")


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


def question_types(title: str) -> list[str]:
    """The question types a title's wording suggests (``how-to``, ``why``, ``comparison``...)."""
    lowered = title.lower()
    return [
        kind
        for kind in QUESTION_TYPES
        if any(cue in lowered for cue in _QUESTION_CUES[kind][0]) or _QUESTION_WORDS[kind].search(lowered)
    ]
