"""The worker on the Redis broker (local development) against the real Redis on 127.0.0.1:6379.

A local producer (``ai-worker enqueue``) sends the backend's envelopes through the same decoding; the
answers land on a Redis list that ``ai-worker results`` reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from adapters.sinks import RESULTS_KEY

from helpers import EXAMPLES
from servers import wait_for, worker_process

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A private Redis database, emptied before and after."""
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.ConnectionError:
        pytest.fail("Redis must run on 127.0.0.1:6379 (.ci/run starts it)")
    connection.flushdb()
    yield {
        "BROKER": "redis",
        "REDIS_URL": REDIS_URL,
        "BLOB_DIR": str(tmp_path / "blobs"),
        "CHROMA_PATH": str(tmp_path / "chroma"),
    }
    connection.flushdb()


def cli(env: dict[str, str], *args: str) -> str:
    """Run ``ai-worker`` with the given settings; returns its output."""
    command = [str(Path(sys.executable).parent / "ai-worker"), *args]
    run = subprocess.run(
        command,
        env={**os.environ, **env, "LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_envelopes_through_redis(redis_env: dict[str, str], tmp_path: Path) -> None:
    sent = json.loads(
        cli(redis_env, "enqueue", "GRAPH_GENERATION_REQUEST", str(EXAMPLES / "bundle"), "--user", "u-redis")
    )
    assert sent["payload"]["s3Key"] == f"graph-generation/{sent['taskId']}/"
    bad_batch = tmp_path / "batch.json"
    bad_batch.write_text("{}")
    summary = json.loads(
        cli(redis_env, "enqueue", "GRAPH_SUMMARY_REQUEST", str(bad_batch), "--user", "u-redis")
    )
    connection = redis.Redis.from_url(REDIS_URL)

    def answers() -> list[dict[str, Any]]:
        items = [json.loads(raw) for raw in connection.lrange(RESULTS_KEY, 0, -1)]
        return [a for a in items if not a["taskType"].endswith("_PROGRESS")]

    with worker_process(redis_env, tmp_path / "worker.log"):
        wait_for(lambda: len(answers()) >= 2, 240)
    by_id = {a["taskId"]: a for a in answers()}
    assert by_id[sent["taskId"]]["payload"]["status"] == "COMPLETED"
    assert by_id[summary["taskId"]]["taskType"] == "GRAPH_SUMMARY_RESULT"
    assert by_id[summary["taskId"]]["payload"]["status"] == "FAILED"
    assert len(answers()) == 2
    printed = cli(redis_env, "results").splitlines()
    assert len(printed) >= 2 and any(sent["taskId"] in line for line in printed)
