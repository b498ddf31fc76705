"""The worker's core: settings, errors, the correlation context, logging, audit, Sentry and the
services (blob store, vector store, result sink, embedder) a task uses."""
