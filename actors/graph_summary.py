"""GRAPH_SUMMARY_REQUEST: a stored graph in, ``summary.json`` out."""

from __future__ import annotations

import json

import structlog

from actors.base import task_actor
from actors.llm import task_llm
from actors.runtime import services
from adapters.blobs import BlobStore, put_json, read_objects
from adapters.llm import LLMClient, write_summary_text
from core.errors import InvalidInput
from models.envelope import TaskType
from models.graph import GraphDocument
from models.requests import GraphSummaryRequest
from models.results import GraphSummaryResult, Status
from models.summary import SummaryDocument
from pipelines.polish import polish_summary
from pipelines.summary import normalize_graph, summarize_graph

logger = structlog.get_logger(__name__)


def summary_key(user_id: str, task_id: str) -> str:
    """Where ``summary.json`` of a task is written."""
    return f"results/graph_summary/{user_id}/{task_id}/summary.json"


def build_summary(graph: GraphDocument, language: str, llm: LLMClient | None) -> SummaryDocument:
    """The offline summary of ``graph``, its prose rewritten by ``llm`` where it answers."""
    summary = summarize_graph(graph, language)
    if llm is not None:
        changed = polish_summary(summary, lambda facts: write_summary_text(llm, language, facts))
        logger.info("summary.polished", changed=changed)
    return summary


def write_summary(
    blobs: BlobStore, user_id: str, task_id: str, graph: GraphDocument, language: str, llm: LLMClient | None
) -> str:
    """Summarise ``graph`` into ``summary.json``; returns its key."""
    key = summary_key(user_id, task_id)
    put_json(blobs, key, build_summary(graph, language, llm), services.settings.s3_payload_bucket)
    return key


def read_graph(blobs: BlobStore, key: str, bucket: str | None) -> GraphDocument:
    """The graph stored at ``key``; ``InvalidInput`` when it is not a graph."""
    ((_, data),) = read_objects(blobs, [key], bucket, services.max_input_bytes)
    try:
        raw = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidInput(f"the graph at {key!r} is not JSON: {error}") from None
    try:
        return normalize_graph(raw)
    except ValueError as error:
        raise InvalidInput(f"the object at {key!r} is not a graph: {error}"[:300]) from None


@task_actor(TaskType.GRAPH_SUMMARY_REQUEST, GraphSummaryRequest)
def summarize_graph_task(request: GraphSummaryRequest, task_id: str) -> GraphSummaryResult:
    """Summarise the user's stored graph and answer with the key of ``summary.json``."""
    blobs = services.blobs
    graph = read_graph(blobs, request.graph_s3_key, request.bucket or services.settings.s3_payload_bucket)
    llm = task_llm(services.settings)
    try:
        key = write_summary(blobs, request.user_id, task_id, graph, request.language, llm)
    finally:
        if llm is not None:
            llm.close()
    logger.info("summary.done", nodes=len(graph.nodes), clusters=len(graph.metadata.clusters))
    return GraphSummaryResult(
        user_id=request.user_id, status=Status.COMPLETED, summary_s3_key=key, chat_id=request.chat_id
    )
