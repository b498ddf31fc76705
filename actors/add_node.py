"""ADD_NODE_REQUEST: new conversations and notes placed into a user's graph, ``result.json`` out."""

from __future__ import annotations

import structlog

from actors.base import task_actor
from actors.graph_generation import file_limits, input_keys
from actors.llm import task_llm
from actors.runtime import services
from adapters.blobs import read_objects
from adapters.llm import LLMClient, explain_assignment, name_cluster
from adapters.vectors import ChromaVectorStore, UserVectors
from core.errors import InvalidInput
from models.envelope import TaskType
from models.requests import AddNodeRequest
from models.results import AddNodeResult, Status
from pipelines.add_node import (
    Batch,
    Explainer,
    KnownCluster,
    Namer,
    add_items,
    batch_cluster_rows,
    clusters_from_rows,
    node_id,
    read_batch,
    result_document,
)

logger = structlog.get_logger(__name__)


def result_key(user_id: str, task_id: str) -> str:
    """Where ``result.json`` of a task is written."""
    return f"results/add_node/{user_id}/{task_id}/result.json"


def known_clusters(
    store: ChromaVectorStore, user_id: str, batch: Batch, batch_ids: set[str], task_id: str
) -> tuple[dict[str, KnownCluster], set[str], set[str]]:
    """Clusters, taken cluster ids and the batch's already stored node ids.

    Clusters come from the user's stored cluster rows (written by graph generation and by add-node
    tasks that opened clusters) and the batch's ``existingClusters``. Rows this task wrote in an
    earlier delivery are left out, so a redelivery is placed exactly as the first delivery was.
    """
    vectors, rows = store.user_clusters(user_id)
    keep = [i for i, row in enumerate(rows) if row.get("taskId") != task_id]
    clusters = clusters_from_rows(vectors[keep], [rows[i] for i in keep], batch.existing_clusters)
    taken = {str(rows[i].get("cluster_id")) for i in keep}
    stored_batch_ids = set(store.get(sorted(batch_ids))) if batch_ids else set()
    return clusters, taken, stored_batch_ids


def helpers(llm: LLMClient | None, language: str) -> tuple[Explainer | None, Namer | None]:
    """The LLM's reasoning and naming helpers, or ``None`` without an LLM."""
    if llm is None:
        return None, None

    def explain(title: str, cluster_name: str, themes: list[str]) -> str | None:
        return explain_assignment(llm, language, title, cluster_name, themes)

    def namer(themes: list[str], titles: list[str]) -> tuple[str, str] | None:
        return name_cluster(llm, language, themes, titles)

    return explain, namer


@task_actor(TaskType.ADD_NODE_REQUEST, AddNodeRequest)
def add_node(request: AddNodeRequest, task_id: str) -> AddNodeResult:
    """Place the batch's items into the user's graph and answer with the key of ``result.json``."""
    blobs = services.blobs
    bucket = request.bucket or services.settings.s3_payload_bucket
    keys = input_keys(blobs, [request.s3_key, *request.extra_s3_keys], bucket)
    objects = read_objects(blobs, keys, bucket, services.max_input_bytes)
    batch = read_batch(objects, file_limits(services.settings))
    for key, reason in batch.skipped:
        logger.warning("add_node.object_skipped", key=key, reason=reason)
    if batch.skipped and not batch.items and len(batch.skipped) == len(keys):
        raise InvalidInput(f"nothing readable in {request.s3_key!r}")
    if batch.user_ids - {request.user_id}:
        raise InvalidInput("the batch belongs to another user")

    user_id = request.user_id
    batch_ids = {node_id(user_id, b.orig_id) for b in batch.items if b.item is not None and b.orig_id}
    clusters, taken, stored_batch_ids = known_clusters(services.vectors, user_id, batch, batch_ids, task_id)
    llm = task_llm(services.settings)
    try:
        explain, namer = helpers(llm, request.language)
        placed = add_items(
            batch.items,
            services.embedder,
            UserVectors(services.vectors, user_id),
            clusters,
            user_id=user_id,
            task_id=task_id,
            language=request.language,
            taken_cluster_ids=taken,
            stored_batch_ids=stored_batch_ids,
            explain=explain,
            namer=namer,
        )
    finally:
        if llm is not None:
            llm.close()
    rows = batch_cluster_rows(user_id, task_id, placed, services.embedder.dim)
    services.vectors.upsert_clusters(user_id, task_id, rows)
    document = result_document(user_id, placed)
    key = result_key(user_id, task_id)
    data = document.model_dump_json(by_alias=True, exclude_none=True).encode()
    blobs.put(key, data, services.settings.s3_payload_bucket)
    logger.info(
        "add_node.done",
        items=len(document.results),
        processed=document.processed_count,
        new_clusters=sum(
            1 for r in document.results if r.assigned_cluster and r.assigned_cluster.is_new_cluster
        ),
    )
    return AddNodeResult(user_id=user_id, status=Status.COMPLETED, result_s3_key=key)
