"""A real HTTP server for streaming tests (werkzeug's test client buffers whole answers) and a small
Server-Sent Events client over the standard library's http.client (the `[rest]` tests mock httpx)."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from appgen.localstack.server import create_app, serve
from appgen.services import Services


@contextmanager
def live_server(services: Services) -> Iterator[str]:
    """The local stack's app and server (`appgen.localstack.server.serve`) on a free port; its base URL."""
    server = serve(create_app(lambda: services), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        services.close()  # ends the streams still open, so their threads finish
        thread.join(timeout=10)


@dataclass(frozen=True)
class Event:
    id: str
    event: str
    data: Any  # the parsed JSON

    @property
    def position(self) -> tuple[int, int]:
        version, log_id = self.id.split(":")
        return int(version), int(log_id)


PING = Event("", "ping", None)  # a `: ping` comment


class Stream:
    """One GET of an event stream; `events()` parses what arrives, comments included (as PING)."""

    def __init__(self, base: str, path: str, headers: dict[str, str] | None = None, timeout: float = 10):
        host, port = base.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
        self.connection.request("GET", path, headers=headers or {})
        self.response = self.connection.getresponse()
        self.status = self.response.status

    def json(self) -> Any:
        return json.loads(self.response.read())

    def events(self) -> Iterator[Event]:
        fields: dict[str, str] = {}
        for raw in self.response:
            line = raw.decode().rstrip("\n")
            if line == ": ping":
                yield PING
            elif line:
                name, _, value = line.partition(": ")
                fields[name] = value
            elif fields:
                yield Event(fields["id"], fields["event"], json.loads(fields["data"]))
                fields = {}

    def take(self, count: int) -> list[Event]:
        taken: list[Event] = []
        for event in self.events():
            taken.append(event)
            if len(taken) == count:
                break
        return taken

    def close(self) -> None:
        """Hang up, as a browser closing the tab does (the response holds the socket too)."""
        self.response.close()
        self.connection.close()
