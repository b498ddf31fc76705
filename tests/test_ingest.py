"""Ingestion of every input shape of CONTRACT.md 6a and 6d."""

from __future__ import annotations

import json

from pipelines.ingest import epoch_seconds, ingest, parse_conversation

from helpers import EXAMPLES


def _node(
    node_id: str, role: str | None, text: str, parent: str | None, children: list[str]
) -> dict[str, object]:
    message = None if role is None else {"id": node_id, "author": {"role": role},
                                         "content": {"content_type": "text", "parts": [text]}}  # fmt: skip
    return {"id": node_id, "message": message, "parent": parent, "children": children}


def test_example_bundle() -> None:
    objects = [(f"b/{p.name}", p.read_bytes()) for p in sorted((EXAMPLES / "bundle").iterdir())]
    result = ingest(objects)
    assert [i.orig_id for i in result.items] == ["conv-0001", "conv-0002", "note-01"]
    first = result.items[0]
    assert first.title == "파이썬 리스트 정렬" and [m.role for m in first.messages] == ["user", "assistant"]
    assert first.create_time == 1747000000
    assert result.items[2].source_type == "markdown" and result.skipped == []


def test_mapping_walks_the_visible_branch_and_drops_system_messages() -> None:
    mapping = {
        "root": _node("root", None, "", None, ["sys"]),
        "sys": _node("sys", "system", "", "root", ["u1"]),
        "u1": _node("u1", "user", "first question", "sys", ["a1", "a1b"]),
        "a1": _node("a1", "assistant", "old answer", "u1", []),
        "a1b": _node("a1b", "assistant", "regenerated answer", "u1", ["u2"]),
        "u2": _node("u2", "user", "follow up", "a1b", []),
    }
    conversation = {"id": "c1", "title": "t", "mapping": mapping, "current_node": "u2"}
    item = parse_conversation(conversation)
    assert [m.text for m in item.messages] == ["first question", "regenerated answer", "follow up"]
    del conversation["current_node"]
    assert [m.text for m in parse_conversation(conversation).messages][-1] == "follow up"


def test_messages_shape_notes_and_files() -> None:
    batch = {
        "conversations": [{"conversationId": "conv-9", "title": "git", "messages": [
            {"role": "user", "content": "git stash?"}, {"role": "assistant", "content": "git stash pop"}]}],
        "notes": [{"noteId": "note-1", "title": "Plan", "content": "# Sunday\n\nRoast vegetables"}],
    }  # fmt: skip
    objects = [
        ("add-node/t/batch.json", json.dumps(batch).encode()),
        ("graph-generation/t/files/f77_reading-list.md", b"# Books\n\nDune\n\nSapiens"),
        ("graph-generation/t/diary.txt", "오늘은 러닝을 5km 했다".encode()),
    ]
    result = ingest(objects)
    by_id = {i.orig_id: i for i in result.items}
    assert set(by_id) == {"conv-9", "note-1", "f77", "diary"}
    assert by_id["conv-9"].num_sections == 2 and by_id["f77"].title == "reading list"
    assert by_id["f77"].source_type == "markdown" and by_id["diary"].source_type == "file"


def test_unreadable_objects_are_skipped_not_fatal() -> None:
    good = json.dumps([{"id": "c1", "title": "x", "messages": [{"role": "user", "content": "hello there"}]}])
    result = ingest([
        ("p/input.json", good.encode()),
        ("p/broken.json", b"{oops"),
        ("p/files/f1_scan.pdf", b"%PDF-1.4"),
        ("p/latin1.txt", "caf\xe9".encode("latin-1")),
        ("p/other.json", b"42"),
    ])  # fmt: skip
    assert [i.orig_id for i in result.items] == ["c1"]
    assert {key for key, _ in result.skipped} == {
        "p/broken.json",
        "p/files/f1_scan.pdf",
        "p/latin1.txt",
        "p/other.json",
    }


def test_duplicates_and_empty_items_are_skipped() -> None:
    conversation = {"id": "c1", "title": "x", "messages": [{"role": "user", "content": "hi"}]}
    empty = {"id": "c2", "messages": []}
    result = ingest(
        [
            ("a.json", json.dumps([conversation, empty]).encode()),
            ("b.json", json.dumps([conversation]).encode()),
        ]
    )
    assert [i.orig_id for i in result.items] == ["c1"]
    assert [reason for _, reason in result.skipped] == ["no text", "duplicate id"]


def test_timestamps() -> None:
    assert epoch_seconds(1747000000) == 1747000000.0
    assert epoch_seconds(1747000000000) == 1747000000.0
    assert epoch_seconds("2025-05-11T21:46:40Z") == 1747000000.0
    assert epoch_seconds("not a date") is None and epoch_seconds(None) is None
