"""Ingestion: the objects of a user's bundle in, one ``SourceItem`` per conversation, note or file out.

Understood shapes (CONTRACT.md 6a, 6d): a ChatGPT export (a list of conversations with a ``mapping``
tree, or one such conversation), conversations in the ``messages`` shape, ``{"source_nodes": [...]}``
notes and Notion pages, an add-node batch (``conversations`` and ``notes``), ``.md`` / ``.txt``
files, and PDF, Word, PowerPoint and Hangul files (read in a child process within per-file limits,
``pipelines/files``). An object that cannot be read is reported in ``skipped`` and the rest goes on.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from models.source import Message, SourceItem
from pipelines.files.isolation import read_isolated
from pipelines.files.limits import FileLimits, UnreadableFile
from pipelines.files.readers import DOCUMENT_SUFFIXES

TEXT_SUFFIXES = (".md", ".markdown", ".txt")
#: Every file suffix read as one source item (plain text, or a document read by a reader).
FILE_SUFFIXES = TEXT_SUFFIXES + DOCUMENT_SUFFIXES
#: Message roles that hold the conversation (system prompts and tool output are left out).
CONVERSATION_ROLES = ("user", "assistant")


class UnreadableObject(ValueError):
    """An object whose content is not one of the understood shapes."""


@dataclass(slots=True)
class IngestResult:
    """What came out of a bundle: the items, and the objects that were skipped with the reason."""

    items: list[SourceItem] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def epoch_seconds(value: Any) -> float | None:
    """A timestamp as epoch seconds, from epoch numbers or ISO strings; ``None`` if unreadable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) / 1000.0 if value > 1e11 else float(value)
    if isinstance(value, str) and value.strip():
        try:
            return float(value)
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(_content_text(part) for part in content if part)
    if isinstance(content, dict):
        if isinstance(content.get("parts"), list):
            return "\n".join(p for p in content["parts"] if isinstance(p, str) and p)
        for key in ("text", "content", "result"):
            if isinstance(content.get(key), str):
                return str(content[key])
    return ""


def _conversation_id(raw: dict[str, Any]) -> str | None:
    for key in ("id", "conversation_id", "conversationId"):
        if raw.get(key) not in (None, ""):
            return str(raw[key])
    return None


