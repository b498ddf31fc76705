"""The optional LLM client: answers when the endpoint behaves, ``None`` (never an exception) otherwise."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs
from structlog.typing import EventDict

from adapters.llm import (
    LLMClient,
    explain_assignment,
    llm_from_settings,
    name_cluster,
    parse_json_object,
    write_summary_text,
)
from core.settings import Settings

from llm_server import FakeLLM

API_KEY = "sk-test-0123456789-very-secret"
MODEL = "fake-model-1"
TIMEOUT = 0.5


@pytest.fixture
def server() -> Iterator[FakeLLM]:
    """A fake chat-completions endpoint, stopped at the end of the test (even while hanging)."""
    with FakeLLM() as fake:
        yield fake


@pytest.fixture
def client(server: FakeLLM) -> Iterator[LLMClient]:
    """A client of ``server`` with a short timeout."""
    with LLMClient(server.base_url, API_KEY, MODEL, timeout=TIMEOUT, budget=10.0) as llm:
        yield llm


def ask(client: LLMClient) -> dict[str, Any] | None:
    """One JSON completion."""
    return client.complete_json("You answer questions.", "What is the answer?")


def fallbacks(logs: list[EventDict]) -> list[EventDict]:
    """The ``llm.fallback`` events."""
    return [entry for entry in logs if entry["event"] == "llm.fallback"]


def test_ok_returns_the_object_and_sends_model_key_and_json_mode(server: FakeLLM, client: LLMClient) -> None:
    server.reply = {"answer": 42, "words": ["하나", "two"]}
    assert ask(client) == {"answer": 42, "words": ["하나", "two"]}
    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.model == MODEL
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.body["response_format"] == {"type": "json_object"}
    assert "JSON" in request.body["messages"][0]["content"]
    assert request.body["messages"][1] == {"role": "user", "content": "What is the answer?"}


def test_fenced_json_is_extracted(server: FakeLLM, client: LLMClient) -> None:
    server.mode = "fenced"
    server.reply = {"name": "Gardening"}
    assert ask(client) == {"name": "Gardening"}


def test_first_object_inside_prose_is_extracted(server: FakeLLM, client: LLMClient) -> None:
    server.content = 'Sure. {"name": "Books"} Hope that helps {'
    assert ask(client) == {"name": "Books"}


@pytest.mark.parametrize(
    ("mode", "content", "reason"),
    [
        ("error", None, "http_error"),
        ("rate_limited", None, "rate_limited"),
        ("malformed", None, "not_json"),
        ("refusal", None, "refusal"),
        ("ok", "", "empty"),
        ("ok", "[1, 2, 3]", "not_json"),
        ("ok", '"just a string"', "not_json"),
    ],
)
def test_failures_fall_back_to_none_and_are_logged_once(
    server: FakeLLM, client: LLMClient, mode: Any, content: str | None, reason: str
) -> None:
    server.mode = mode
    server.content = content
    with capture_logs() as logs:
        assert ask(client) is None
    (event,) = fallbacks(logs)
    assert event["reason"] == reason
    assert event["log_level"] == "warning"
    assert len(server.requests) == 1, "no retries inside a task"


def test_http_errors_log_their_status(server: FakeLLM, client: LLMClient) -> None:
    server.mode = "rate_limited"
    with capture_logs() as logs:
        assert ask(client) is None
    (event,) = fallbacks(logs)
    assert (event["status"], event["error_type"]) == (429, "RateLimitError")


def test_hang_returns_none_within_the_timeout(server: FakeLLM, client: LLMClient) -> None:
    server.mode = "hang"
    started = time.monotonic()
    with capture_logs() as logs:
        assert ask(client) is None
    assert time.monotonic() - started < 3 * TIMEOUT
    (event,) = fallbacks(logs)
    assert event["reason"] == "timeout"


def test_slow_answer_returns_none_within_the_timeout(server: FakeLLM, client: LLMClient) -> None:
    server.delay = 5.0
    started = time.monotonic()
    assert ask(client) is None
    assert time.monotonic() - started < 3 * TIMEOUT


def test_a_trickling_answer_is_held_to_the_deadline(server: FakeLLM, client: LLMClient) -> None:
    """Each read comes quickly, so only the whole-request deadline stops it."""
    server.mode = "trickle"
    started = time.monotonic()
    with capture_logs() as logs:
        assert ask(client) is None
    assert time.monotonic() - started < 3 * TIMEOUT
    (event,) = fallbacks(logs)
    assert (event["reason"], event["error_type"]) == ("timeout", "DeadlineExceeded")


def test_connection_refused_returns_none() -> None:
    with FakeLLM() as fake:
        base_url = fake.base_url
    with LLMClient(base_url, API_KEY, MODEL, timeout=TIMEOUT) as client, capture_logs() as logs:
        assert ask(client) is None
    assert fallbacks(logs)[0]["reason"] in {"connection", "timeout"}


def test_budget_stops_further_calls(server: FakeLLM) -> None:
    server.mode = "hang"
    with LLMClient(server.base_url, API_KEY, MODEL, timeout=TIMEOUT, budget=0.8) as client:
        with capture_logs() as logs:
            started = time.monotonic()
            assert [ask(client) for _ in range(5)] == [None] * 5
            elapsed = time.monotonic() - started
        assert len(server.requests) == 2, "the second call gets the 0.3 s left, then none"
        assert client.remaining == 0
        assert elapsed < 0.8 + 2 * TIMEOUT
    reasons = [event["reason"] for event in fallbacks(logs)]
    assert reasons == ["timeout", "timeout", "budget_spent"], "budget exhaustion is logged once"


def test_spent_budget_returns_at_once_without_calling(server: FakeLLM) -> None:
    with LLMClient(server.base_url, API_KEY, MODEL, timeout=TIMEOUT, budget=0.0) as client:
        started = time.monotonic()
        assert ask(client) is None
        assert time.monotonic() - started < 0.1
    assert server.requests == []


def test_budget_counts_time_spent_in_calls(server: FakeLLM) -> None:
    ticks = iter([0.0, 4.0, 4.0, 9.0])
    with LLMClient(server.base_url, API_KEY, MODEL, budget=8.0, clock=lambda: next(ticks)) as client:
        assert ask(client) == {"answer": 42}
        assert client.remaining == 4.0
        assert ask(client) == {"answer": 42}
        assert client.remaining == 0
        assert ask(client) is None
    assert len(server.requests) == 2


def test_the_api_key_and_prompts_never_reach_the_logs(server: FakeLLM, client: LLMClient) -> None:
    with capture_logs() as logs:
        for mode in ("error", "rate_limited", "malformed", "refusal", "hang"):
            server.mode = mode
            assert client.complete_json("secret system prompt", "private user text") is None
    assert len(fallbacks(logs)) == 5
    text = json.dumps(logs, default=str)
    for secret in (API_KEY, "secret system prompt", "private user text", "not in JSON", "can't help"):
        assert secret not in text


@pytest.mark.parametrize(
    ("base_url", "api_key", "model"),
    [
        (None, None, None),
        ("http://127.0.0.1:9/v1", None, MODEL),
        ("http://127.0.0.1:9/v1", API_KEY, None),
        (None, API_KEY, MODEL),
        ("http://127.0.0.1:9/v1", "  ", MODEL),
    ],
)
def test_llm_from_settings_needs_all_three(
    base_url: str | None, api_key: str | None, model: str | None
) -> None:
    settings = Settings.model_construct(
        llm_base_url=base_url, llm_api_key=SecretStr(api_key) if api_key else None, llm_model=model
    )
    assert llm_from_settings(settings) is None


def test_llm_from_settings_builds_a_client(server: FakeLLM) -> None:
    settings = Settings.model_construct(
        llm_base_url=server.base_url, llm_api_key=SecretStr(API_KEY), llm_model=MODEL
    )
    client = llm_from_settings(settings, timeout=TIMEOUT, budget=5.0)
    assert client is not None
    with client:
        assert (client.model, client.timeout, client.budget) == (MODEL, TIMEOUT, 5.0)
        assert ask(client) == {"answer": 42}
    assert server.requests[0].headers["authorization"] == f"Bearer {API_KEY}"


def test_name_cluster(server: FakeLLM, client: LLMClient) -> None:
    server.reply = {"name": "  텃밭\n가꾸기 ", "description": "채소를 키우는 이야기를 묶은 주제입니다."}
    named = name_cluster(client, "ko", ["텃밭", "토마토"], ["토마토 키우기", "퇴비 만들기"])
    assert named == ("텃밭 가꾸기", "채소를 키우는 이야기를 묶은 주제입니다.")
    prompt = server.requests[0].body["messages"]
    assert "Korean" in prompt[0]["content"]
    assert json.loads(prompt[1]["content"]) == {
        "themes": ["텃밭", "토마토"],
        "titles": ["토마토 키우기", "퇴비 만들기"],
    }


def test_write_summary_text(server: FakeLLM, client: LLMClient) -> None:
    server.reply = {"summary": "You mostly talk about gardening and books.\n\nLately, compost."}
    summary = write_summary_text(client, "en", {"clusters": 2, "top": ["gardening", "books"]})
    assert summary == "You mostly talk about gardening and books.\n\nLately, compost."
    assert "English" in server.requests[0].body["messages"][0]["content"]


def test_explain_assignment(server: FakeLLM, client: LLMClient) -> None:
    server.reply = {"reason": "It is about growing tomatoes, like the rest of this topic."}
    reason = explain_assignment(client, "en", "Tomato blight", "Gardening", ["tomato", "soil"])
    assert reason == "It is about growing tomatoes, like the rest of this topic."


@pytest.mark.parametrize(
    "reply",
    [
        {},
        {"name": "Gardening"},
        {"name": 7, "description": "About plants."},
        {"name": "", "description": "About plants."},
        {"name": "   ", "description": "About plants."},
        {"name": "x" * 61, "description": "About plants."},
        {"name": "Gardening", "description": None},
        {"name": "Gardening", "description": ["About plants."]},
        {"name": "Gardening", "description": "y" * 301},
    ],
)
def test_name_cluster_rejects_bad_fields(server: FakeLLM, client: LLMClient, reply: dict[str, Any]) -> None:
    server.reply = reply
    with capture_logs() as logs:
        assert name_cluster(client, "en", ["plants"], ["Tomatoes"]) is None
    assert [event["reason"] for event in fallbacks(logs)] == ["invalid_fields"]


@pytest.mark.parametrize("reply", [{}, {"summary": 3}, {"summary": "short"}, {"summary": "z" * 4001}])
def test_write_summary_text_rejects_bad_fields(
    server: FakeLLM, client: LLMClient, reply: dict[str, Any]
) -> None:
    server.reply = reply
    assert write_summary_text(client, "en", {"clusters": 1}) is None


@pytest.mark.parametrize("reply", [{}, {"reason": {"text": "nested"}}, {"reason": ""}, {"reason": "w" * 401}])
def test_explain_assignment_rejects_bad_fields(
    server: FakeLLM, client: LLMClient, reply: dict[str, Any]
) -> None:
    server.reply = reply
    assert explain_assignment(client, "en", "Tomato blight", "Gardening", ["tomato"]) is None


@pytest.mark.parametrize("mode", ["error", "rate_limited", "malformed", "refusal", "hang"])
def test_helpers_fall_back_when_the_llm_fails(server: FakeLLM, client: LLMClient, mode: Any) -> None:
    server.mode = mode
    assert name_cluster(client, "en", ["plants"], ["Tomatoes"]) is None


def test_helpers_without_a_client_return_none() -> None:
    assert name_cluster(None, "ko", ["a"], ["b"]) is None
    assert write_summary_text(None, "ko", {"a": 1}) is None
    assert explain_assignment(None, "ko", "a", "b", ["c"]) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ('```json\n{"a": 1}\n```', {"a": 1}),
        ('```\n{"a": 1}\n```', {"a": 1}),
        ('Here: {"a": {"b": 2}} and {"c": 3}', {"a": {"b": 2}}),
        ('Use {braces} wisely: {"a": 1}', {"a": 1}),
        ("no json here", None),
        ("[1, 2]", None),
        ("{broken", None),
    ],
)
def test_parse_json_object(text: str, expected: dict[str, Any] | None) -> None:
    assert parse_json_object(text) == expected
