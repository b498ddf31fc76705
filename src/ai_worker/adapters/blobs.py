"""Blob stores: where bundles are read from and results written to.

``LocalBlobStore`` keeps objects as files under a root folder (``BLOB_DIR``); the S3 store speaks the
same interface. Keys are the contract's keys; a bucket, when given, is ignored by the local store.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from ..errors import InputNotFound, InvalidInput


class BlobStore(Protocol):
    """Object storage as the pipelines need it."""

    def list_keys(self, prefix: str, bucket: str | None = None) -> list[str]:
        """Every key under ``prefix``, sorted."""
        ...

    def get(self, key: str, bucket: str | None = None) -> bytes:
        """The object's bytes; ``InputNotFound`` if it does not exist."""
        ...

    def put(
        self, key: str, data: bytes, bucket: str | None = None, content_type: str = "application/json"
    ) -> None:
        """Write (or overwrite) an object."""
        ...


def safe_key(key: str) -> PurePosixPath:
    """``key`` as a relative path that cannot leave its root (no ``..``, no absolute paths)."""
    path = PurePosixPath(key.lstrip("/"))
    if not key or any(part in ("..", "") for part in path.parts) or "\x00" in key:
        raise InvalidInput(f"unsafe object key: {key!r}")
    return path


def put_json(store: BlobStore, key: str, document: Any, bucket: str | None = None) -> None:
    """Write a JSON document (a pydantic model's ``model_dump_json`` or any JSON-able value)."""
    if hasattr(document, "model_dump_json"):
        data = document.model_dump_json(by_alias=True).encode()
    else:
        data = json.dumps(document, ensure_ascii=False).encode()
    store.put(key, data, bucket)


class LocalBlobStore:
    """Objects as files under ``root``; writes are atomic (temporary file, then rename)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / safe_key(key)

    def list_keys(self, prefix: str, bucket: str | None = None) -> list[str]:
        """Every key under ``prefix``, sorted."""
        base = self.root / safe_key(prefix) if prefix.strip("/") else self.root
        if not base.is_dir():
            return []
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )

    def get(self, key: str, bucket: str | None = None) -> bytes:
        """The object's bytes."""
        path = self._path(key)
        if not path.is_file():
            raise InputNotFound(f"no object at {key!r}")
        return path.read_bytes()

    def put(
        self, key: str, data: bytes, bucket: str | None = None, content_type: str = "application/json"
    ) -> None:
        """Write an object atomically."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
