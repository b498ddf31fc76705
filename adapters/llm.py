"""An optional OpenAI-compatible LLM that can only ever make answers better.

The pipelines compute everything offline; when ``LLM_BASE_URL``, ``LLM_API_KEY`` and ``LLM_MODEL`` are
set, ``LLMClient`` may improve cluster names and summary prose. Every call returns ``None`` on any
failure (connection, timeout, HTTP error, rate limit, refusal, anything but a JSON object) so that the
caller keeps its offline result. Nothing here raises, retries or waits longer than the per-request
``timeout`` or the remaining ``budget`` of the task: once the budget is spent, calls return ``None`` at
once. Failures are logged once each as ``llm.fallback`` with a reason and an error type, never with
the API key, the prompts or the model's answer.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import openai
import structlog
from openai.types.chat import ChatCompletion

from core.audit import audit_calls, audited
from core.settings import Settings

_log = structlog.get_logger(__name__)

T = TypeVar("T")

#: Appended to every system prompt: JSON mode requires the word, and it keeps models honest.
JSON_INSTRUCTION = "Reply with one JSON object and nothing else: no prose, no Markdown fences."

_FENCED = re.compile(r"```(?:json)?\s*\n?(.*?)```", re.DOTALL | re.IGNORECASE)
_SPACES = re.compile(r"\s+")
#: Control characters (but tab and line breaks) and invisible formatting characters.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ud800-\udfff]"
)
#: Positions of ``{`` tried when looking for an object inside prose.
_MAX_OBJECT_STARTS = 8


class DeadlineExceeded(Exception):
    """The request outlived the time it was given (raised by ``call_within``)."""


class UnusableAnswer(Exception):
    """The endpoint answered, but not with a JSON object (a refusal, nothing, prose)."""

    def __init__(self, reason: str, finish_reason: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.finish_reason = finish_reason


class LLMClient:
    """Chat completions from an OpenAI-compatible endpoint, JSON objects only, never raising.

    Parameters:
      base_url(str): The endpoint, e.g. ``https://api.openai.com/v1``.
      api_key(str): Sent as the bearer token; never logged.
      model(str): The model name sent with every request.
      timeout(float): Seconds one request may take, end to end.
      budget(float): Seconds all requests of this client may take together (one client per task).
      clock(Callable[[], float]): Monotonic seconds; replaceable in tests.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        model: str,
        *,
        timeout: float = 20.0,
        budget: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.model = model
        self.timeout = timeout
        self.budget = budget
        self.spent = 0.0
        self._clock = clock
        self._budget_logged = False
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0)

    @property
    def remaining(self) -> float:
        """Seconds of the budget still available."""
        return max(0.0, self.budget - self.spent)

    def complete_json(self, system: str, user: str, *, max_tokens: int = 800) -> dict[str, Any] | None:
        """The model's answer as a JSON object, or ``None`` on any failure."""
        limit = min(self.timeout, self.remaining)
        if limit <= 0:
            self._log_budget_spent()
            return None
        started = self._clock()
        try:
            completion = call_within(limit, lambda: self._create(system, user, max_tokens, limit))
            return answer_object(completion)
        except Exception as error:
            self._log_failure(error)
            return None
        finally:
            self.spent += self._clock() - started

    def close(self) -> None:
        """Release the HTTP connections."""
        self._client.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _create(self, system: str, user: str, max_tokens: int, timeout: float) -> ChatCompletion:
        return self._client.chat.completions.create(
            model=self.model,
            messages=[
                {"role": "system", "content": f"{system.rstrip()}\n\n{JSON_INSTRUCTION}"},
                {"role": "user", "content": user},
            ],
            response_format={"type": "json_object"},
            max_tokens=max_tokens,  # not max_completion_tokens: most compatible servers know only this
            timeout=timeout,
        )

    def _log_budget_spent(self) -> None:
        if not self._budget_logged:
            self._budget_logged = True
            _log.warning(
                "llm.fallback", reason="budget_spent", error_type=None, model=self.model, budget=self.budget
            )

    def _log_failure(self, error: Exception) -> None:
        details: dict[str, Any] = {}
        if isinstance(error, UnusableAnswer):
            details.update(reason=error.reason, error_type=None, finish_reason=error.finish_reason)
        else:
            details.update(reason=failure_reason(error), error_type=type(error).__name__)
        if isinstance(error, openai.APIStatusError):
            details["status"] = error.status_code
        _log.warning("llm.fallback", model=self.model, **details)


def llm_from_settings(settings: Settings, *, timeout: float = 20.0, budget: float = 60.0) -> LLMClient | None:
    """A client when ``LLM_BASE_URL``, ``LLM_API_KEY`` and ``LLM_MODEL`` are all set, else ``None``."""
    base_url = (settings.llm_base_url or "").strip()
    api_key = settings.llm_api_key.get_secret_value().strip() if settings.llm_api_key else ""
    model = (settings.llm_model or "").strip()
    if not (base_url and api_key and model):
        return None
    try:
        with audited("llm", "connect"):
            client = LLMClient(base_url, api_key, model, timeout=timeout, budget=budget)
        return audit_calls(client, "llm", ["complete_json"], failed=lambda answer: answer is None)
    except Exception as error:
        _log.warning("llm.fallback", reason="configuration", error_type=type(error).__name__, model=model)
        return None


def answer_object(completion: ChatCompletion) -> dict[str, Any]:
    """The JSON object a completion carries; ``UnusableAnswer`` if it carries none."""
    choice = completion.choices[0]
    message = choice.message
    if message.refusal:
        raise UnusableAnswer("refusal", choice.finish_reason)
    if message.content is None or not message.content.strip():
        raise UnusableAnswer("empty", choice.finish_reason)
    parsed = parse_json_object(message.content)
    if parsed is None:
        raise UnusableAnswer("not_json", choice.finish_reason)
    return parsed


