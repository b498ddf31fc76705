"""GRAPH_GENERATION_REQUEST: a user's bundle in, ``graph.json`` and ``features.json`` out.

What the user's previous graph computed (each conversation's analysis and vector, ``pipelines.reuse``)
is read from the blob store, where every worker can read it, and reused for unchanged conversations;
the new graph's store replaces it, and the vectors of conversations no longer in the input are deleted.
"""

from __future__ import annotations

import hashlib
import time

import numpy as np
import structlog

from actors.base import task_actor
from actors.broker import retries_left
from actors.graph_summary import write_summary
from actors.llm import task_llm
from actors.runtime import services
from adapters.blobs import BlobStore, put_json, read_objects
from adapters.llm import LLMClient, name_cluster
from adapters.vectors import Scalar, vector_id
from core.errors import InputNotFound, InvalidInput, TransientError
from core.services import collection_name
from core.settings import Settings
from middleware.results import report_progress
from models.envelope import TaskType
from models.graph import GraphDocument
from models.requests import GraphGenerationRequest
from models.results import GraphGenerationResult, Status
from pipelines.add_node import graph_cluster_rows
from pipelines.embed import Embedder
from pipelines.files.limits import MB, FileLimits
from pipelines.graph_generation import GraphBuild, GraphParams, build_graph
from pipelines.ingest import ingest
from pipelines.polish import rename_clusters
from pipelines.reuse import ReuseStore

logger = structlog.get_logger(__name__)


def graph_key(user_id: str, task_id: str) -> str:
    """Where ``graph.json`` of a task is written."""
    return f"results/macro/{user_id}/{task_id}/graph.json"


def features_key(user_id: str, task_id: str) -> str:
    """Where ``features.json`` of a task is written."""
    return f"results/macro/{user_id}/{task_id}/features.json"


