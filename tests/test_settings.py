"""Settings come from the documented environment variables; a bad value names its variable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.settings import (
    ECS_STOP_WINDOW_SECONDS,
    SHUTDOWN_MARGIN_SECONDS,
    ConfigurationError,
    Settings,
    load_settings,
)

NAMES = {
    "BROKER", "REDIS_URL", "SQS_REQUEST_QUEUE_URL", "SQS_RESULT_QUEUE_URL", "SQS_DEAD_LETTER_QUEUE_URL", "AWS_REGION",
    "AWS_ENDPOINT_URL", "S3_PAYLOAD_BUCKET", "BLOB_DIR", "CHROMA_PATH", "CHROMA_HOST", "CHROMA_PORT", "EMBEDDER",
    "LLM_BASE_URL", "LLM_API_KEY", "LLM_MODEL", "SENTRY_DSN", "LOG_FORMAT", "LOG_LEVEL",
}  # fmt: skip
#: Tuning knobs beyond the deployment contract's names.
EXTRA = {
    "SQS_VISIBILITY_TIMEOUT", "MAX_INPUT_MB", "SENTRY_ENVIRONMENT", "SENTRY_RELEASE", "SENTRY_TRACES_SAMPLE_RATE",
    "METRICS", "HEALTH_FILE", "ECS_AGENT_URI", "ECS_PROTECTION_MINUTES", "WORKER_THREADS", "WORKER_SHUTDOWN_SECONDS",
    "FILE_MAX_EXPANDED_MB", "FILE_MAX_PAGES", "FILE_TIMEOUT_SECONDS", "FILE_MEMORY_MB", "FILE_TASK_SECONDS",
}  # fmt: skip


def test_every_documented_variable_is_a_setting() -> None:
    assert {field.alias for field in Settings.model_fields.values()} == NAMES | EXTRA


def test_defaults_are_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NAMES | EXTRA:
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.broker == "stub" and settings.embedder == "hybrid"
    assert settings.s3_payload_bucket is None and settings.chroma_host is None


def test_values_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHROMA_PORT", "8123")
    monkeypatch.setenv("LLM_API_KEY", "sk-secret")
    settings = load_settings()
    assert settings.chroma_port == 8123
    assert "sk-secret" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [("BROKER", "kafka"), ("CHROMA_PORT", "abc"), ("LOG_FORMAT", "xml"), ("LOG_LEVEL", "LOUD")],
)
def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert name in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WORKER_SHUTDOWN_SECONDS", "115"),  # no room left for release and flushes before ECS's SIGKILL
        ("WORKER_SHUTDOWN_SECONDS", "0"),
        ("WORKER_SHUTDOWN_SECONDS", "soon"),
        ("WORKER_THREADS", "0"),
    ],
)
def test_worker_budget_and_threads_are_validated(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert name in str(caught.value)


def test_the_shutdown_budget_stays_inside_the_ecs_stop_window(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WORKER_SHUTDOWN_SECONDS", "WORKER_THREADS"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert (settings.worker_shutdown_seconds, settings.worker_threads) == (100, 1)
    assert settings.worker_shutdown_seconds + SHUTDOWN_MARGIN_SECONDS <= ECS_STOP_WINDOW_SECONDS
    monkeypatch.setenv("WORKER_SHUTDOWN_SECONDS", "110")
    assert load_settings().worker_shutdown_seconds == 110


def test_sqs_needs_its_queues(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROKER", "sqs")
    monkeypatch.delenv("SQS_REQUEST_QUEUE_URL", raising=False)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert "SQS_REQUEST_QUEUE_URL" in str(caught.value)


def test_worker_refuses_to_start_on_a_bad_value() -> None:
    env = {"BROKER": "kafka", "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, "-c", "import actors"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0
    assert "BROKER" in run.stderr and "Traceback" not in run.stderr