def call_within(seconds: float, call: Callable[[], T]) -> T:
    """``call()``'s result, or ``DeadlineExceeded`` once ``seconds`` have passed.

    The call runs in a daemon thread: HTTP timeouts bound each connect and read, not their sum, so
    this is what holds a slow-trickling server to the deadline. An abandoned call's result is
    dropped; its thread ends with the request (its own timeout, or the trickle's end).
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=run, name="llm-request", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise DeadlineExceeded(f"no answer within {seconds:.2f}s")
    if "error" in outcome:
        raise outcome["error"]
    value: T = outcome["value"]
    return value


def failure_reason(error: BaseException) -> str:
    """A short reason for a failed request, for ``llm.fallback``."""
    if isinstance(error, DeadlineExceeded | openai.APITimeoutError):
        return "timeout"
    if isinstance(error, openai.RateLimitError):
        return "rate_limited"
    if isinstance(error, openai.APIStatusError):
        return "http_error"
    if isinstance(error, openai.APIConnectionError):
        return "connection"
    return "bad_response"


def parse_json_object(text: str) -> dict[str, Any] | None:
    """The JSON object in ``text``: all of it, a ```json fenced block, or the first ``{...}``."""
    candidates = [text, *_FENCED.findall(text)]
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return _first_object(text)


def _first_object(text: str) -> dict[str, Any] | None:
    decoder = json.JSONDecoder()
    start = text.find("{")
    for _ in range(_MAX_OBJECT_STARTS):
        if start < 0:
            return None
        try:
            value, _end = decoder.raw_decode(text, start)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    return None


# Helpers for the pipelines: each returns None when the LLM is absent or its answer is unusable.

_LANGUAGES = {"ko": "Korean", "en": "English", "zh": "Chinese", "ja": "Japanese"}
_MAX_ITEMS = 15
_MAX_ITEM_CHARS = 120
_MAX_FACTS_CHARS = 8000


def language_name(language: str) -> str:
    """``ko`` → ``Korean``; unknown codes are named as codes."""
    return _LANGUAGES.get(language.lower(), f"the language with code {language!r}")


def name_cluster(
    client: LLMClient | None, language: str, themes: list[str], titles: list[str]
) -> tuple[str, str] | None:
    """A short name and a one-sentence description of a cluster of conversations, in ``language``."""
    if client is None:
        return None
    system = (
        "You name topics in a person's knowledge graph of AI-chat conversations. Given the topic's "
        "key themes and some conversation titles, return "
        '{"name": "<2-5 word topic name>", "description": "<one sentence describing the topic>"}. '
        f"Write both in {language_name(language)}."
    )
    user = json.dumps({"themes": _clip(themes), "titles": _clip(titles)}, ensure_ascii=False)
    answer = client.complete_json(system, user, max_tokens=200)
    if answer is None:
        return None
    name = clean_text(answer.get("name"), 60, minimum=1)
    description = clean_text(answer.get("description"), 300, minimum=4)
    if name is None or description is None:
        _log_invalid("name_cluster")
        return None
    return name, description


def write_summary_text(client: LLMClient | None, language: str, facts: dict[str, Any]) -> str | None:
    """Readable prose summarising ``facts`` (computed offline), in ``language``."""
    if client is None:
        return None
    system = (
        "You write a short, friendly overview of a person's AI-chat history from facts computed "
        'about it. Use only the facts given; invent nothing. Return {"summary": "<one or two '
        f'paragraphs>"}}. Write in {language_name(language)}.'
    )
    user = json.dumps(facts, ensure_ascii=False, default=str)[:_MAX_FACTS_CHARS]
    answer = client.complete_json(system, user, max_tokens=800)
    if answer is None:
        return None
    summary = clean_text(answer.get("summary"), 4000, minimum=10, single_line=False)
    if summary is None:
        _log_invalid("write_summary_text")
    return summary


def explain_assignment(
    client: LLMClient | None, language: str, item_title: str, cluster_name: str, themes: list[str]
) -> str | None:
    """One sentence on why an item belongs to a cluster, in ``language``."""
    if client is None:
        return None
    system = (
        "You explain why a new item was placed in a topic of a person's knowledge graph. Return "
        '{"reason": "<one sentence>"}. '
        f"Write in {language_name(language)}."
    )
    user = json.dumps(
        {
            "item": item_title[:_MAX_ITEM_CHARS],
            "topic": cluster_name[:_MAX_ITEM_CHARS],
            "themes": _clip(themes),
        },
        ensure_ascii=False,
    )
    answer = client.complete_json(system, user, max_tokens=200)
    if answer is None:
        return None
    reason = clean_text(answer.get("reason"), 400, minimum=4)
    if reason is None:
        _log_invalid("explain_assignment")
    return reason


def clean_text(value: Any, maximum: int, *, minimum: int = 1, single_line: bool = True) -> str | None:
    """``value`` stripped (and on one line) if it is a string of ``minimum``..``maximum`` characters.

    Control and invisible formatting characters (terminal escapes, bidirectional overrides, zero-width
    characters) are removed first: what a model writes is kept only as plain, visible text.
    """
    if not isinstance(value, str):
        return None
    value = _INVISIBLE.sub("", value)
    text = _SPACES.sub(" ", value).strip() if single_line else value.strip()
    return text if minimum <= len(text) <= maximum else None


def _clip(items: list[str]) -> list[str]:
    return [str(item)[:_MAX_ITEM_CHARS] for item in items[:_MAX_ITEMS]]


def _log_invalid(helper: str) -> None:
    _log.warning("llm.fallback", reason="invalid_fields", error_type=None, helper=helper)
