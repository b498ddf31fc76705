"""Logging: structlog for our lines, the same processors for the standard library's.

Configured once at start-up. JSON lines in production, readable console output in development;
every line carries the correlation context of the message being processed.
"""

from __future__ import annotations

import functools
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
    if ":" not in text and "=" not in text:  # every pattern needs one: most values are left at once
        return text
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


@functools.lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """True if a field named ``key`` holds a secret (token, API key, DSN, password...)."""
    lowered = key.lower()
    return any(marker in lowered for marker in _SECRET_KEYS)


def redact_secrets(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Replace the value of any secret-looking key, and secrets inside any text value."""
    for key, value in event_dict.items():
        if is_secret_key(key):
            event_dict[key] = "[redacted]"
        elif isinstance(value, str):
            event_dict[key] = redact_text(value)
    return event_dict


def redact_exception(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Secrets inside the traceback text ``format_exc_info`` adds (the rest was redacted before)."""
    exception = event_dict.get("exception")
    if isinstance(exception, str):
        event_dict["exception"] = redact_text(exception)
    return event_dict


class _DropReturnValueWarning(logging.Filter):
    """Our actors return result payloads for the publisher middleware, not for Dramatiq's Results."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Our own lines carry a dict: only text messages (Dramatiq's) can hold the warning.
        return (
            not isinstance(record.msg, str) or "returned a value that is not None" not in record.getMessage()
        )


class LineHandler(logging.StreamHandler):
    """A stream handler that renders each record before taking its lock and holds the lock only to
    write the line: worker threads logging at once wait for a write, not for each other's rendering."""

    def handle(self, record: logging.LogRecord) -> bool:
        """Filter, render, then write ``record`` as one line."""
        accepted = self.filter(record)
        if not accepted:
            return False
        if isinstance(accepted, logging.LogRecord):  # Python 3.12+: a filter may replace the record
            record = accepted
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return True
        with self.lock:  # type: ignore[union-attr]
            try:
                self.stream.write(line)
                self.flush()
            except Exception:
                self.handleError(record)
        return True


#: Every line, ours and the libraries': context, level, logger, secrets redacted, then the time.
_SHARED: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    redact_secrets,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
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
            redact_exception,
            renderer,
        ],
    )
    handler = LineHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(_DropReturnValueWarning())
    return handler


def configure_logging(log_format: str = "json", level: str = "INFO") -> None:
    """Route structlog and standard logging through one handler on the root logger.

    Records skip what no line shows: the caller's frame, thread and process (the logging HOWTO's
    "Optimization" settings), which is most of what a line costs besides rendering it.
    """
    logging._srcfile = None  # no frame walk for the caller of each line
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    structlog.configure(
        # Below the level a line is dropped before any processor runs.
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
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
