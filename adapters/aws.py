"""boto3 clients for S3 and SQS, and the mapping of their errors onto permanent or transient ones."""

from __future__ import annotations

from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, EndpointConnectionError

from core.errors import InputNotFound, PermanentError, TaskError, TransientError

#: boto3's own retries for throttling and 5xx before an error reaches the task.
CLIENT_CONFIG = Config(retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=5, read_timeout=60)

_NOT_FOUND = {"NoSuchKey", "NoSuchBucket", "404", "NotFound"}
_DENIED = {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"}


def client(service: Literal["s3", "sqs"], *, region: str, endpoint_url: str | None = None) -> Any:
    """A boto3 client; ``endpoint_url`` points at an S3/SQS-compatible server."""
    return boto3.client(service, region_name=region, endpoint_url=endpoint_url, config=CLIENT_CONFIG)


def classify(error: Exception, what: str) -> TaskError:
    """A boto error as the task error that decides retry or answer."""
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _NOT_FOUND:
            return InputNotFound(f"{what}: not found")
        if code in _DENIED:
            return PermanentError(f"{what}: access denied ({code})", code="ACCESS_DENIED")
        if status >= 500 or status == 429 or "Throttl" in code or code in ("SlowDown", "RequestTimeout"):
            return TransientError(f"{what}: {code or status}")
        return PermanentError(f"{what}: {code or status}", code="STORAGE_ERROR")
    if isinstance(error, EndpointConnectionError | ConnectionError | BotoCoreError):
        return TransientError(f"{what}: {type(error).__name__}")
    return TransientError(f"{what}: {type(error).__name__}")