def reuse_key(user_id: str, embedder: str) -> str:
    """Where the reuse store of ``user_id`` for the ``EMBEDDER`` setting ``embedder`` is kept (the user
    id is hashed: any string is a safe key, and one user's key can never name another's)."""
    user = hashlib.blake2b(user_id.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return f"cache/graph-generation/{user}/{collection_name(embedder)}.npz"


def load_reuse(blobs: BlobStore, user_id: str, embedder: Embedder) -> ReuseStore:
    """The user's reuse store; an empty one (a cold run) if there is none or it cannot be read."""
    key = reuse_key(user_id, services.settings.embedder)
    bucket = services.settings.s3_payload_bucket
    try:
        if key not in blobs.list_keys(key.rsplit("/", 1)[0] + "/", bucket):  # a first graph
            return ReuseStore(user_id, embedder.fingerprint)
        data = blobs.get(key, bucket)
    except Exception as error:  # reuse only saves time: never fail a task for it
        logger.warning("reuse.read_failed", error_type=type(error).__name__, exc_info=True)
        return ReuseStore(user_id, embedder.fingerprint)
    try:
        return ReuseStore.from_bytes(data, user_id, embedder.fingerprint)
    except ValueError as error:
        logger.warning("reuse.invalid", error=str(error))
        return ReuseStore(user_id, embedder.fingerprint)


def save_reuse(blobs: BlobStore, store: ReuseStore) -> None:
    """Replace the user's reuse store with ``store`` (best effort)."""
    key = reuse_key(store.user_id, services.settings.embedder)
    try:
        blobs.put(key, store.to_bytes(), services.settings.s3_payload_bucket, "application/octet-stream")
    except Exception as error:  # the next run is cold, nothing worse
        logger.warning("reuse.write_failed", error_type=type(error).__name__, exc_info=True)


def input_keys(blobs: BlobStore, keys: list[str], bucket: str | None) -> list[str]:
    """Every object named by ``keys``: a key ending in ``/`` is a prefix, anything else one object."""
    found: list[str] = []
    for key in keys:
        if key.endswith("/"):
            listed = blobs.list_keys(key, bucket)
            if not listed:
                raise InputNotFound(f"no objects under {key!r}")
            found.extend(listed)
        else:
            found.append(key)
    return list(dict.fromkeys(found))


def file_limits(settings: Settings) -> FileLimits:
    """The limits of a task's PDF, Word, PowerPoint and Hangul files, from the settings, from now."""
    return FileLimits(
        max_expanded_bytes=settings.file_max_expanded_mb * MB,
        max_pages=settings.file_max_pages,
        timeout_seconds=settings.file_timeout_seconds,
        memory_bytes=settings.file_memory_mb * MB,
        deadline=time.monotonic() + settings.file_task_seconds,
    )


def node_metadata(user_id: str, task_id: str, graph: GraphDocument) -> list[dict[str, Scalar]]:
    """Chroma metadata of every node (Chroma takes no nulls, so empty values are left out)."""
    rows: list[dict[str, Scalar]] = []
    for node in graph.nodes:
        row: dict[str, Scalar | None] = {
            "userId": user_id,
            "orig_id": node.orig_id,
            "node_id": node.id,
            "cluster_id": node.cluster_id,
            "cluster_name": node.cluster_name,
            "title": node.title,
            "source_type": node.source_type,
            "timestamp": node.timestamp,
            "num_sections": node.num_sections,
            "top_keywords": ", ".join(node.top_keywords),
            "taskId": task_id,
        }
        rows.append({k: v for k, v in row.items() if v is not None})
    return rows


def improve_names(graph: GraphDocument, language: str, llm: LLMClient | None) -> None:
    """Let ``llm`` rename clusters and subclusters where it answers; offline names stay otherwise."""
    if llm is None:
        return
    changed = rename_clusters(graph, lambda themes, titles: name_cluster(llm, language, themes, titles))
    logger.info("graph.names_improved", changed=changed)


def add_summary(
    request: GraphGenerationRequest, task_id: str, graph: GraphDocument, llm: LLMClient | None
) -> str:
    """Stage 6: write ``summary.json`` for ``graph``; returns its key."""
    report_progress(6, 0.0)
    language = request.summary_language or request.language
    key = write_summary(services.blobs, request.user_id, task_id, graph, language, llm)
    report_progress(6, 1.0)
    return key


def index_vectors(request: GraphGenerationRequest, task_id: str, built: GraphBuild, read_at: float) -> None:
    """Store the nodes' vectors and one profile row per cluster, replacing the user's older vectors and
    rows: those written before the history was read at ``read_at`` (an add-node that ran meanwhile
    keeps its node, which this graph could not know)."""
    ids = [vector_id(request.user_id, node.orig_id) for node in built.graph.nodes]
    services.vectors.upsert(
        ids, np.asarray(built.vectors), node_metadata(request.user_id, task_id, built.graph)
    )
    services.vectors.prune(request.user_id, ids, written_before=read_at)  # conversations that left
    rows = graph_cluster_rows(request.user_id, built.graph, built.profiles, services.embedder.dim)
    services.vectors.upsert_clusters(request.user_id, task_id, rows, replace=True, written_before=read_at)


@task_actor(TaskType.GRAPH_GENERATION_REQUEST, GraphGenerationRequest)
def generate_graph(request: GraphGenerationRequest, task_id: str) -> GraphGenerationResult:
    """Build the user's knowledge graph and answer with the keys of its documents."""
    llm = task_llm(services.settings)
    try:
        return _generate_graph(request, task_id, llm)
    finally:
        if llm is not None:
            llm.close()


def _generate_graph(
    request: GraphGenerationRequest, task_id: str, llm: LLMClient | None
) -> GraphGenerationResult:
    blobs = services.blobs
    bucket = request.bucket or services.settings.s3_payload_bucket
    read_at = time.time()  # what the store holds from before this moment, the history below replaces
    keys = input_keys(blobs, [request.s3_key, *request.extra_s3_keys], bucket)
    objects = read_objects(blobs, keys, bucket, services.max_input_bytes)
    result = ingest(objects, file_limits(services.settings))
    for key, reason in result.skipped:
        logger.warning("ingest.skipped", key=key, reason=reason)
    if not result.items:
        raise InvalidInput(f"no conversations, notes or files with text in {request.s3_key!r}")
    logger.info("ingest.done", items=len(result.items), objects=len(keys), skipped=len(result.skipped))

    params = GraphParams(
        language=request.language,
        min_clusters=request.min_clusters,
        max_clusters=request.max_clusters,
        num_clusters=request.num_clusters,
    )
    embedder = services.embedder
    known = load_reuse(blobs, request.user_id, embedder).lookup(result.items)
    built = build_graph(result.items, embedder, params, report=report_progress, known=known)
    del known
    logger.info(
        "graph.reuse",
        reused=len(result.items) - built.embedded.fresh,
        fresh=built.embedded.fresh,
        windows_encoded=built.embedded.windows,
    )
    save_reuse(
        blobs, ReuseStore.of_build(request.user_id, embedder.fingerprint, result.items, built.embedded)
    )
    improve_names(built.graph, request.language, llm)

    out_bucket = services.settings.s3_payload_bucket
    put_json(blobs, graph_key(request.user_id, task_id), built.graph, out_bucket)
    put_json(blobs, features_key(request.user_id, task_id), built.features, out_bucket)

    errors: list[str] = []
    try:
        index_vectors(request, task_id, built, read_at)
    except Exception as error:
        if retries_left():
            raise TransientError(f"vector store unavailable: {type(error).__name__}") from error
        # Retries spent: the graph and features are written and are what the user asked for, so they
        # are answered COMPLETED rather than thrown away; ``error`` tells the backend that add-node will
        # find no stored clusters for this graph (it starts new ones) until the graph is generated again.
        logger.error("vectors.index_failed", error_type=type(error).__name__, retries_left=0)
        errors.append(
            f"vector indexing failed after retries ({type(error).__name__}): the graph is saved, but"
            " add-node will not find its clusters until the graph is generated again"
        )
    summary_s3_key: str | None = None
    if request.include_summary:
        try:
            summary_s3_key = add_summary(request, task_id, built.graph, llm)
        except Exception as error:  # the graph stands without its summary: partial success
            logger.error("summary.failed", error_type=type(error).__name__, exc_info=True)
            errors.append(f"summary failed: {type(error).__name__}")
    logger.info(
        "graph.done",
        nodes=built.graph.metadata.total_nodes,
        edges=built.graph.metadata.total_edges,
        clusters=built.graph.metadata.total_clusters,
    )
    return GraphGenerationResult(
        user_id=request.user_id,
        status=Status.COMPLETED,
        result_s3_key=graph_key(request.user_id, task_id),
        features_s3_key=features_key(request.user_id, task_id),
        summary_included=summary_s3_key is not None,
        summary_s3_key=summary_s3_key,
        chat_id=request.chat_id,
        error="; ".join(errors) or None,
    )
