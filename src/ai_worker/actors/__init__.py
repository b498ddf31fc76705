"""What ``dramatiq ai_worker.actors`` imports: the broker from settings, then every actor.

``runtime`` builds the broker (with the middleware) from the environment; each module below declares
one actor on it, with the ``taskType`` it serves.
"""

from . import graph_generation, rejection
from .runtime import broker, services, settings

__all__ = ["broker", "graph_generation", "rejection", "services", "settings"]
