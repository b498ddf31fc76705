"""Building the Dramatiq broker chosen by ``BROKER``, with the worker's middleware installed."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AgeLimit, Retries

from ..middleware.correlation import Correlation
from ..middleware.envelope import EnvelopeDecoding
from ..middleware.results import ResultPublisher
from ..services import Services
from ..settings import Settings

#: The queue every actor consumes (the backend's request queue in production).
QUEUE = "default"
#: Retries of a transiently failing task, and their backoff (SQS cannot delay beyond 900 s).
MAX_RETRIES = 5
MIN_BACKOFF_MS = 15_000
MAX_BACKOFF_MS = 900_000


def make_broker(settings: Settings) -> dramatiq.Broker:
    """The bare broker chosen by ``BROKER``."""
    if settings.broker == "sqs":
        from ..adapters.aws import CLIENT_CONFIG
        from ..brokers.sqs import EnvelopeSQSBroker

        assert settings.sqs_request_queue_url is not None  # checked by Settings
        return EnvelopeSQSBroker(
            request_queue_url=settings.sqs_request_queue_url,
            dead_letter_queue_url=settings.sqs_dead_letter_queue_url,
            visibility_timeout=settings.sqs_visibility_timeout,
            region_name=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url,
            config=CLIENT_CONFIG,
        )
    if settings.broker == "redis":
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=settings.redis_url)
    return StubBroker()


def build_broker(settings: Settings, services: Services) -> dramatiq.Broker:
    """The broker with envelope decoding, correlation, result publishing and capped retries."""
    broker = make_broker(settings)
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
