"""What ingestion makes of a user's input: one ``SourceItem`` per conversation, note or file."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Message(BaseModel):
    """One turn of a conversation, or one section of a note."""

    role: str
    text: str


class SourceItem(BaseModel):
    """A conversation, note or file, normalised from any input shape."""

    orig_id: str
    title: str | None = None
    source_type: str = "chat"
    create_time: float | None = None
    update_time: float | None = None
    messages: list[Message] = Field(default_factory=list)

    @property
    def text(self) -> str:
        """Title and every message, one block of text."""
        parts = [self.title or ""] + [m.text for m in self.messages]
        return "\n".join(p for p in parts if p)

    @property
    def num_sections(self) -> int:
        """Messages of a conversation, sections of a note."""
        return len(self.messages)
