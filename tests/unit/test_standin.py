"""The Gemini API stand-in at the HTTP level: the SSE and JSON answers the Gemini CLI parses, which
scripted turn a request gets, per-conversation rules, faults, delays, 404s and what it records."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from appgen.agents.standin import FINAL_TEXT, OFFLINE_TEXT, GeminiStandIn, call, text

MODEL = "gemini-2.5-pro"
STREAM = f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse"


def conversation(prompt: str, model_turns: int = 0, system: str = "You are a test.") -> dict[str, Any]:
    """A request body as the CLI sends it: the prompt, then one model turn and tool result per step."""
    contents: list[dict[str, Any]] = [{"role": "user", "parts": [{"text": prompt}]}]
    for i in range(model_turns):
        contents.append({"role": "model", "parts": [{"functionCall": {"name": "read_file", "args": {}}}]})
        response = {"name": "read_file", "response": {"output": f"file {i}: pageId: elsewhere"}}
        contents.append({"role": "user", "parts": [{"functionResponse": response}]})
    return {"contents": contents, "systemInstruction": {"parts": [{"text": system}]}}


def sse_events(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.headers["content-type"] == "text/event-stream"
    blocks = [block for block in response.text.split("\r\n\r\n") if block]
    assert all(block.startswith("data: ") for block in blocks), response.text
    return [json.loads(block.removeprefix("data: ")) for block in blocks]


def parts_of(response: httpx.Response) -> list[dict[str, Any]]:
    return [part for event in sse_events(response) for part in event["candidates"][0]["content"]["parts"]]


@pytest.fixture
def standin() -> Iterator[GeminiStandIn]:
    with GeminiStandIn() as server:
        yield server


@pytest.fixture
def client(standin: GeminiStandIn) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=standin.url, timeout=5) as http:
        yield http


def test_stream_answers_sse_chunks_with_finish_reason_and_usage_on_the_last(
    standin: GeminiStandIn, client: httpx.Client
) -> None:
    standin.script = [text("Looking.") + call("write_file", {"file_path": "/ws/a.txt", "content": "a"})]

    response = client.post(STREAM, json=conversation("build it"))

    assert response.status_code == 200
    events = sse_events(response)
    assert [e["candidates"][0]["content"]["parts"] for e in events] == [
        [{"text": "Looking."}],
        [{"functionCall": {"name": "write_file", "args": {"file_path": "/ws/a.txt", "content": "a"}}}],
    ]
    assert all(e["candidates"][0]["content"]["role"] == "model" for e in events)
    assert "finishReason" not in events[0]["candidates"][0] and "usageMetadata" not in events[0]
    assert events[-1]["candidates"][0]["finishReason"] == "STOP"
    usage = events[-1]["usageMetadata"]
    assert usage["promptTokenCount"] > 0 and usage["candidatesTokenCount"] > 0
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"]
    recorded = standin.requests[0]
    assert (recorded.status, recorded.prompt_tokens, recorded.output_tokens) == (
        200,
        usage["promptTokenCount"],
        usage["candidatesTokenCount"],
    )


def test_the_turn_is_the_number_of_model_entries_and_the_script_ends_with_a_final_text(
    standin: GeminiStandIn, client: httpx.Client
) -> None:
    standin.script = [call("list_directory", {"dir_path": "/ws"}), text("second")]

    answers = [parts_of(client.post(STREAM, json=conversation("go", turns))) for turns in range(4)]

    assert answers == [
        [{"functionCall": {"name": "list_directory", "args": {"dir_path": "/ws"}}}],
        [{"text": "second"}],
        [{"text": FINAL_TEXT}],
        [{"text": FINAL_TEXT}],
    ]


def test_unscripted_it_answers_every_turn_with_text_and_no_tool_call(client: httpx.Client) -> None:
    for turns in (0, 3):
        assert parts_of(client.post(STREAM, json=conversation("build", turns))) == [{"text": OFFLINE_TEXT}]


def test_rules_give_each_conversation_its_own_script(standin: GeminiStandIn, client: httpx.Client) -> None:
    standin.script = [text("default")]
    standin.on("pageId: home", [text("home 0"), text("home 1")])
    standin.on("pageId: about", [text("about 0")])
    standin.on("ROLE: fixer", [text("fixer")])  # found in the system instruction
    standin.on(
        lambda body: len(body["contents"]) > 6, [text("long"), text("long"), text("long"), text("long")]
    )

    def answer(prompt: str, turns: int = 0, system: str = "You are a test.") -> str:
        response = client.post(STREAM, json=conversation(prompt, turns, system))
        return str(parts_of(response)[0]["text"])

    assert answer("Build.\npageId: home\n") == "home 0"
    assert answer("Build.\npageId: home\n", 1) == "home 1"
    assert answer("Build.\npageId: about\n") == "about 0"
    assert answer("Fix the build.", system="ROLE: fixer") == "fixer"
    assert answer("Build something else.") == "default"
    # Tool results mention `pageId: elsewhere`; only the user's own text and the system instruction count.
    standin.on("pageId: elsewhere", [text("wrong")])
    assert answer("Build something else.", 1) == FINAL_TEXT
    assert answer("Build something else.", 3) == "long"


def test_a_callable_script_decides_from_the_request(standin: GeminiStandIn, client: httpx.Client) -> None:
    standin.script = lambda body: (
        text(f"{len(body['contents'])} entries") if len(body["contents"]) < 3 else None
    )

    assert parts_of(client.post(STREAM, json=conversation("a"))) == [{"text": "1 entries"}]
    assert parts_of(client.post(STREAM, json=conversation("a", 1))) == [{"text": FINAL_TEXT}]


def test_generate_content_answers_the_same_reply_as_one_json_document(
    standin: GeminiStandIn, client: httpx.Client
) -> None:
    standin.script = [text("plain")]

    response = client.post(f"/v1beta/models/{MODEL}:generateContent", json=conversation("route"))

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["candidates"][0]["content"] == {"role": "model", "parts": [{"text": "plain"}]}
    assert body["candidates"][0]["finishReason"] == "STOP"
    assert body["usageMetadata"]["totalTokenCount"] > 0


def test_count_tokens_answers_a_total(client: httpx.Client) -> None:
    response = client.post(f"/v1beta/models/{MODEL}:countTokens", json=conversation("x" * 400))

    assert response.status_code == 200
    assert response.json()["totalTokens"] >= 100


def test_fail_next_answers_google_errors_then_recovers(standin: GeminiStandIn, client: httpx.Client) -> None:
    standin.script = [text("fine")]
    standin.fail_next(429, times=2).fail_next(503, body={"error": {"code": 503, "message": "custom"}})

    statuses = []
    for _ in range(3):
        response = client.post(STREAM, json=conversation("go"))
        statuses.append((response.status_code, response.json()))
    counted = client.post(f"/v1beta/models/{MODEL}:countTokens", json=conversation("go"))  # not a fault
    recovered = client.post(STREAM, json=conversation("go"))

    assert statuses == [
        (429, {"error": {"code": 429, "message": "stand-in fault 429", "status": "RESOURCE_EXHAUSTED"}}),
        (429, {"error": {"code": 429, "message": "stand-in fault 429", "status": "RESOURCE_EXHAUSTED"}}),
        (503, {"error": {"code": 503, "message": "custom"}}),
    ]
    assert counted.status_code == 200
    assert recovered.status_code == 200 and parts_of(recovered) == [{"text": "fine"}]
    assert [r.status for r in standin.requests] == [429, 429, 503, 200, 200]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/v1beta/models/{MODEL}"),
        ("POST", "/v1beta/files"),
        ("POST", f"/v1beta/models/{MODEL}:embedContent"),
        ("GET", STREAM),
    ],
)
def test_anything_else_is_a_google_style_404(
    standin: GeminiStandIn, client: httpx.Client, method: str, path: str
) -> None:
    response = client.request(method, path, json=conversation("go") if method == "POST" else None)

    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == 404 and error["status"] == "NOT_FOUND"
    assert path.split("?")[0] in error["message"]
    assert standin.requests[-1].status == 404


def test_every_request_is_recorded_with_path_model_body_and_headers(
    standin: GeminiStandIn, client: httpx.Client
) -> None:
    body = conversation("record me", system="SYSTEM TEXT")
    body["tools"] = [{"functionDeclarations": [{"name": "read_file"}, {"name": "write_file"}]}]

    client.post(STREAM, json=body, headers={"x-goog-api-key": "test-key-123"})

    [recorded] = standin.requests
    assert (recorded.method, recorded.path, recorded.query) == (
        "POST",
        f"/v1beta/models/{MODEL}:streamGenerateContent",
        "alt=sse",
    )
    assert recorded.model == MODEL
    assert recorded.body == body
    assert recorded.headers["x-goog-api-key"] == "test-key-123"
    assert recorded.system_text == "SYSTEM TEXT"
    assert recorded.tool_names == ["read_file", "write_file"]


def test_delay_holds_answers_back_and_stop_interrupts_it() -> None:
    with GeminiStandIn([text("late")], delay_s=0.4) as standin, httpx.Client(base_url=standin.url) as http:
        started = time.monotonic()
        response = http.post(STREAM, json=conversation("go"))
        assert time.monotonic() - started >= 0.4
        assert parts_of(response) == [{"text": "late"}]

    slow = GeminiStandIn(delay_s=60).start()
    with httpx.Client(base_url=slow.url, timeout=10) as http:
        started = time.monotonic()
        with pytest.raises(httpx.TransportError):
            threading.Timer(0.3, slow.stop).start()
            http.post(STREAM, json=conversation("go"))
        assert time.monotonic() - started < 5
    assert slow.requests[0].status == 0  # never answered


def test_url_needs_a_started_server() -> None:
    standin = GeminiStandIn()
    with pytest.raises(RuntimeError, match="not started"):
        _ = standin.url
