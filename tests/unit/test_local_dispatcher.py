"""The local dispatcher keeps Cloud Tasks' semantics against a real HTTP server: the headers and token the
internal endpoints check, named-task dedup, schedule times, retries of failed answers, the dispatch
deadline, and no head-of-line blocking behind a hung handler."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from appgen.auth import verify_internal_token
from appgen.dispatch import LocalDispatcher, TaskMessage
from tests.fixtures.waiting import wait_for

SECRET = "local-dispatcher-test-secret-0123456789"


@dataclass
class Delivery:
    path: str
    payload: dict[str, Any]
    headers: dict[str, str]
    at: float


@dataclass
class Endpoint:
    """Answers deliveries with the statuses (or hangs, as None) scripted per task name, then 200."""

    script: dict[str, list[int | None]] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def named(self, name: str) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if d.headers["x-cloudtasks-taskname"] == name]


@pytest.fixture
def endpoint() -> Iterator[tuple[Endpoint, str]]:
    state = Endpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with state.lock:
                state.deliveries.append(Delivery(self.path, json.loads(body), headers, time.time()))
                answers = state.script.get(headers["x-cloudtasks-taskname"], [])
                status = answers.pop(0) if answers else 200
            if status is None:  # hang past the dispatch deadline
                state.release.wait(10)
                status = 200
            try:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass  # the dispatcher gave up waiting and closed the connection

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_port}"
    state.release.set()
    server.shutdown()
    server.server_close()


def _dispatcher(url: str, **kwargs: Any) -> LocalDispatcher:
    return LocalDispatcher(url, SECRET, min_backoff=0.1, max_backoff=0.5, **kwargs)


def test_a_delivery_carries_the_payload_headers_and_a_verifiable_token(
    endpoint: tuple[Endpoint, str],
) -> None:
    state, url = endpoint
    dispatcher = _dispatcher(url)
    try:
        dispatcher.enqueue(TaskMessage("app-gen-page", "worker", {"taskId": "t1"}, name="task-t1-d0"))
        wait_for(lambda: len(state.deliveries) == 1 and dispatcher.idle(), 10, "one delivery", every=0.02)
    finally:
        dispatcher.close()
    (delivery,) = state.deliveries
    assert delivery.path == "/internal/worker"
    assert delivery.payload == {"taskId": "t1"}
    assert delivery.headers["x-cloudtasks-queuename"] == "app-gen-page"
    assert delivery.headers["x-cloudtasks-taskname"] == "task-t1-d0"
    assert delivery.headers["x-cloudtasks-taskretrycount"] == "0"
    verify_internal_token(delivery.headers["authorization"], SECRET)  # raises when not valid


def test_a_repeated_name_is_delivered_once_and_a_delay_is_honoured(endpoint: tuple[Endpoint, str]) -> None:
    state, url = endpoint
    dispatcher = _dispatcher(url)
    try:
        enqueued = time.time()
        for _ in range(3):
            dispatcher.enqueue(TaskMessage("app-gen-fix", "worker", {"n": 1}, name="same", delay_seconds=1))
        wait_for(lambda: len(state.deliveries) == 1 and dispatcher.idle(), 10, "one delivery", every=0.02)
        time.sleep(0.3)
    finally:
        dispatcher.close()
    assert len(state.named("same")) == 1
    assert state.deliveries[0].at - enqueued >= 1.0


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def test_names_are_remembered_for_an_hour_in_bounded_memory(endpoint: tuple[Endpoint, str]) -> None:
    state, url = endpoint
    clock = Clock()
    dispatcher = _dispatcher(url, dedup_max_names=3, clock=clock)

    def enqueue(name: str) -> None:
        dispatcher.enqueue(TaskMessage("app-gen-page", "worker", {"name": name}, name=name))

    try:
        enqueue("old")
        clock.now += 3599
        enqueue("old")  # within the hour: a duplicate
        clock.now += 2
        enqueue("old")  # past it: Cloud Tasks would take the name again, and so does this dispatcher
        for name in ("a", "b", "c"):  # three more names: only the newest three are remembered
            enqueue(name)
        assert list(dispatcher._names) == ["a", "b", "c"]
        enqueue("c")
        enqueue("old")  # forgotten to make room, so taken again
        assert list(dispatcher._names) == ["b", "c", "old"]
        wait_for(lambda: len(state.deliveries) == 6 and dispatcher.idle(), 10, "six deliveries", every=0.02)
        time.sleep(0.2)
    finally:
        dispatcher.close()
    assert [d.payload["name"] for d in state.deliveries].count("old") == 3
    assert sorted(d.payload["name"] for d in state.deliveries) == ["a", "b", "c", "old", "old", "old"]


def test_failed_answers_are_retried_until_one_succeeds(endpoint: tuple[Endpoint, str]) -> None:
    state, url = endpoint
    state.script["flaky"] = [503, 500]
    dispatcher = _dispatcher(url)
    try:
        dispatcher.enqueue(TaskMessage("app-gen-page", "worker", {}, name="flaky"))
        wait_for(
            lambda: len(state.named("flaky")) == 3 and dispatcher.idle(), 10, "three deliveries", every=0.02
        )
    finally:
        dispatcher.close()
    assert [d.headers["x-cloudtasks-taskretrycount"] for d in state.named("flaky")] == ["0", "1", "2"]


def test_a_handler_past_the_deadline_is_retried_and_blocks_no_other_task(
    endpoint: tuple[Endpoint, str],
) -> None:
    state, url = endpoint
    state.script["hangs"] = [None]
    dispatcher = _dispatcher(url, deadline_seconds=3)
    try:
        dispatcher.enqueue(TaskMessage("app-gen-page", "worker", {}, name="hangs"))
        wait_for(lambda: len(state.named("hangs")) == 1, 10, "the first delivery", every=0.02)
        dispatcher.enqueue(TaskMessage("app-gen-page", "worker", {}, name="quick"))
        wait_for(
            lambda: len(state.named("quick")) == 1, 2.5, "the other task", every=0.02
        )  # while the first still hangs
        wait_for(
            lambda: len(state.named("hangs")) == 2, 10, "the redelivery", every=0.02
        )  # the deadline passed: delivered again
    finally:
        dispatcher.close()
    first, second = state.named("hangs")
    assert second.headers["x-cloudtasks-taskretrycount"] == "1"
    assert second.at - first.at >= 3.0


@pytest.mark.parametrize("parent_enqueued", [False, True], ids=["idle-parent", "busy-parent"])
def test_a_forked_child_delivers_its_own_tasks(endpoint: tuple[Endpoint, str], parent_enqueued: bool) -> None:
    """gunicorn builds the services in its master and forks the worker: the worker's tasks must still go
    out, though the master's threads did not come along; a task the parent enqueued is delivered once,
    by the parent."""
    state, url = endpoint
    dispatcher = _dispatcher(url)
    try:
        if parent_enqueued:
            dispatcher.enqueue(TaskMessage("app-gen-page", "worker", {"by": "parent"}, name="parent"))
            wait_for(lambda: dispatcher.idle(), 10, "the parent's delivery", every=0.02)
        pid = os.fork()
        if pid == 0:  # the child: enqueue, wait for the delivery, report it by the exit code only
            code = 1
            try:
                dispatcher.enqueue(TaskMessage("app-gen-page", "worker", {"by": "child"}, name="child"))
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and not dispatcher.idle():
                    time.sleep(0.02)
                code = 0 if dispatcher.idle() else 2
                dispatcher.close()
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "the child's task was never delivered"
        dispatcher.enqueue(TaskMessage("app-gen-page", "worker", {"by": "parent"}, name="parent-after"))
        wait_for(lambda: dispatcher.idle() and len(state.named("parent-after")) == 1, 10, "the parent's task")
    finally:
        dispatcher.close()
    assert [d.payload for d in state.named("child")] == [{"by": "child"}]
    assert len(state.named("parent")) == (1 if parent_enqueued else 0)
