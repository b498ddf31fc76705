"""PDF files through pypdf: one section per page with text."""

from __future__ import annotations

import io
import logging

from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, PdfReadError, PyPdfError
from pypdf.generic import DictionaryObject

from pipelines.files.document import FileDocument, cap_sections, clean_title, epoch
from pipelines.files.limits import FileLimits, UnreadableFile

PDF_MAGIC = b"%PDF-"


def read_pdf(data: bytes, limits: FileLimits) -> FileDocument:
    """The pages of a PDF; encrypted, corrupt, too long or text-less files raise ``UnreadableFile``."""
    if PDF_MAGIC not in data[:1024]:
        raise UnreadableFile("not a PDF file (no %PDF header)")
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # a malformed file warns on every object
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):  # an owner password alone opens for all
            raise UnreadableFile("encrypted PDF: the file is password-protected")
        tree = reader.root_object["/Pages"]  # its declared count, read before the tree is walked
        declared = tree["/Count"] if isinstance(tree, DictionaryObject) and "/Count" in tree else None
        if isinstance(declared, int) and declared > limits.max_pages:
            raise UnreadableFile(f"{declared} pages, more than the limit of {limits.max_pages}")
        count = len(reader.pages)  # the walk itself, in case the declared count lies
        if count > limits.max_pages:
            raise UnreadableFile(f"{count} pages, more than the limit of {limits.max_pages}")
        pages: list[str] = []
        total = 0
        for page in reader.pages:
            text = page.extract_text() or ""
            pages.append(text)
            total += len(text)
            if total > limits.max_chars:
                break
        metadata = reader.metadata
    except UnreadableFile:
        raise
    except FileNotDecryptedError:
        raise UnreadableFile("encrypted PDF: the file is password-protected") from None
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
        raise UnreadableFile(f"corrupt PDF: {type(error).__name__}: {error}"[:300]) from None
    sections = cap_sections(pages, limits.max_chars)
    if not sections:
        raise UnreadableFile(f"no text layer in {count} page(s): a scanned or image-only PDF")
    document = FileDocument(kind="pdf", section_role="page", sections=sections)
    if metadata is not None:
        document.title = clean_title(metadata.title)
        try:
            document.create_time = epoch(metadata.creation_date)
            document.update_time = epoch(metadata.modification_date)
        except (ValueError, TypeError):  # a malformed date string
            pass
    return document
