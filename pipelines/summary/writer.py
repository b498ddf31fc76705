"""Sentences from the templates in one language, and how much each detail level reports."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pipelines.summary.templates import TEMPLATES

LEVELS = ("brief", "standard", "detailed")


@dataclass(frozen=True, slots=True)
class Limits:
    """How many items of each kind one detail level reports."""

    keywords: int
    notable: int
    patterns: int
    connections: int
    recommendations: int
    evidence: int


DETAIL = {
    "brief": Limits(keywords=3, notable=2, patterns=1, connections=3, recommendations=2, evidence=3),
    "standard": Limits(keywords=5, notable=3, patterns=3, connections=10, recommendations=5, evidence=5),
    "detailed": Limits(keywords=10, notable=5, patterns=5, connections=30, recommendations=8, evidence=8),
}


class Writer:
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


def spread(items: list[int], limit: int) -> list[int]:
    """Up to ``limit`` items evenly spread over ``items`` (first and last included)."""
    if len(items) <= limit:
        return items
    if limit <= 1:
        return items[:limit]
    return [items[round(i * (len(items) - 1) / (limit - 1))] for i in range(limit)]


def unique(items: Iterable[str]) -> list[str]:
    """``items`` without repeats, in first-seen order."""
    return list(dict.fromkeys(items))
