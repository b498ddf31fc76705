"""The process's settings, services and broker, built once when the actors are imported."""

from __future__ import annotations

import dramatiq

from actors.broker import build_broker
from core.logs import configure_logging
from core.sentry import init_sentry
from core.services import Services
from core.settings import get_settings

settings = get_settings()
configure_logging(settings.log_format, settings.log_level)
init_sentry(settings)  # before the broker: the Dramatiq integration patches Broker.__init__
services = Services(settings)
broker = build_broker(settings, services)
dramatiq.set_broker(broker)
