"""Hangul word-processor files: HWPX (zip + OWPML XML) with the standard library and defusedxml.

HWP 5 (the older binary, an OLE compound file) is refused with a reason: the one established reader,
pyhwp, is AGPL-licensed and unreleased since 2020; the newer pure-Python readers on PyPI
(hwp-hwpx-parser, extract-hwp, gethwp) each have one or two releases by a single author and no
record yet; no library here can write a real HWP 5 file to test one with; and this worker writes no
binary parser by hand.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from pipelines.files.archive import ZIP_MAGIC, open_zip, read_member
from pipelines.files.document import FileDocument, cap_sections, clean_title, epoch
from pipelines.files.limits import FileLimits, UnreadableFile

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
HWPX_MIMETYPE = b"application/hwp+zip"
SECTION_NAME = re.compile(r"^Contents/section(\d+)\.xml$", re.IGNORECASE)


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _parse(data: bytes, name: str) -> Element:
    try:
        root: Element = SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as error:
        raise UnreadableFile(f"hostile XML in {name!r}: {type(error).__name__}") from None
    except ParseError as error:
        raise UnreadableFile(f"corrupt XML in {name!r}: {error}"[:300]) from None
    return root


def _paragraph_text(paragraph: Element) -> str:
    """The text of a paragraph; paragraphs nested in its tables and boxes on lines of their own."""
    parts: list[str] = []
    for element in paragraph.iter():
        name = _local(element.tag)
        if name == "t":
            parts.append("".join(element.itertext()))
        elif name == "p" and element is not paragraph:
            parts.append("\n")
    return "".join(parts).strip()


def _iso_epoch(value: str | None) -> float | None:
    if not value or not value.strip():
        return None
    try:
        return epoch(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
    except ValueError:
        return None


def _package(archive: zipfile.ZipFile) -> tuple[dict[str, str | None], list[str]]:
    """Title and dates of ``Contents/content.hpf``, and its section files in spine order."""
    data = read_member(archive, "Contents/content.hpf")
    meta: dict[str, str | None] = {}
    if data is None:
        return meta, []
    root = _parse(data, "Contents/content.hpf")
    hrefs: dict[str, str] = {}
    spine: list[str] = []
    for element in root.iter():
        name = _local(element.tag)
        if name == "title":
            meta["title"] = element.text
        elif name == "meta" and element.get("name"):
            meta[str(element.get("name")).lower()] = element.text or element.get("content")
        elif name == "item" and element.get("id") and element.get("href"):
            hrefs[str(element.get("id"))] = str(element.get("href"))
        elif name == "itemref" and element.get("idref"):
            spine.append(str(element.get("idref")))
    order = [hrefs[i] for i in spine if i in hrefs and SECTION_NAME.match(hrefs[i])]
    return meta, order


def read_hwpx(data: bytes, limits: FileLimits) -> FileDocument:
    """An HWPX document: one section per non-empty paragraph, in the package's spine order."""
    archive = open_zip(data, "hwpx", limits)
    mimetype = read_member(archive, "mimetype")
    if mimetype is not None and mimetype.strip() != HWPX_MIMETYPE:
        raise UnreadableFile(f"not an HWPX package (mimetype {mimetype[:40]!r})")
    meta, order = _package(archive)
    if not order:
        found = [(int(m.group(1)), n) for n in archive.namelist() if (m := SECTION_NAME.match(n))]
        order = [name for _, name in sorted(found)]
    if not order:
        raise UnreadableFile("not an HWPX package: no Contents/section*.xml")
    paragraphs: list[str] = []
    for name in order:
        member = read_member(archive, posixpath.normpath(name))
        if member is None:
            continue
        root = _parse(member, name)
        paragraphs.extend(_paragraph_text(p) for p in root if _local(p.tag) == "p")
    sections = cap_sections(paragraphs, limits.max_chars)
    if not sections:
        raise UnreadableFile("the HWPX document has no text")
    return FileDocument(
        kind="hwpx",
        section_role="section",
        title=clean_title(meta.get("title")),
        create_time=_iso_epoch(meta.get("createddate")),
        update_time=_iso_epoch(meta.get("modifieddate")),
        sections=sections,
    )


def read_hwp(data: bytes, limits: FileLimits) -> FileDocument:
    """An ``.hwp`` file: read if it is really HWPX inside; an HWP 5 binary is refused with the reason."""
    if data.startswith(ZIP_MAGIC):
        return read_hwpx(data, limits)
    if data.startswith(OLE_MAGIC):
        raise UnreadableFile(
            "HWP 5 binary documents are not read yet (no maintained, permissively licensed reader); "
            "save the file as .hwpx"
        )
    raise UnreadableFile("not an HWP file (neither an HWP 5 compound file nor HWPX)")