def _fallback_id(prefix: str, raw: Any) -> str:
    digest = hashlib.sha1(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{prefix}-{digest}"


def _mapping_path(mapping: dict[str, Any], current: str | None) -> list[dict[str, Any]]:
    """The nodes of the conversation's visible branch, root first."""
    if current and current in mapping:
        path: list[dict[str, Any]] = []
        seen: set[str] = set()
        node_id: str | None = current
        while node_id and node_id in mapping and node_id not in seen:
            seen.add(node_id)
            path.append(mapping[node_id])
            node_id = mapping[node_id].get("parent")
        return path[::-1]
    roots = [n for n in mapping.values() if not n.get("parent") or n.get("parent") not in mapping]
    path = []
    seen = set()
    node = roots[0] if roots else None
    while node is not None and node.get("id") not in seen:
        seen.add(node.get("id"))
        path.append(node)
        children = [c for c in node.get("children") or [] if c in mapping]
        node = mapping[children[-1]] if children else None
    return path


def parse_conversation(raw: dict[str, Any]) -> SourceItem:
    """One conversation in the ChatGPT ``mapping`` shape or the ``messages`` shape."""
    messages: list[Message] = []
    if isinstance(raw.get("mapping"), dict):
        for node in _mapping_path(raw["mapping"], raw.get("current_node")):
            message = node.get("message") or {}
            role = ((message.get("author") or {}).get("role") or "").lower()
            text = _content_text(message.get("content")).strip()
            if role in CONVERSATION_ROLES and text:
                messages.append(Message(role=role, text=text))
    elif isinstance(raw.get("messages"), list):
        for message in raw["messages"]:
            if not isinstance(message, dict):
                continue
            role = str(message.get("role") or (message.get("author") or {}).get("role") or "").lower()
            text = _content_text(message.get("content", message.get("text"))).strip()
            if role in CONVERSATION_ROLES and text:
                messages.append(Message(role=role, text=text))
    else:
        raise UnreadableObject("a conversation needs a 'mapping' or 'messages'")
    return SourceItem(
        orig_id=_conversation_id(raw) or _fallback_id("conv", raw),
        title=(str(raw["title"]).strip() or None) if raw.get("title") else None,
        source_type="chat",
        create_time=epoch_seconds(raw.get("create_time", raw.get("createTime", raw.get("createdAt")))),
        update_time=epoch_seconds(raw.get("update_time", raw.get("updateTime", raw.get("updatedAt")))),
        messages=messages,
    )


def parse_source_node(raw: dict[str, Any]) -> SourceItem:
    """One note or Notion page of ``{"source_nodes": [...]}``."""
    sections = raw.get("sections") or []
    messages = [
        Message(role="section", text=_content_text(s.get("content") if isinstance(s, dict) else s).strip())
        for s in sections
    ]
    return SourceItem(
        orig_id=str(raw.get("id") or _fallback_id("note", raw)),
        title=(str(raw["title"]).strip() or None) if raw.get("title") else None,
        source_type=str(raw.get("source_type") or "markdown"),
        create_time=epoch_seconds(raw.get("create_time")),
        update_time=epoch_seconds(raw.get("update_time")),
        messages=[m for m in messages if m.text],
    )


def parse_batch_note(raw: dict[str, Any]) -> SourceItem:
    """One note of an add-node batch: ``{noteId, title, content}``."""
    note_id = raw.get("noteId") or raw.get("id")
    if not note_id:
        raise UnreadableObject("a note needs a 'noteId'")
    text = _content_text(raw.get("content")).strip()
    return SourceItem(
        orig_id=str(note_id),
        title=(str(raw["title"]).strip() or None) if raw.get("title") else None,
        source_type=str(raw.get("source_type") or raw.get("sourceType") or "markdown"),
        create_time=epoch_seconds(raw.get("createdAt") or raw.get("create_time")),
        update_time=epoch_seconds(raw.get("updatedAt") or raw.get("update_time")),
        messages=[Message(role="section", text=text)] if text else [],
    )


def is_file(key: str) -> bool:
    """A user's file: a known file suffix, or any non-JSON object under ``files/``."""
    lowered = key.lower()
    return lowered.endswith(FILE_SUFFIXES) or ("/files/" in f"/{lowered}" and not lowered.endswith(".json"))


def file_name_parts(key: str) -> tuple[str, str | None]:
    """A file's id and title from its key; under ``files/`` its name is ``{fileId}_{name}``."""
    name = posixpath.basename(key)
    stem = name.rsplit(".", 1)[0] or name
    file_id, _, title = stem.partition("_") if "/files/" in f"/{key}" else (stem, "", stem)
    return file_id or stem, (title or stem).replace("-", " ").replace("_", " ").strip() or None


def parse_text_file(key: str, data: bytes) -> SourceItem:
    """A ``.md`` or ``.txt`` file: one section per paragraph."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableObject(f"not UTF-8 text: {error}") from None
    orig_id, title = file_name_parts(key)
    sections = [part.strip() for part in text.split("\n\n") if part.strip()]
    return SourceItem(
        orig_id=orig_id,
        title=title,
        source_type="markdown" if key.lower().endswith((".md", ".markdown")) else "file",
        messages=[Message(role="section", text=s) for s in sections],
    )


def parse_document_file(key: str, data: bytes, limits: FileLimits | None = None) -> SourceItem:
    """A PDF, Word, PowerPoint or Hangul file: one section per page, slide or paragraph.

    The title is the document's own, else the file name; the times are the document's metadata.
    """
    try:
        document = read_isolated(posixpath.basename(key), data, limits or FileLimits())
    except UnreadableFile as error:
        raise UnreadableObject(str(error)) from None
    orig_id, name_title = file_name_parts(key)
    return SourceItem(
        orig_id=orig_id,
        title=document.title or name_title,
        source_type="file",
        create_time=document.create_time,
        update_time=document.update_time,
        messages=[Message(role=document.section_role, text=s) for s in document.sections],
    )


def parse_file(key: str, data: bytes, limits: FileLimits | None = None) -> SourceItem:
    """Any file of ``FILE_SUFFIXES``, by its suffix."""
    if key.lower().endswith(TEXT_SUFFIXES):
        return parse_text_file(key, data)
    return parse_document_file(key, data, limits)


def parse_json_document(document: Any) -> list[SourceItem]:
    """Every item of one JSON document in any understood shape."""
    if isinstance(document, list):
        return [parse_conversation(c) for c in document if isinstance(c, dict)]
    if not isinstance(document, dict):
        raise UnreadableObject("JSON is neither a list nor an object")
    if isinstance(document.get("source_nodes"), list):
        return [parse_source_node(n) for n in document["source_nodes"] if isinstance(n, dict)]
    if "conversations" in document or "notes" in document:
        items = [parse_conversation(c) for c in document.get("conversations") or [] if isinstance(c, dict)]
        items += [parse_batch_note(n) for n in document.get("notes") or [] if isinstance(n, dict)]
        return items
    if "mapping" in document or "messages" in document:
        return [parse_conversation(document)]
    raise UnreadableObject("JSON object has no conversations, notes or source_nodes")


def parse_object(key: str, data: bytes, limits: FileLimits | None = None) -> list[SourceItem]:
    """The items of one stored object, by its name and content."""
    if is_file(key):
        return [parse_file(key, data, limits)]
    if key.lower().endswith(".json"):
        try:
            document = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise UnreadableObject(f"invalid JSON: {error}") from None
        return parse_json_document(document)
    raise UnreadableObject(f"unsupported file type: {posixpath.basename(key)}")


def ingest(objects: Iterable[tuple[str, bytes]], limits: FileLimits | None = None) -> IngestResult:
    """Parse every object; unreadable ones and items without text are skipped, duplicates dropped.

    ``limits`` bound each PDF, Word, PowerPoint or Hangul file (defaults: ``FileLimits()``).
    """
    result = IngestResult()
    seen: set[str] = set()
    for key, data in objects:
        try:
            items = parse_object(key, data, limits)
        except (UnreadableObject, ValueError) as error:
            result.skipped.append((key, str(error)))
            continue
        for item in items:
            if not item.messages and not item.title:
                result.skipped.append((f"{key}#{item.orig_id}", "no text"))
            elif item.orig_id in seen:
                result.skipped.append((f"{key}#{item.orig_id}", "duplicate id"))
            else:
                seen.add(item.orig_id)
                result.items.append(item)
    return result
