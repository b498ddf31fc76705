"""ai-worker: the Dramatiq worker that turns AI-chat histories into knowledge graphs."""
