"""Sentry: configured once at start-up, before the broker is built (its Dramatiq integration patches
``Broker.__init__`` to install its middleware).

Events and transactions pass ``scrub`` on their way out: secret-looking fields (``internalServiceToken``,
API keys, DSNs, passwords) and secrets inside text (presigned URL signatures, credentials in URLs) are
replaced, as in the logs. Bad input (``PermanentError``, answered ``FAILED``) is never an error event.
"""

from __future__ import annotations

from typing import Any

import sentry_sdk
from sentry_sdk.integrations.dramatiq import DramatiqIntegration
from sentry_sdk.integrations.logging import ignore_logger
from sentry_sdk.transport import Transport

from core.errors import PermanentError
from core.logs import is_secret_key, redact_text
from core.settings import Settings

#: Dramatiq's worker logs every unexpected task error; the integration already captures it once.
_DUPLICATE_LOGGERS = ("dramatiq.worker.WorkerThread",)


def scrub(value: Any) -> Any:
    """``value`` (an event, or any part of one) with its secrets replaced by ``[redacted]``."""
    if isinstance(value, dict):
        return {
            key: "[redacted]" if isinstance(key, str) and is_secret_key(key) else scrub(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(scrub(item) for item in value)
    if isinstance(value, str):
        return redact_text(value)
    return value


def before_send(event: Any, hint: dict[str, Any]) -> Any:
    """Drop events of bad input; scrub secrets from the rest."""
    exc_info = hint.get("exc_info") if hint else None
    if exc_info and isinstance(exc_info[1], PermanentError):
        return None
    return scrub(event)


def before_send_transaction(event: Any, hint: dict[str, Any]) -> Any:
    """Scrub secrets from a transaction."""
    return scrub(event)


def init_sentry(settings: Settings, *, transport: Transport | None = None) -> bool:
    """Initialise Sentry with its Dramatiq integration if ``SENTRY_DSN`` is set; True if it was."""
    if settings.sentry_dsn is None:
        return False
    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        environment=settings.sentry_environment,
        release=settings.sentry_release,
        traces_sample_rate=settings.sentry_traces_sample_rate,
        send_default_pii=False,
        integrations=[DramatiqIntegration()],
        before_send=before_send,
        before_send_transaction=before_send_transaction,
        transport=transport,
    )
    for name in _DUPLICATE_LOGGERS:
        ignore_logger(name)
    return True
