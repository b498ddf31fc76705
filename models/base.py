"""Shared pydantic bases for the wire models."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict


def utc_now_iso() -> str:
    """The current time as the ISO-8601 string the backend expects."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class RequestModel(BaseModel):
    """A request from the backend: unknown fields are ignored, never an error."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Document(BaseModel):
    """A document we write or read (graph, features, results): extra fields are kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
