"""Loose values of a stored graph read leniently: fields, numbers, keywords, times and sort keys."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

#: Where a node has no cluster.
UNCLUSTERED = "unclustered"

_DIGITS = re.compile(r"(\d+)")


def first_of(mapping: dict[str, Any], *keys: str) -> Any:
    """The first value under ``keys`` that is neither missing, null nor an empty string."""
    for key in keys:
        value = mapping.get(key)
        if value is not None and value != "":
            return value
    return None


def as_list(value: Any) -> list[Any]:
    """``value`` when it is a list, else an empty list."""
    return value if isinstance(value, list) else []


def as_text(value: Any) -> str:
    """``value`` stripped when it is a string, else an empty string."""
    return value.strip() if isinstance(value, str) else ""


def as_int(value: Any) -> int | None:
    """``value`` as an integer when it is one (also ``3.0`` and ``"3"``), else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def as_float(value: Any, default: float) -> float:
    """``value`` as a finite float, else ``default``."""
    if isinstance(value, bool) or value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def as_key(value: Any) -> str | None:
    """A node reference as a lookup key: ``3``, ``3.0`` and ``"3"`` are the same node."""
    if value is None or isinstance(value, dict | list):
        return None
    number = as_int(value)
    return str(number) if number is not None else str(value)


def rank_score(rank: int) -> float:
    """The score given to the keyword at ``rank`` when none is stored: 1, 1/2, 1/3..."""
    return round(1.0 / (rank + 1), 4)


def _keyword(item: Any, rank: int) -> tuple[str, float] | None:
    term, score = "", rank_score(rank)
    if isinstance(item, str):
        term = item.strip()
    elif isinstance(item, list | tuple) and item and isinstance(item[0], str):
        term = item[0].strip()
        score = as_float(item[1], score) if len(item) > 1 else score
    elif isinstance(item, dict):
        term = as_text(first_of(item, "term", "keyword", "word", "text", "name"))
        score = as_float(first_of(item, "score", "weight", "value"), score)
    return (term, score) if term else None


def as_keywords(value: Any) -> list[tuple[str, float]]:
    """Keywords given as ``[{term, score}]``, plain strings, pairs or one comma-separated string."""
    if isinstance(value, str):
        value = value.split(",")
    seen: set[str] = set()
    keywords = []
    for rank, item in enumerate(as_list(value)):
        keyword = _keyword(item, rank)
        if keyword is not None and keyword[0] not in seen:
            seen.add(keyword[0])
            keywords.append(keyword)
    return keywords


def as_strings(value: Any) -> list[str]:
    """The terms of a keyword list given in any of the shapes ``as_keywords`` reads."""
    return [term for term, _ in as_keywords(value)]


def top_terms(keyword_lists: Iterable[list[tuple[str, float]]], limit: int = 5) -> list[str]:
    """The ``limit`` terms with the highest summed score over ``keyword_lists``."""
    totals: dict[str, float] = defaultdict(float)
    for keywords in keyword_lists:
        for term, score in keywords:
            totals[term] += score
    return [term for term, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


def most_common(values: Iterable[str]) -> str:
    """The most common non-empty value, or an empty string."""
    counts = Counter(value for value in values if value)
    return counts.most_common(1)[0][0] if counts else ""


def natural(text: str) -> tuple[Any, ...]:
    """Sort key that puts ``cluster_2`` before ``cluster_10``."""
    return tuple(int(part) if i % 2 else part for i, part in enumerate(_DIGITS.split(text)))


def parse_time(value: str | None) -> datetime | None:
    """An ISO-8601 string as an aware UTC datetime; ``None`` when absent or unreadable."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def month_of(moment: datetime) -> str:
    """The month of ``moment`` as ``YYYY-MM``."""
    return f"{moment.year:04d}-{moment.month:02d}"
