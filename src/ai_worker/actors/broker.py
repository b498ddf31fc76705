"""Building the Dramatiq broker chosen by ``BROKER``, with the worker's middleware installed."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AgeLimit, Retries

from ..middleware.correlation import Correlation
from ..middleware.envelope import EnvelopeDecoding
from ..middleware.results import ResultPublisher
from ..services import Services
from ..settings import ConfigurationError, Settings

#: The queue every actor consumes (the backend's request queue in production).
QUEUE = "default"
#: Retries of a transiently failing task, and their backoff (SQS cannot delay beyond 900 s).
MAX_RETRIES = 5
MIN_BACKOFF_MS = 15_000
MAX_BACKOFF_MS = 900_000


def build_broker(settings: Settings, services: Services) -> dramatiq.Broker:
    """The broker with envelope decoding, correlation, result publishing and capped retries."""
    if settings.broker == "stub":
        broker: dramatiq.Broker = StubBroker()
    else:
        raise ConfigurationError(f"BROKER={settings.broker}: this broker is not available yet")
    broker.middleware[:] = [
        Retries(max_retries=MAX_RETRIES, min_backoff=MIN_BACKOFF_MS, max_backoff=MAX_BACKOFF_MS)
        if isinstance(m, Retries)
        else m
        for m in broker.middleware
        if not isinstance(m, AgeLimit)
    ]
    decoding = EnvelopeDecoding()
    broker.add_middleware(decoding)
    broker.middleware.insert(0, Correlation())
    broker.add_middleware(ResultPublisher(services.sink), before=Retries)
    dramatiq.set_encoder(decoding.encoder)
    return broker
