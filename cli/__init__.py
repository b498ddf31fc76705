"""The ``ai-worker`` command: the demo, the local stand-ins for the backend, the health check."""
