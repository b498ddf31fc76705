"""What ``dramatiq actors`` imports: the broker from settings, then every actor.

``runtime`` builds the broker (with the middleware) from the environment; each module below declares
one actor on it, with the ``taskType`` it serves.
"""

from actors import add_node, graph_generation, graph_summary, rejection
from actors.runtime import broker, services, settings

__all__ = ["add_node", "broker", "graph_generation", "graph_summary", "rejection", "services", "settings"]
