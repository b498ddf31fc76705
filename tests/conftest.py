"""Test set-up: the real actors on Dramatiq's StubBroker, a temporary blob folder and embedded Chroma.

The environment is set before ``actors`` is imported, exactly as an operator would set it.
"""

from __future__ import annotations

import io
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_WORK = Path(tempfile.mkdtemp(prefix="ai-worker-tests-"))
os.environ.update(
    {
        "BROKER": "stub",
        "BLOB_DIR": str(_WORK / "blobs"),
        "CHROMA_PATH": str(_WORK / "chroma"),
        "EMBEDDER": os.environ.get("TEST_EMBEDDER", "hybrid"),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "HF_HUB_OFFLINE": "1",
    }
)
for name in ("S3_PAYLOAD_BUCKET", "CHROMA_HOST", "SENTRY_DSN", "LLM_BASE_URL"):
    os.environ.pop(name, None)

import dramatiq  # noqa: E402

from actors import broker as _broker  # noqa: E402
from actors import services as _services  # noqa: E402
from actors.broker import QUEUE  # noqa: E402
from adapters.sinks import MemorySink  # noqa: E402
from core.logs import build_handler  # noqa: E402


@pytest.fixture(scope="session")
def services() -> Any:
    """The worker's services (blob store, vectors, sink, embedder)."""
    return _services


@pytest.fixture(scope="session")
def stub_worker() -> Iterator[dramatiq.Worker]:
    """One Dramatiq worker over the stub broker for the whole session."""
    worker = dramatiq.Worker(_broker, worker_threads=2, worker_timeout=50)
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def sink() -> MemorySink:
    """The in-memory result sink, emptied for each test."""
    memory = _services.sink
    assert isinstance(memory, MemorySink)
    memory.clear()
    return memory


def raw_runner(
    worker: dramatiq.Worker, sink: MemorySink
) -> Callable[[bytes | dict[str, Any]], list[dict[str, Any]]]:
    """A function that puts one raw body on the request queue as the backend would, waits, and returns
    what was published for it (for module-scoped fixtures too, which cannot use ``run_raw``)."""

    def run(body: bytes | dict[str, Any]) -> list[dict[str, Any]]:
        before = len(sink.envelopes)
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        _broker.queues[QUEUE].put(raw)  # type: ignore[attr-defined]
        _broker.join(QUEUE, fail_fast=False)  # type: ignore[attr-defined]
        worker.join()
        return sink.envelopes[before:]

    return run


@pytest.fixture
def run_raw(
    stub_worker: dramatiq.Worker, sink: MemorySink
) -> Callable[[bytes | dict[str, Any]], list[dict[str, Any]]]:
    """Put one raw body on the request queue as the backend would, wait, return what it published."""
    return raw_runner(stub_worker, sink)


@pytest.fixture
def upload(services: Any) -> Callable[[str, bytes | str | Any], None]:
    """Write one object into the blob store."""

    def put(key: str, data: bytes | str | Any) -> None:
        if isinstance(data, str):
            data = data.encode()
        elif not isinstance(data, bytes):
            data = json.dumps(data, ensure_ascii=False).encode()
        services.blobs.put(key, data)

    return put


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The JSON lines the worker's own handler renders while the test runs."""
    stream = io.StringIO()
    handler = build_handler("json", stream)
    logging.getLogger().addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    finally:
        logging.getLogger().removeHandler(handler)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remove the temporary blob folder and Chroma database."""
    import shutil

    shutil.rmtree(_WORK, ignore_errors=True)
