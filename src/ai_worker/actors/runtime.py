"""The process's settings, services and broker, built once when the actors are imported."""

from __future__ import annotations

import dramatiq

from ..logs import configure_logging
from ..sentry import init_sentry
from ..services import Services
from ..settings import get_settings
from .broker import build_broker

settings = get_settings()
configure_logging(settings.log_format, settings.log_level)
init_sentry(settings)  # before the broker: the Dramatiq integration patches Broker.__init__
services = Services(settings)
broker = build_broker(settings, services)
dramatiq.set_broker(broker)
