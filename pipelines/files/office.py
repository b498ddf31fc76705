"""Word (.docx) and PowerPoint (.pptx) files through python-docx and python-pptx.

The archive is checked (archive.py) before either library opens it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import docx
import pptx
from docx.table import Table
from docx.text.paragraph import Paragraph
from pptx.enum.shapes import MSO_SHAPE_TYPE

from pipelines.files.archive import open_zip
from pipelines.files.document import FileDocument, cap_sections, clean_title, epoch
from pipelines.files.limits import FileLimits, UnreadableFile

#: Errors the libraries raise on a well-formed zip that is not a valid document.
LIBRARY_ERRORS = (KeyError, ValueError, TypeError, AttributeError, IndexError, LookupError)


def _core_times(properties: Any) -> tuple[float | None, float | None]:
    return epoch(properties.created), epoch(properties.modified)


def _docx_blocks(document: Any) -> Iterator[tuple[bool, str]]:
    """(is a heading, text) of every paragraph and table, in document order.

    A paragraph's style is looked up in a table made once: ``Paragraph.style`` scans every style of
    the document on each call (13 s for 2,000 paragraphs).
    """
    headings = {
        style.style_id
        for style in document.styles
        if (style.name or "").lower().startswith(("heading", "title"))
    }
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            yield block._p.style in headings, block.text
        elif isinstance(block, Table):
            rows = [" | ".join(cell.text.strip() for cell in row.cells) for row in block.rows]
            yield False, "\n".join(r for r in rows if r.strip(" |"))


def read_docx(data: bytes, limits: FileLimits) -> FileDocument:
    """A Word document: a section per heading and what follows it, else one per paragraph."""
    open_zip(data, "docx", limits)
    try:
        document = docx.Document(io.BytesIO(data))
        blocks = [(heading, text.strip()) for heading, text in _docx_blocks(document)]
        title = clean_title(document.core_properties.title)
        created, modified = _core_times(document.core_properties)
    except LIBRARY_ERRORS as error:
        raise UnreadableFile(f"not a readable Word document: {type(error).__name__}: {error}"[:300]) from None
    blocks = [(heading, text) for heading, text in blocks if text]
    sections: list[str] = []
    if any(heading for heading, _ in blocks):
        for heading, text in blocks:
            if heading or not sections:
                sections.append(text)
            else:
                sections[-1] += "\n" + text
    else:
        sections = [text for _, text in blocks]
    sections = cap_sections(sections, limits.max_chars)
    if not sections:
        raise UnreadableFile("the Word document has no text")
    return FileDocument(
        kind="docx",
        section_role="section",
        title=title,
        create_time=created,
        update_time=modified,
        sections=sections,
    )


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
        created, modified = _core_times(deck.core_properties)
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
