"""Word (.docx) files through python-docx; the archive is checked (archive.py) before it opens."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from pipelines.files.archive import open_zip
from pipelines.files.document import FileDocument, cap_sections, clean_title, core_times
from pipelines.files.limits import FileLimits, UnreadableFile

#: Errors python-docx raises on a well-formed zip that is not a valid document.
LIBRARY_ERRORS = (KeyError, ValueError, TypeError, AttributeError, IndexError, LookupError)


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
        created, modified = core_times(document.core_properties)
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
