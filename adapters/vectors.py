"""The vector store: Chroma, embedded (``CHROMA_PATH``) or a server (``CHROMA_HOST``/``CHROMA_PORT``).

Every vector belongs to one user: its id is ``"{userId}_{orig_id}"``, its metadata carries ``userId``,
and every query is filtered by ``userId``, so one user's nodes are never seen from another's.
Embeddings are always passed explicitly (Chroma's default embedding function would download a model).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import structlog

logger = structlog.get_logger(__name__)

#: Metadata key of the time (epoch seconds) a vector or cluster row was written.
WRITTEN_AT = "writtenAt"
#: Metadata values Chroma accepts.
Scalar = str | int | float | bool


def vector_id(user_id: str, orig_id: str) -> str:
    """The id of a node's vector, shared with the backend."""
    return f"{user_id}_{orig_id}"


@dataclass(slots=True)
class Neighbour:
    """A stored node near a query vector."""

    id: str
    similarity: float
    metadata: dict[str, Any]


class ChromaVectorStore:
    """One Chroma collection of all users' node vectors (cosine space)."""

    def __init__(
        self,
        collection: str,
        *,
        path: Path | None = None,
        host: str | None = None,
        port: int = 8000,
    ) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if host:
            self._client = chromadb.HttpClient(host=host, port=port, settings=chroma_settings)
        else:
            assert path is not None, "an embedded Chroma needs a path"
            Path(path).mkdir(parents=True, exist_ok=True)
            self._client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        self._collection = self._client.get_or_create_collection(
            collection, metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
        self._clusters = self._client.get_or_create_collection(
            f"{collection}-clusters", metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
        self._batch = max(1, min(self._client.get_max_batch_size(), 1000))

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict[str, Scalar]]) -> None:
        """Insert or replace vectors by id, in batches.

        An id held by another user's vector is left alone (``"{userId}_{orig_id}"`` of ``a`` + ``b_c``
        and of ``a_b`` + ``c`` are the same id): one user never overwrites another's node.
        """
        for start in range(0, len(ids), self._batch):
            stop = start + self._batch
            written = time.time()
            batch_ids = list(ids[start:stop])
            batch_metadatas = [{**m, WRITTEN_AT: written} for m in metadatas[start:stop]]
            keep = self._own(batch_ids, batch_metadatas)
            if not keep:
                continue
            self._collection.upsert(
                ids=[batch_ids[n] for n in keep],
                embeddings=np.asarray(vectors[start:stop], dtype=np.float32)[keep],
                metadatas=[batch_metadatas[n] for n in keep],
            )

    def _own(self, ids: list[str], metadatas: list[dict[str, Scalar]]) -> list[int]:
        """Positions of the ids that are new or already belong to the user in their metadata."""
        found = self._collection.get(ids=ids, include=["metadatas"])
        owners = {
            i: (m or {}).get("userId")
            for i, m in zip(found["ids"], found.get("metadatas") or [], strict=True)
        }
        keep = [
            n
            for n, i in enumerate(ids)
            if owners.get(i, metadatas[n].get("userId")) == metadatas[n].get("userId")
        ]
        if len(keep) < len(ids):
            logger.warning("vectors.foreign_ids_skipped", count=len(ids) - len(keep))
        return keep

    def nearest(self, user_id: str, vector: np.ndarray, limit: int) -> list[Neighbour]:
        """The ``limit`` nearest vectors of ``user_id`` only, most similar first."""
        if limit < 1:
            return []
        found = self._collection.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32).tolist()],
            n_results=limit,
            where={"userId": user_id},
            include=["distances", "metadatas"],
        )
        ids = found["ids"][0]
        distances = (found.get("distances") or [[]])[0]
        metadatas = (found.get("metadatas") or [[]])[0]
        return [
            Neighbour(id=i, similarity=1.0 - float(d), metadata=dict(m or {}))
            for i, d, m in zip(ids, distances, metadatas, strict=True)
        ]

    def get(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Metadata of the given ids that exist."""
        found = self._collection.get(ids=list(ids), include=["metadatas"])
        metadatas = found.get("metadatas") or []
        return {i: dict(m or {}) for i, m in zip(found["ids"], metadatas, strict=True)}

    def count(self, user_id: str | None = None) -> int:
        """Vectors stored, of one user or of everyone."""
        if user_id is None:
            return int(self._collection.count())
        return len(self._collection.get(where={"userId": user_id}, include=[])["ids"])

    def prune(self, user_id: str, keep: Sequence[str], *, written_before: float | None = None) -> int:
        """Delete the vectors of ``user_id`` whose ids are not in ``keep`` (only those written before
        ``written_before``, when given: a vector added since is not the caller's to judge); returns
        how many went."""
        stored = self._collection.get(where={"userId": user_id}, include=["metadatas"])
        kept = set(keep)
        stale = [
            i
            for i, m in zip(stored["ids"], stored.get("metadatas") or [], strict=True)
            if i not in kept and i.startswith(f"{user_id}_") and _written_before(m, written_before)
        ]
        for start in range(0, len(stale), self._batch):
            self._collection.delete(ids=stale[start : start + self._batch])
        return len(stale)

    def upsert_clusters(
        self,
        user_id: str,
        task_id: str,
        rows: Sequence[tuple[str, np.ndarray, dict[str, Scalar]]],
        *,
        replace: bool = False,
        written_before: float | None = None,
    ) -> None:
        """Store one row per cluster of ``user_id``: id, its members' mean vector, metadata (count, name...).

        With ``replace`` (a new graph) the user's rows written by other tasks are dropped: those written
        before ``written_before`` when given (a row an add-node wrote since is kept).
        """
        if rows:
            written = time.time()
            self._clusters.upsert(
                ids=[row[0] for row in rows],
                embeddings=np.asarray([row[1] for row in rows], dtype=np.float32),
                metadatas=[
                    {**row[2], "userId": user_id, "taskId": task_id, WRITTEN_AT: written} for row in rows
                ],
            )
        if replace:
            others: Any = {"$and": [{"userId": user_id}, {"taskId": {"$ne": task_id}}]}
            found = self._clusters.get(where=others, include=["metadatas"])
            stale = [
                i
                for i, m in zip(found["ids"], found.get("metadatas") or [], strict=True)
                if _written_before(m, written_before)
            ]
            if stale:
                self._clusters.delete(ids=stale)

    def user_clusters(self, user_id: str) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """The cluster rows of ``user_id``: mean vectors and metadata."""
        found = self._clusters.get(where={"userId": user_id}, include=["embeddings", "metadatas"])
        if not found["ids"]:
            return np.zeros((0, 0), dtype=np.float32), []
        vectors = np.asarray(found["embeddings"], dtype=np.float32)
        return vectors, [dict(m or {}) for m in (found.get("metadatas") or [])]


def _written_before(metadata: Mapping[str, Any] | None, moment: float | None) -> bool:
    """Whether a stored row was written before ``moment`` (always, without a moment or a record)."""
    written = (metadata or {}).get(WRITTEN_AT)
    return moment is None or not isinstance(written, int | float) or written < moment


class UserVectors:
    """One user's view of the store: every query filtered by ``userId``, every answer checked."""

    def __init__(self, store: ChromaVectorStore, user_id: str) -> None:
        self.store = store
        self.user_id = user_id

    def nearest(self, vector: np.ndarray, limit: int) -> list[Neighbour]:
        """The ``limit`` nearest vectors of this user, most similar first."""
        found = self.store.nearest(self.user_id, vector, limit)
        for neighbour in found:
            if neighbour.metadata.get("userId") != self.user_id:
                raise RuntimeError("the vector store returned another user's vector")
        return found

    def add(self, id: str, vector: np.ndarray, metadata: dict[str, Scalar]) -> None:
        """Insert or replace one vector of this user."""
        if metadata.get("userId") != self.user_id or not id.startswith(f"{self.user_id}_"):
            raise ValueError("a vector must carry its own user's id")
        self.store.upsert([id], np.asarray(vector, dtype=np.float32)[None, :], [metadata])
