"""What a reader makes of a file: its metadata title, timestamps and text by sections."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(slots=True)
class FileDocument:
    """The text of one file: ``sections`` are its pages, slides or paragraphs, in order."""

    kind: str  # "pdf", "docx", "pptx", "hwpx"
    section_role: str  # "page", "slide" or "section"
    title: str | None = None
    create_time: float | None = None
    update_time: float | None = None
    sections: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the child process sends it to the worker)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileDocument:
        """The document a child process sent."""
        return cls(**data)


def epoch(value: datetime | None) -> float | None:
    """A metadata datetime as epoch seconds (naive datetimes taken as UTC)."""
    if value is None:
        return None
    try:
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    except (OverflowError, ValueError, OSError):
        return None


#: Titles that tools write when the author gave none.
PLACEHOLDER_TITLES = {"untitled", "unknown", "no title", "title", "제목 없음", "powerpoint presentation"}


def core_times(properties: Any) -> tuple[float | None, float | None]:
    """Created and modified times of an Office document's core properties."""
    return epoch(properties.created), epoch(properties.modified)


def clean_title(value: object) -> str | None:
    """A metadata title, or ``None`` if empty, not text or a tool's placeholder."""
    if not isinstance(value, str):
        return None
    title = " ".join(value.split())[:300]
    return None if title.lower() in PLACEHOLDER_TITLES else title or None


def cap_sections(sections: list[str], max_chars: int) -> list[str]:
    """Non-empty sections, stripped, cut once their text passes ``max_chars`` characters."""
    kept: list[str] = []
    total = 0
    for section in sections:
        text = section.strip()
        if not text:
            continue
        if total + len(text) > max_chars:
            kept.append(text[: max_chars - total])
            break
        kept.append(text)
        total += len(text)
    return [s for s in kept if s]
