"""The optional LLM of one task: one client per task, bounded in time, never required."""

from __future__ import annotations

from adapters.llm import LLMClient, llm_from_settings
from core.settings import Settings

#: Seconds one LLM request may take.
TIMEOUT = 20.0
#: Seconds all LLM requests of one task may take together.
BUDGET = 60.0


def task_llm(settings: Settings) -> LLMClient | None:
    """A client for one task when an LLM is configured, else ``None``."""
    return llm_from_settings(settings, timeout=TIMEOUT, budget=BUDGET)
