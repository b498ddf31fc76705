"""Zip-based files (DOCX, PPTX, HWPX) checked before any library opens them.

A zip bomb is refused from the central directory alone (declared sizes and ratios; Python's zipfile
never inflates a member past its declared size), and every XML member is streamed once through
defusedxml with DTDs forbidden, so no entity can expand later in lxml or ElementTree.
"""

from __future__ import annotations

import io
import zipfile
from xml.sax import SAXException
from xml.sax.handler import ContentHandler

import defusedxml.sax
from defusedxml import DefusedXmlException

from pipelines.files.limits import FileLimits, UnreadableFile, size_text

ZIP_MAGIC = b"PK\x03\x04"
XML_SUFFIXES = (".xml", ".rels", ".hpf")


def open_zip(data: bytes, kind: str, limits: FileLimits) -> zipfile.ZipFile:
    """The archive of a ``kind`` file, once its sizes and XML are known to be safe."""
    if not data.startswith(ZIP_MAGIC):
        raise UnreadableFile(f"not a {kind.upper()} file: a .{kind} is a zip archive and this is not one")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as error:
        raise UnreadableFile(f"corrupt {kind.upper()} archive: {error}") from None
    check_sizes(members, limits)
    check_xml(archive, members)
    return archive


def check_sizes(members: list[zipfile.ZipInfo], limits: FileLimits) -> None:
    """Refuse an archive that expands past the limit, or a member with a bomb's ratio."""
    total = 0
    for member in members:
        if member.flag_bits & 0x1:
            raise UnreadableFile("encrypted archive member: the file is password-protected")
        total += member.file_size
        if total > limits.max_expanded_bytes:
            raise UnreadableFile(
                f"expands to more than {size_text(limits.max_expanded_bytes)} (limit); a zip bomb or too large"
            )
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > limits.ratio_floor_bytes and ratio > limits.max_ratio:
            raise UnreadableFile(
                f"member {member.filename!r} expands {ratio:.0f} times (limit {limits.max_ratio}): a zip bomb"
            )


def check_xml(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo]) -> None:
    """Stream every XML member through defusedxml: DTDs, entities and external references refused."""
    for member in members:
        if not member.filename.lower().endswith(XML_SUFFIXES):
            continue
        try:
            with archive.open(member) as stream:
                defusedxml.sax.parse(stream, ContentHandler(), forbid_dtd=True)
        except DefusedXmlException as error:
            raise UnreadableFile(f"hostile XML in {member.filename!r}: {type(error).__name__}") from None
        except (SAXException, zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
            raise UnreadableFile(f"corrupt XML in {member.filename!r}: {error}"[:300]) from None


def read_member(archive: zipfile.ZipFile, name: str) -> bytes | None:
    """One member's bytes, or ``None`` if the archive has no such member."""
    try:
        return archive.read(name)
    except KeyError:
        return None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise UnreadableFile(f"corrupt archive member {name!r}: {error}"[:300]) from None
