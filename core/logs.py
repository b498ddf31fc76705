"""Logging: structlog for our lines, the same processors for the standard library's.

Configured once at start-up. JSON lines in production, readable console output in development;
every line carries the correlation context of the message being processed.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import IO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

_SECRET_KEYS = (
    "internalservicetoken", "api_key", "apikey", "dsn", "password", "secret", "token", "authorization",
)  # fmt: skip
#: A secret-looking key followed by ``:`` or ``=`` inside text (Dramatiq logs message arguments
#: verbatim, as Python reprs; others log JSON or ``key=value``). Its value is found by ``_value_end``.
_SECRET_KEY = re.compile(
    r"""(?i)["']?(?:internal[_-]?service[_-]?token|api[_-]?key|password|secret|token|dsn|authorization)"""
    r"""["']?\s*[:=]\s*(?:(?:Bearer|Basic)\s+)?"""
)
#: Credentials in URLs and presigned-URL signatures.
_URL_SECRETS = re.compile(
    r"(?i)(://)[^/@\s:]+(?::[^/@\s]*)?@|(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s'\"]+"
)
_OPENERS = {"{": "}", "[": "]", "(": ")"}


def redact_text(text: str) -> str:
    """``text`` with secret values replaced by ``[redacted]``: a whole quoted string (escapes and all),
    a whole object, list or tuple, or a bare word."""
    parts: list[str] = []
    position = 0
    for match in _SECRET_KEY.finditer(text):
        if match.start() < position:
            continue  # inside a value already redacted
        parts.append(text[position : match.end()] + "'[redacted]'")
        position = _value_end(text, match.end())
    parts.append(text[position:])
    return _URL_SECRETS.sub(_redact_url_secret, "".join(parts))


def _value_end(text: str, start: int) -> int:
    """Where the value that begins at ``start`` ends: a quoted string, a bracketed value (strings in
    it skipped), or a bare word up to a space, comma or closing bracket."""
    closing: list[str] = []
    index = start
    while index < len(text):
        char = text[index]
        if char in "'\"":
            index = _string_end(text, index)
            if not closing:
                return index
            continue
        if char in _OPENERS:
            closing.append(_OPENERS[char])
        elif closing and char == closing[-1]:
            closing.pop()
            if not closing:
                return index + 1
        elif not closing and (char.isspace() or char in ",;&)]}"):
            return index
        index += 1
    return index


def _string_end(text: str, start: int) -> int:
    """The position after the quoted string that begins at ``start`` (backslash escapes honoured)."""
    quote = text[start]
    index = start + 1
    while index < len(text):
        if text[index] == "\\":
            index += 2
        elif text[index] == quote:
            return index + 1
        else:
            index += 1
    return index


def _redact_url_secret(match: re.Match[str]) -> str:
    if match.group(1):  # user:password@ in a URL
        return match.group(1) + "[redacted]@"
    return match.group(2) + "[redacted]"


def is_secret_key(key: str) -> bool:
    """True if a field named ``key`` holds a secret (token, API key, DSN, password...)."""
    lowered = key.lower()
    return any(marker in lowered for marker in _SECRET_KEYS)


def redact_secrets(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Replace the value of any secret-looking key, and secrets inside any text value."""
    for key, value in list(event_dict.items()):
        if is_secret_key(key):
            event_dict[key] = "[redacted]"
        elif isinstance(value, str):
            event_dict[key] = redact_text(value)
    return event_dict


class _DropReturnValueWarning(logging.Filter):
    """Our actors return result payloads for the publisher middleware, not for Dramatiq's Results."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned a value that is not None" not in record.getMessage()


_SHARED: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    redact_secrets,
]


def build_handler(log_format: str, stream: IO[str]) -> logging.Handler:
    """A handler rendering every record, ours and the libraries', as JSON or console lines."""
    renderer: Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(_DropReturnValueWarning())
    return handler


def configure_logging(log_format: str = "json", level: str = "INFO") -> None:
    """Route structlog and standard logging through one handler on the root logger."""
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    root.handlers[:] = [build_handler(log_format, sys.stderr)]
    root.setLevel(level)
    for noisy in (
        "chromadb",
        "httpx",
        "httpx2",
        "openai",
        "sentence_transformers",
        "urllib3",
        "botocore",
        "filelock",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
