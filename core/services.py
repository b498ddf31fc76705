"""The outside parts a task uses, built from settings on first use and shared by the process."""

from __future__ import annotations

import re
import threading
from functools import cached_property

from adapters.blobs import BlobStore, LocalBlobStore, S3BlobStore
from adapters.sinks import MemorySink, RedisResultSink, ResultSink, SQSResultSink
from adapters.vectors import ChromaVectorStore
from core.audit import audit_calls, audited
from core.settings import Settings
from pipelines.embed import Embedder
from pipelines.text import TextAnalyzer


def build_embedder(name: str, analyzer: TextAnalyzer) -> Embedder:
    """The embedder named by ``EMBEDDER``: ``hybrid``, ``lexical``, or a sentence-transformers model."""
    if name == "lexical":
        return Embedder(analyzer, None, mode="lexical")
    from adapters.encoders import DEFAULT_MODEL, SentenceTransformerEncoder

    if name == "hybrid":
        return Embedder(analyzer, SentenceTransformerEncoder(DEFAULT_MODEL), mode="hybrid")
    return Embedder(analyzer, SentenceTransformerEncoder(name), mode="model")


def build_sink(settings: Settings) -> ResultSink:
    """Where answers go: the SQS result queue, a Redis list, or memory (stub broker)."""
    with audited("result_sink", "connect"):
        return _sink(settings)


def _sink(settings: Settings) -> ResultSink:
    if settings.broker == "sqs":
        from adapters.aws import client

        assert settings.sqs_result_queue_url is not None  # checked by Settings
        sqs = client("sqs", region=settings.aws_region, endpoint_url=settings.aws_endpoint_url)
        return SQSResultSink(sqs, settings.sqs_result_queue_url)
    if settings.broker == "redis":
        import redis

        return RedisResultSink(redis.Redis.from_url(settings.redis_url))
    return MemorySink()


def collection_name(embedder: str) -> str:
    """The Chroma collection for vectors of one embedder (dimensions differ between embedders)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", embedder).strip("-._")[:48] or "default"
    return f"nodes-{slug}"


#: The calls of each outside service that are audited (``audit.py``).
AUDITED_BLOB_CALLS = ("list_keys", "size", "get", "put")
AUDITED_VECTOR_CALLS = ("upsert", "nearest", "get", "count", "prune", "upsert_clusters", "user_clusters")
AUDITED_SINK_CALLS = ("publish",)


class Services:
    """Blob store, vector store, result sink and embedder chosen by ``settings``.

    Every call to an outside service (blob store, vector store, result sink) is audited here, where
    the adapters are built, and so is building each client (``connect``): a server that cannot be
    reached fails there first.
    """

    def __init__(self, settings: Settings, sink: ResultSink | None = None) -> None:
        self.settings = settings
        self.sink: ResultSink = audit_calls(
            sink if sink is not None else build_sink(settings), "result_sink", AUDITED_SINK_CALLS
        )
        self._lock = threading.Lock()

    @cached_property
    def blobs(self) -> BlobStore:
        """Where inputs are read and results written: S3 when a payload bucket is set."""
        with audited("blob_store", "connect"):
            if self.settings.s3_payload_bucket:
                from adapters.aws import client

                s3 = client(
                    "s3", region=self.settings.aws_region, endpoint_url=self.settings.aws_endpoint_url
                )
                store: BlobStore = S3BlobStore(s3, self.settings.s3_payload_bucket)
            else:
                store = LocalBlobStore(self.settings.blob_dir)
        return audit_calls(store, "blob_store", AUDITED_BLOB_CALLS)

    @property
    def max_input_bytes(self) -> int:
        """The most input one task may read."""
        return self.settings.max_input_mb * 1024 * 1024

    @cached_property
    def analyzer(self) -> TextAnalyzer:
        """The shared Korean/English text analyser."""
        return TextAnalyzer()

    @property
    def embedder(self) -> Embedder:
        """The embedder (the model loads on first use, once)."""
        with self._lock:
            if "_embedder" not in self.__dict__:
                self.__dict__["_embedder"] = build_embedder(self.settings.embedder, self.analyzer)
            embedder: Embedder = self.__dict__["_embedder"]
            return embedder

    @cached_property
    def vectors(self) -> ChromaVectorStore:
        """The node vector store (connected on first use; a failed connection is tried again next time)."""
        name = collection_name(self.settings.embedder)
        with audited("vector_store", "connect"):
            if self.settings.chroma_host:
                store = ChromaVectorStore(
                    name, host=self.settings.chroma_host, port=self.settings.chroma_port
                )
            else:
                store = ChromaVectorStore(name, path=self.settings.chroma_path)
        return audit_calls(store, "vector_store", AUDITED_VECTOR_CALLS)
