"""Building the Dramatiq broker chosen by ``BROKER``, with the worker's middleware installed."""

from __future__ import annotations

from collections.abc import Callable

import dramatiq
import sentry_sdk
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AgeLimit, CurrentMessage, Retries
from sentry_sdk.integrations.dramatiq import SentryMiddleware

from core.services import Services
from core.settings import Settings
from middleware.concurrency import Concurrency
from middleware.correlation import Correlation
from middleware.envelope import EnvelopeDecoding
from middleware.liveness import Liveness
from middleware.metrics import TaskMetrics
from middleware.results import ResultPublisher
from middleware.sentry_scope import SentryScope
from middleware.shutdown import ShutdownBudget
from middleware.stages import StageTiming
from middleware.task_protection import TaskProtection
from middleware.warmup import Warmup

#: The queue every actor consumes (the backend's request queue in production).
QUEUE = "default"
#: Retries of a transiently failing task, and their backoff (SQS cannot delay beyond 900 s).
MAX_RETRIES = 5
MIN_BACKOFF_MS = 15_000
MAX_BACKOFF_MS = 900_000


def make_broker(settings: Settings) -> dramatiq.Broker:
    """The bare broker chosen by ``BROKER``."""
    if settings.broker == "sqs":
        from adapters.aws import CLIENT_CONFIG
        from brokers.sqs import EnvelopeSQSBroker

        assert settings.sqs_request_queue_url is not None  # checked by Settings
        return EnvelopeSQSBroker(
            request_queue_url=settings.sqs_request_queue_url,
            dead_letter_queue_url=settings.sqs_dead_letter_queue_url,
            visibility_timeout=settings.sqs_visibility_timeout,
            # A consumer that stops receives the answer to its last long poll (and releases what it
            # brought) well before the shutdown deadline.
            wait_time_seconds=max(1, int(settings.worker_shutdown_seconds / 2)),  # at most 20 (SQS)
            region_name=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url,
            config=CLIENT_CONFIG,
        )
    if settings.broker == "redis":
        from brokers.redis import EnvelopeRedisBroker

        return EnvelopeRedisBroker(url=settings.redis_url)
    return StubBroker()


def build_broker(settings: Settings, services: Services) -> dramatiq.Broker:
    """The broker with envelope decoding, correlation, result publishing and capped retries, and the
    operational middleware: Sentry scope, stage timing, metrics, ECS task protection, liveness, the
    worker's own concurrency, models loaded at boot and its shutdown budget.

    The shutdown budget comes first, so that its deadline starts before any other middleware's
    shutdown work; correlation comes next so that every other middleware (and Sentry's) sees the context.
    The stub broker (tests, the demo) runs workers its callers size, warm and stop themselves: no
    concurrency, warm-up or shutdown budget there.
    """
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
    broker.add_middleware(StageTiming())
    broker.add_middleware(CurrentMessage())
    install_sentry_scope(broker)
    if settings.metrics and settings.broker != "stub":
        from dramatiq.middleware.prometheus import Prometheus

        broker.add_middleware(Prometheus())
        broker.add_middleware(TaskMetrics())
    if settings.ecs_agent_uri:
        broker.add_middleware(
            TaskProtection(settings.ecs_agent_uri, expires_minutes=settings.ecs_protection_minutes)
        )
    broker.add_middleware(Liveness(settings.health_file))
    if settings.broker != "stub":  # the worker process (`dramatiq actors`), not tests and the demo
        broker.add_middleware(Concurrency(settings.worker_threads))
        broker.add_middleware(Warmup(services))
        budget = ShutdownBudget(settings.worker_shutdown_seconds, release=releaser(broker))
        broker.middleware.insert(0, budget)
    dramatiq.set_encoder(decoding.encoder)
    return broker


def retries_left() -> int:
    """How many retries the message being processed has after this attempt (0 outside a message).

    As Dramatiq's ``Retries`` counts them: the message's ``max_retries`` option, else its actor's, else
    the middleware's; less the retries already made. An actor that can stand a fault once its retries
    are spent (rather than fail) asks this before it gives up.
    """
    message = CurrentMessage.get_current_message()
    if message is None:
        return 0
    broker = dramatiq.get_broker()
    policy = next((m for m in broker.middleware if isinstance(m, Retries)), None)
    default = policy.max_retries if policy is not None else 0
    limit = message.options.get(
        "max_retries", broker.get_actor(message.actor_name).options.get("max_retries", default)
    )
    return max(0, int(limit or 0) - int(message.options.get("retries", 0)))


def releaser(broker: dramatiq.Broker) -> Callable[[], int] | None:
    """What releases the broker's unfinished messages at once: the SQS broker can (visibility 0); the
    Redis broker's are requeued by its own maintenance, after its heartbeat timeout."""
    from brokers.sqs import EnvelopeSQSBroker

    return broker.release_unfinished if isinstance(broker, EnvelopeSQSBroker) else None


def install_sentry_scope(broker: dramatiq.Broker) -> None:
    """With Sentry initialised: ``SentryScope`` right after the integration's middleware."""
    if not sentry_sdk.get_client().is_active():
        return
    if not any(isinstance(m, SentryMiddleware) for m in broker.middleware):
        # A broker built before sentry_sdk.init: right after the correlation, which it must see.
        correlation = next(i for i, m in enumerate(broker.middleware) if isinstance(m, Correlation))
        broker.middleware.insert(correlation + 1, SentryMiddleware())
    position = next(i for i, m in enumerate(broker.middleware) if isinstance(m, SentryMiddleware))
    broker.middleware.insert(position + 1, SentryScope())
