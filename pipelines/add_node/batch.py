"""Reading an add-node input: the conversations and notes of ``batch.json`` objects and text files."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from models.add_node import AddNodeBatch, ExistingCluster
from models.source import SourceItem
from pipelines.files.limits import FileLimits
from pipelines.ingest import (
    UnreadableObject,
    file_name_parts,
    is_file,
    parse_batch_note,
    parse_conversation,
    parse_file,
)


@dataclass(slots=True)
class BatchItem:
    """One conversation or note of a batch: parsed, or the reason it is skipped."""

    kind: str  # "conversation" or "note"
    orig_id: str | None
    item: SourceItem | None = None
    error: str | None = None


@dataclass(slots=True)
class Batch:
    """What the objects of an add-node input hold."""

    items: list[BatchItem] = field(default_factory=list)
    existing_clusters: list[ExistingCluster] = field(default_factory=list)
    user_ids: set[str] = field(default_factory=set)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _raw_id(raw: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if raw.get(key) not in (None, ""):
            return str(raw[key])
    return None


def batch_conversation(raw: Any) -> BatchItem:
    """One conversation of a batch, or why it is skipped."""
    if not isinstance(raw, dict):
        return BatchItem("conversation", None, error="a conversation must be a JSON object")
    orig_id = _raw_id(raw, ("id", "conversation_id", "conversationId"))
    if orig_id is None:
        return BatchItem("conversation", None, error="a conversation needs an id")
    try:
        item = parse_conversation(raw)
    except (UnreadableObject, ValueError) as error:
        return BatchItem("conversation", orig_id, error=f"unreadable conversation: {error}"[:300])
    roles = {message.role for message in item.messages}
    if not {"user", "assistant"} <= roles:
        return BatchItem(
            "conversation", orig_id, error="needs at least one user question and one assistant answer"
        )
    return BatchItem("conversation", orig_id, item=item)


def batch_note(raw: Any) -> BatchItem:
    """One note (or file with text) of a batch, or why it is skipped."""
    if not isinstance(raw, dict):
        return BatchItem("note", None, error="a note must be a JSON object")
    orig_id = _raw_id(raw, ("noteId", "id", "fileId"))
    if orig_id is None:
        return BatchItem("note", None, error="a note needs a noteId")
    try:
        item = parse_batch_note({**raw, "noteId": orig_id})
    except (UnreadableObject, ValueError) as error:
        return BatchItem("note", orig_id, error=f"unreadable note: {error}"[:300])
    if not item.messages:
        return BatchItem("note", orig_id, error="the note has no text")
    return BatchItem("note", orig_id, item=item)


def read_batch(objects: Sequence[tuple[str, bytes]], limits: FileLimits | None = None) -> Batch:
    """The items of an add-node input: ``batch.json`` objects and files (text, PDF, Office, Hangul)."""
    batch = Batch()
    for key, data in objects:
        lowered = key.lower()
        if is_file(key):
            try:
                item = parse_file(key, data, limits)
            except UnreadableObject as error:
                batch.items.append(BatchItem("note", file_name_parts(key)[0], error=str(error)[:300]))
                continue
            error_text = None if item.messages else "the file has no text"
            batch.items.append(
                BatchItem("note", item.orig_id, item=item if item.messages else None, error=error_text)
            )
            continue
        if not lowered.endswith(".json"):
            batch.skipped.append((key, "unsupported file type"))
            continue
        try:
            document = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            batch.skipped.append((key, f"invalid JSON: {error}"))
            continue
        if isinstance(document, list):
            batch.items.extend(batch_conversation(raw) for raw in document)
            continue
        if not isinstance(document, dict):
            batch.skipped.append((key, "JSON is neither a list nor an object"))
            continue
        try:
            parsed = AddNodeBatch.model_validate(document)
        except ValueError as error:
            batch.skipped.append((key, f"not an add-node batch: {error}"[:300]))
            continue
        if parsed.user_id:
            batch.user_ids.add(parsed.user_id)
        batch.existing_clusters.extend(parsed.existing_clusters)
        batch.items.extend(batch_conversation(raw) for raw in parsed.conversations)
        batch.items.extend(batch_note(raw) for raw in [*parsed.notes, *parsed.files])
    seen: set[str] = set()
    for entry in batch.items:
        if entry.item is None or entry.orig_id is None:
            continue
        if entry.orig_id in seen:
            entry.item, entry.error = None, "duplicate id in the batch"
        seen.add(entry.orig_id)
    return batch
