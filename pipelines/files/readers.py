"""The reader for each kind of file, chosen by the file name's suffix."""

from __future__ import annotations

import posixpath
from collections.abc import Callable

from pipelines.files.document import FileDocument
from pipelines.files.limits import FileLimits, UnreadableFile, size_text

Reader = Callable[[bytes, FileLimits], FileDocument]

#: Suffixes read by a reader here (``.md`` and ``.txt`` are plain text, read by ingest itself).
DOCUMENT_SUFFIXES = (".pdf", ".docx", ".pptx", ".hwpx", ".hwp")


def reader_for(name: str) -> Reader:
    """The reader of ``name``'s kind; ``UnreadableFile`` for a kind no reader takes."""
    suffix = posixpath.splitext(name.lower())[1]
    if suffix == ".pdf":
        from pipelines.files.pdf import read_pdf

        return read_pdf
    if suffix == ".docx":
        from pipelines.files.word import read_docx

        return read_docx
    if suffix == ".pptx":
        from pipelines.files.slides import read_pptx

        return read_pptx
    if suffix in (".hwpx", ".hwp"):
        from pipelines.files.hangul import read_hwp, read_hwpx

        return read_hwpx if suffix == ".hwpx" else read_hwp
    raise UnreadableFile(f"unsupported file type: {posixpath.basename(name)}")


def read_document(name: str, data: bytes, limits: FileLimits) -> FileDocument:
    """Read one file in this process; any failure of a library is the file's fault, reported."""
    reader = reader_for(name)  # imports only the libraries this kind needs
    if not data:
        raise UnreadableFile("empty file")
    try:
        return reader(data, limits)
    except UnreadableFile:
        raise
    except MemoryError:
        raise UnreadableFile(f"needs more than {size_text(limits.memory_bytes)} to read") from None
    except RecursionError:
        raise UnreadableFile("nested too deeply to read") from None
    except Exception as error:  # a library's own error on a malformed file
        raise UnreadableFile(f"corrupt file: {type(error).__name__}: {error}"[:300]) from None
