"""Per-file limits and the error a file that breaks one (or cannot be read) raises."""

from __future__ import annotations

from dataclasses import dataclass

MB = 1024 * 1024


class UnreadableFile(ValueError):
    """A file that is corrupt, encrypted, hostile, too large, has no text, or is of an unread kind."""


@dataclass(frozen=True, slots=True)
class FileLimits:
    """How much one file may cost: expanded bytes, pages, seconds and memory of its reader."""

    #: The most bytes a zip-based file (DOCX, PPTX, HWPX) may expand to, all members together.
    max_expanded_bytes: int = 128 * MB
    #: The most pages (PDF) or slides (PPTX) a file may have.
    max_pages: int = 2000
    #: Wall-clock seconds the reader may take, start of its process included.
    timeout_seconds: float = 60.0
    #: Address space of the reader's process.
    memory_bytes: int = 1024 * MB
    #: A zip member larger than ``ratio_floor_bytes`` may expand at most this many times its size.
    max_ratio: int = 200
    ratio_floor_bytes: int = 1 * MB
    #: Characters kept of a file's text; the rest is cut (a graph node needs no more).
    max_chars: int = 2_000_000
    #: ``time.monotonic()`` by which every file of the task must be read (``None``: no task budget);
    #: later files are refused, so that many slow files cannot use up the task's own time limit.
    deadline: float | None = None


def size_text(size: int) -> str:
    """``size`` bytes for a reason: "128 MB", "64 KB"."""
    return f"{size // MB} MB" if size >= MB else f"{size // 1024} KB"
