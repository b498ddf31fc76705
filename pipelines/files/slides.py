"""PowerPoint (.pptx) files through python-pptx; the archive is checked (archive.py) before it opens."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pptx
from pptx.enum.shapes import MSO_SHAPE_TYPE

from pipelines.files.archive import open_zip
from pipelines.files.document import FileDocument, cap_sections, clean_title, core_times
from pipelines.files.limits import FileLimits, UnreadableFile

#: Errors python-pptx raises on a well-formed zip that is not a valid deck.
LIBRARY_ERRORS = (KeyError, ValueError, TypeError, AttributeError, IndexError, LookupError)


def _shape_texts(shapes: Any) -> Iterator[str]:
    for shape in shapes:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _shape_texts(shape.shapes)
        if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            yield shape.text_frame.text
        if getattr(shape, "has_table", False) and shape.has_table:
            for row in shape.table.rows:
                yield " | ".join(cell.text.strip() for cell in row.cells)


def read_pptx(data: bytes, limits: FileLimits) -> FileDocument:
    """A PowerPoint deck: one section per slide (its shapes' text and its notes)."""
    open_zip(data, "pptx", limits)
    try:
        deck = pptx.Presentation(io.BytesIO(data))
        count = len(deck.slides)
        if count > limits.max_pages:
            raise UnreadableFile(f"{count} slides, more than the limit of {limits.max_pages}")
        slides: list[str] = []
        for slide in deck.slides:
            texts = [t.strip() for t in _shape_texts(slide.shapes)]
            if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
                texts.append(slide.notes_slide.notes_text_frame.text.strip())
            slides.append("\n".join(t for t in texts if t))
        title = clean_title(deck.core_properties.title)
        created, modified = core_times(deck.core_properties)
    except UnreadableFile:
        raise
    except LIBRARY_ERRORS as error:
        raise UnreadableFile(
            f"not a readable PowerPoint deck: {type(error).__name__}: {error}"[:300]
        ) from None
    sections = cap_sections(slides, limits.max_chars)
    if not sections:
        raise UnreadableFile(f"no text on any of {count} slide(s)")
    return FileDocument(
        kind="pptx",
        section_role="slide",
        title=title,
        create_time=created,
        update_time=modified,
        sections=sections,
    )
