"""Blob stores: where bundles are read from and results written to.

``LocalBlobStore`` keeps objects as files under a root folder (``BLOB_DIR``); ``S3BlobStore`` keeps
them in S3 (``S3_PAYLOAD_BUCKET``, or the request's ``bucket``). Keys are the contract's keys; a
bucket, when given, is ignored by the local store. Objects are read into memory, never onto disk,
and ``read_objects`` bounds a task's total input (``INPUT_TOO_LARGE``).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from adapters.aws import classify
from core.errors import InputNotFound, InputTooLarge, InvalidInput


class BlobStore(Protocol):
    """Object storage as the pipelines need it."""

    def list_keys(self, prefix: str, bucket: str | None = None) -> list[str]:
        """Every key under ``prefix``, sorted."""
        ...

    def size(self, key: str, bucket: str | None = None) -> int:
        """The object's size in bytes; ``InputNotFound`` if it does not exist."""
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
    """``key`` as a relative path that cannot leave its root (no ``..``, no absolute paths) and is not
    the root itself (a prefix of ``/`` would list every user's objects)."""
    path = PurePosixPath(key.lstrip("/"))
    if not path.parts or any(part in ("..", "") for part in path.parts) or "\x00" in key:
        raise InvalidInput(f"unsafe object key: {key[:200]!r}")
    return path


def read_objects(
    store: BlobStore, keys: list[str], bucket: str | None, limit: int
) -> list[tuple[str, bytes]]:
    """The named objects' contents; ``InputTooLarge`` if together they exceed ``limit`` bytes."""
    total = sum(store.size(key, bucket) for key in keys)
    if total > limit:
        raise InputTooLarge(f"input is {total} bytes, more than the {limit} allowed")
    return [(key, store.get(key, bucket)) for key in keys]


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
        path = self.root / safe_key(key)
        if not self._inside(path):
            raise InvalidInput(f"unsafe object key: {key[:200]!r}")
        return path

    def _inside(self, path: Path) -> bool:
        """True if ``path``, with its links followed, stays under the root."""
        return path.resolve().is_relative_to(self.root.resolve())

    def list_keys(self, prefix: str, bucket: str | None = None) -> list[str]:
        """Every key under ``prefix``, sorted; files linked from outside the root are left out."""
        base = self._path(prefix)
        if not base.is_dir():
            return []
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".") and self._inside(p)
        )

    def size(self, key: str, bucket: str | None = None) -> int:
        """The object's size in bytes."""
        path = self._path(key)
        if not path.is_file():
            raise InputNotFound(f"no object at {key!r}")
        return path.stat().st_size

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


class S3BlobStore:
    """Objects in S3 or an S3-compatible server; ``bucket`` defaults to the payload bucket."""

    def __init__(self, s3_client: Any, default_bucket: str) -> None:
        self.client = s3_client
        self.default_bucket = default_bucket

    def list_keys(self, prefix: str, bucket: str | None = None) -> list[str]:
        """Every key under ``prefix``, sorted; keys that are folders or unsafe are left out."""
        safe_key(prefix)
        keys: list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket or self.default_bucket, Prefix=prefix
            )
            for page in pages:
                keys.extend(item["Key"] for item in page.get("Contents", []))
        except Exception as error:
            raise classify(error, f"listing {prefix!r}") from error
        return sorted(k for k in keys if not k.endswith("/") and _is_safe(k))

    def size(self, key: str, bucket: str | None = None) -> int:
        """The object's size in bytes."""
        safe_key(key)
        try:
            head = self.client.head_object(Bucket=bucket or self.default_bucket, Key=key)
        except Exception as error:
            raise classify(error, f"object {key!r}") from error
        return int(head["ContentLength"])

    def get(self, key: str, bucket: str | None = None) -> bytes:
        """The object's bytes."""
        safe_key(key)
        try:
            body = self.client.get_object(Bucket=bucket or self.default_bucket, Key=key)["Body"]
            data: bytes = body.read()
        except Exception as error:
            raise classify(error, f"object {key!r}") from error
        return data

    def put(
        self, key: str, data: bytes, bucket: str | None = None, content_type: str = "application/json"
    ) -> None:
        """Write (or overwrite) an object."""
        safe_key(key)
        try:
            self.client.put_object(
                Bucket=bucket or self.default_bucket, Key=key, Body=data, ContentType=content_type
            )
        except Exception as error:
            raise classify(error, f"writing {key!r}") from error


def _is_safe(key: str) -> bool:
    try:
        safe_key(key)
    except InvalidInput:
        return False
    return True
