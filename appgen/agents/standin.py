"""A local stand-in for the Gemini API: a real HTTP server on 127.0.0.1 that the real Gemini CLI talks to
through `GOOGLE_GEMINI_BASE_URL`.

The tests script it; the offline local stack runs it unscripted, and then every turn is answered with a
short text reply and no tool call, so agents make no edits. A reply is a list of parts (`text(…)`,
`call(…)`, or both added together). Which reply a request gets:

- the first rule (`on(match, turns)`) whose match is found in the request's system instruction or user
  text (page prompts carry the line `pageId: <id>`, so concurrent agents can each have a script), else
  the script given to the constructor;
- the turn index is the number of `role: "model"` entries in the request's `contents`: a conversation's
  first request gets `turns[0]`, the request after the first tool call gets `turns[1]`, and so on; past the
  last scripted turn the answer is `FINAL_TEXT`, so the CLI ends its session.

Faults: `fail_next(status, times)` answers the next requests with a Google-style error; `delay_s` holds
every answer back (interrupted by `stop()`). Every request is recorded in `requests`, with the time it
arrived (`bench/job.py` measures submit -> first model request with it).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

Part = dict[str, Any]
Reply = list[Part]
Script = list[Reply] | Callable[[dict[str, Any]], Reply | None]

FINAL_TEXT = "Done."
OFFLINE_TEXT = "Offline stand-in: no Gemini API key is configured, so no changes were made."
_MODEL_PATH = re.compile(r"^/v1(?:beta|alpha)?/models/(?P<model>[^/:]+):(?P<method>[A-Za-z]+)\Z")
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def text(value: str) -> Reply:
    """A model turn that says `value`."""
    return [{"text": value}]


def call(name: str, args: dict[str, Any]) -> Reply:
    """A model turn that calls the tool `name` with `args`."""
    return [{"functionCall": {"name": name, "args": args}}]


def google_error(status: int, message: str) -> dict[str, Any]:
    """An error body in the format of Google APIs."""
    return {"error": {"code": status, "message": message, "status": _STATUS_NAMES.get(status, "UNKNOWN")}}


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the query string
    query: str
    model: str | None
    body: dict[str, Any] | None
    headers: dict[str, str]  # lower-case names
    status: int = 0  # 0 while the answer is still pending (see `delay_s`)
    prompt_tokens: int = 0  # the usageMetadata sent back (0 for errors)
    output_tokens: int = 0
    received_at: float = field(default_factory=time.time)  # wall clock, to line up with the job's timestamps

    @property
    def system_text(self) -> str:
        instruction = (self.body or {}).get("systemInstruction") or {}
        return _texts(instruction.get("parts", []) if isinstance(instruction, dict) else [])

    @property
    def tool_names(self) -> list[str]:
        tools = (self.body or {}).get("tools") or []
        return [d["name"] for tool in tools for d in tool.get("functionDeclarations") or []]


@dataclass
class _Rule:
    match: str | Callable[[dict[str, Any]], bool]
    turns: list[Reply]

    def applies(self, body: dict[str, Any]) -> bool:
        if callable(self.match):
            return self.match(body)
        return self.match in _conversation_text(body)


@dataclass
class _Fault:
    status: int
    times: int
    body: dict[str, Any] | None


@dataclass
class GeminiStandIn:
    script: Script | None = None
    delay_s: float = 0.0
    requests: list[RecordedRequest] = field(default_factory=list, repr=False)
    _rules: list[_Rule] = field(default_factory=list, repr=False)
    _faults: list[_Fault] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, repr=False)
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> Self:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="gemini-standin", daemon=True
        )
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the stand-in is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting -----------------------------------------------------------------------------------
    def on(self, match: str | Callable[[dict[str, Any]], bool], turns: list[Reply]) -> Self:
        """Answer conversations whose system instruction or user text contains `match` (or for which
        `match(body)` is true) with `turns`; rules are tried in the order they were added."""
        with self._lock:
            self._rules.append(_Rule(match, list(turns)))
        return self

    def fail_next(self, status: int = 429, times: int = 1, body: dict[str, Any] | None = None) -> Self:
        """Answer the next `times` model requests with `status` and a Google-style error body."""
        with self._lock:
            self._faults.append(_Fault(status, times, body))
        return self

    def reply_for(self, body: dict[str, Any]) -> Reply:
        """The model turn this request gets (see the module docstring)."""
        turn = sum(1 for c in body.get("contents") or [] if c.get("role") == "model")
        with self._lock:
            rule = next((r for r in self._rules if r.applies(body)), None)
        script: Script | None = rule.turns if rule is not None else self.script
        if script is None:
            return text(OFFLINE_TEXT)
        if callable(script):
            return script(body) or text(FINAL_TEXT)
        return script[turn] if turn < len(script) else text(FINAL_TEXT)

    def _take_fault(self) -> _Fault | None:
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            fault.times -= 1
            if fault.times <= 0:
                self._faults.pop(0)
            return fault

    # -- answering -----------------------------------------------------------------------------------
    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        path, _, query = handler.path.partition("?")
        raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        matched = _MODEL_PATH.match(path)
        record = RecordedRequest(
            method=handler.command,
            path=path,
            query=query,
            model=matched["model"] if matched else None,
            body=body if isinstance(body, dict) else None,
            headers={k.lower(): v for k, v in handler.headers.items()},
        )
        with self._lock:
            self.requests.append(record)
        if self.delay_s and self._stopping.wait(self.delay_s):
            return
        method = matched["method"] if matched and handler.command == "POST" else None
        fault = self._take_fault() if method in ("generateContent", "streamGenerateContent") else None
        if fault is not None:
            error = fault.body or google_error(fault.status, f"stand-in fault {fault.status}")
            self._record(record, fault.status)
            _send(handler, fault.status, "application/json", json.dumps(error).encode())
        elif record.body is None or method not in ("generateContent", "streamGenerateContent", "countTokens"):
            self._record(record, 404)
            message = f"{handler.command} {path} is not a method this stand-in knows"
            _send(handler, 404, "application/json", json.dumps(google_error(404, message)).encode())
        elif method == "countTokens":
            self._record(record, 200)
            payload = {"totalTokens": _tokens(json.dumps(record.body))}
            _send(handler, 200, "application/json", json.dumps(payload).encode())
        else:
            parts = self.reply_for(record.body)
            prompt, output = _tokens(json.dumps(record.body.get("contents"))), _tokens(json.dumps(parts))
            self._record(record, 200, prompt, output)
            usage = {
                "promptTokenCount": prompt,
                "candidatesTokenCount": output,
                "totalTokenCount": prompt + output,
            }
            if method == "generateContent":
                chunk = _chunk(parts, record.model, usage)
                _send(handler, 200, "application/json", json.dumps(chunk).encode())
            else:  # one SSE event per part; the last carries finishReason and usageMetadata
                events = [
                    _chunk([part], record.model, usage if i == len(parts) - 1 else None)
                    for i, part in enumerate(parts)
                ]
                sse = "".join(f"data: {json.dumps(event)}\r\n\r\n" for event in events)
                _send(handler, 200, "text/event-stream", sse.encode())

    def _record(self, record: RecordedRequest, status: int, prompt: int = 0, output: int = 0) -> None:
        with self._lock:
            record.status, record.prompt_tokens, record.output_tokens = status, prompt, output


def _handler_for(standin: GeminiStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self._answer()

        def do_GET(self) -> None:
            self._answer()

        def _answer(self) -> None:
            try:
                standin._answer(self)
            except Exception as exc:  # a broken script: answer 500 so the test shows why
                body = google_error(500, f"stand-in failed: {exc!r}")
                _send(self, 500, "application/json", json.dumps(body).encode())

        def log_message(self, format: str, *args: Any) -> None:  # the default writes to stderr
            pass

    return Handler


def _send(handler: BaseHTTPRequestHandler, status: int, content_type: str, payload: bytes) -> None:
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(payload)
    except (BrokenPipeError, ConnectionResetError):  # the client gave up (killed by a timeout)
        pass


def _chunk(parts: Reply, model: str | None, usage: dict[str, int] | None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    chunk: dict[str, Any] = {"candidates": [candidate], "modelVersion": model or "stand-in"}
    if usage is not None:
        candidate["finishReason"] = "STOP"
        chunk["usageMetadata"] = usage
    return chunk


def _tokens(serialized: str) -> int:
    """A stable token estimate: one token per four characters, at least one."""
    return max(1, len(serialized) // 4)


def _texts(parts: list[Any]) -> str:
    return "\n".join(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))


def _conversation_text(body: dict[str, Any]) -> str:
    """The system instruction and the user's own text; tool results (file contents) are left out."""
    instruction = body.get("systemInstruction") or {}
    texts = [_texts(instruction.get("parts", [])) if isinstance(instruction, dict) else ""]
    texts += [_texts(c.get("parts") or []) for c in body.get("contents") or [] if c.get("role") == "user"]
    return "\n".join(texts)
