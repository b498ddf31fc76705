"""Worker configuration, read once from the environment.

Every outside part (broker, blob store, vector store, result sink, embedder, LLM) is chosen here and
nowhere else. The variable names are part of the deployment contract: operators and the ECS task
definition set exactly these.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: ECS's stop window on Fargate: SIGKILL follows SIGTERM after ``stopTimeout`` (at most 120 s).
ECS_STOP_WINDOW_SECONDS = 120
#: What the worker needs besides its budget: before Dramatiq starts stopping (a second or more while a
#: task thread holds the GIL) and after the deadline (release at most 5 s, Sentry flush at most 2 s).
#: The budget stays this far inside the stop window.
SHUTDOWN_MARGIN_SECONDS = 10


class ConfigurationError(SystemExit):
    """A bad environment value; stops the process with a message naming the variable."""


class Settings(BaseSettings):
    """All configuration of the worker. Unset means the embedded default (no servers)."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    broker: Literal["stub", "redis", "sqs"] = Field("stub", alias="BROKER")
    redis_url: str = Field("redis://127.0.0.1:6379/0", alias="REDIS_URL")

    sqs_request_queue_url: str | None = Field(None, alias="SQS_REQUEST_QUEUE_URL")
    sqs_result_queue_url: str | None = Field(None, alias="SQS_RESULT_QUEUE_URL")
    sqs_dead_letter_queue_url: str | None = Field(None, alias="SQS_DEAD_LETTER_QUEUE_URL")
    sqs_visibility_timeout: int = Field(120, ge=30, le=43_200, alias="SQS_VISIBILITY_TIMEOUT")
    aws_region: str = Field("ap-northeast-2", alias="AWS_REGION")
    aws_endpoint_url: str | None = Field(None, alias="AWS_ENDPOINT_URL")

    s3_payload_bucket: str | None = Field(None, alias="S3_PAYLOAD_BUCKET")
    blob_dir: Path = Field(Path("var/blobs"), alias="BLOB_DIR")
    max_input_mb: int = Field(200, ge=1, alias="MAX_INPUT_MB")
    file_max_expanded_mb: int = Field(128, ge=1, alias="FILE_MAX_EXPANDED_MB")
    file_max_pages: int = Field(2000, ge=1, alias="FILE_MAX_PAGES")
    file_timeout_seconds: float = Field(60.0, gt=0, alias="FILE_TIMEOUT_SECONDS")
    file_memory_mb: int = Field(1024, ge=128, alias="FILE_MEMORY_MB")
    file_task_seconds: float = Field(900.0, gt=0, alias="FILE_TASK_SECONDS")

    chroma_path: Path = Field(Path("var/chroma"), alias="CHROMA_PATH")
    chroma_host: str | None = Field(None, alias="CHROMA_HOST")
    chroma_port: int = Field(8000, ge=1, le=65535, alias="CHROMA_PORT")

    embedder: str = Field("hybrid", min_length=1, alias="EMBEDDER")

    llm_base_url: str | None = Field(None, alias="LLM_BASE_URL")
    llm_api_key: SecretStr | None = Field(None, alias="LLM_API_KEY")
    llm_model: str | None = Field(None, alias="LLM_MODEL")

    sentry_dsn: SecretStr | None = Field(None, alias="SENTRY_DSN")
    sentry_environment: str | None = Field(None, alias="SENTRY_ENVIRONMENT")
    sentry_release: str | None = Field(None, alias="SENTRY_RELEASE")
    sentry_traces_sample_rate: float = Field(0.1, ge=0.0, le=1.0, alias="SENTRY_TRACES_SAMPLE_RATE")
    metrics: bool = Field(True, alias="METRICS")
    health_file: Path = Field(Path("/tmp/ai-worker.alive"), alias="HEALTH_FILE")
    worker_threads: int = Field(1, ge=1, le=16, alias="WORKER_THREADS")
    worker_shutdown_seconds: float = Field(
        100, gt=0, le=ECS_STOP_WINDOW_SECONDS - SHUTDOWN_MARGIN_SECONDS, alias="WORKER_SHUTDOWN_SECONDS"
    )
    ecs_agent_uri: str | None = Field(None, alias="ECS_AGENT_URI")
    ecs_protection_minutes: int = Field(120, ge=1, le=2880, alias="ECS_PROTECTION_MINUTES")
    log_format: Literal["json", "console"] = Field("json", alias="LOG_FORMAT")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field("INFO", alias="LOG_LEVEL")

    @model_validator(mode="after")
    def _sqs_needs_queues(self) -> Settings:
        if self.broker == "sqs":
            for name in ("SQS_REQUEST_QUEUE_URL", "SQS_RESULT_QUEUE_URL"):
                if not getattr(self, name.lower()):
                    raise ValueError(f"{name} must be set when BROKER=sqs")
        return self


def load_settings() -> Settings:
    """Read the environment; a bad value raises ConfigurationError naming the variable."""
    try:
        return Settings()
    except ValidationError as error:
        problems = []
        for item in error.errors():
            field = str(item["loc"][0]) if item["loc"] else ""
            alias = Settings.model_fields[field].alias if field in Settings.model_fields else None
            name = alias or field or "configuration"
            problems.append(f"{name}: {item['msg']}")
        raise ConfigurationError("invalid worker configuration: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read on first use."""
    return load_settings()
