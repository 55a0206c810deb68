"""Live job events: the Server-Sent Events stream of `GET /api/agentic/jobs/{jobId}/events`.

The wire format (openapi.yaml and the README say the same):

    id: 7:1042              <version>:<log id>
    event: job              the job object, byte for byte what the status route answers
    data: {"jobId": …}

    id: 7:1043
    event: log              one line, as the logs route lists it: {id, at, level, stage, message}
    data: {"id": 1043, …}

    : ping                  a comment after `events_heartbeat_s` seconds without an event

An event's id is `<version of the last job event sent>:<id of the last log line sent>`: both parts only
rise over a stream, so a client's Last-Event-ID says which job state and which lines it has. The first
event is always the current job (after a resume too); then the lines after the cursor; then, whenever
the job's change feed (`appgen/gateway/changes.py`) wakes the stream or a heartbeat is due, the new
lines and the job again if its version rose. The last event of a job that ended is that job: the stream
closes after it. A stream also closes at its lifetime, when the caller's token expires or when the
process stops; a client that resumes after the terminal event it already has gets 204, which makes
EventSource stop reconnecting.

Bounded: at most `events_per_user` open streams per user and `events_instance_cap` per instance (at most
half the server's threads when it has a fixed pool, so streams never starve other requests); per
stream one flag (its subscription), one page of lines and a small socket send buffer; a client that
reads nothing for `events_write_timeout_s` is dropped (the server's write times out), not buffered.
"""

from __future__ import annotations

import json
import logging
import math
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from appgen import errors
from appgen.gateway import Caller, Row, Subscription
from appgen.ids import parse_uuid
from appgen.responses import job_json, log_json
from appgen.status import FINISHED

if TYPE_CHECKING:
    from appgen.services import Services

log = logging.getLogger(__name__)

PAGE = 50  # lines read at a time: with 20,000 characters a line at most, about 1 MB per stream at most
SEND_BUFFER_BYTES = 64 * 1024
HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",  # nginx and proxies like it: pass each event on at once
}
PING = b": ping\n\n"
_EVENT_ID = re.compile(r"([0-9]{1,18}):([0-9]{1,18})")


@dataclass(frozen=True)
class EventId:
    version: int  # of the last job event the client got
    log_id: int  # of the last log line it got


def parse_event_id(raw: str | None) -> EventId | None:
    """A client's Last-Event-ID, or None without one; InvalidRequest for anything we never sent."""
    if raw is None or raw == "":
        return None
    match = _EVENT_ID.fullmatch(raw)
    if match is None:
        raise errors.InvalidRequest(
            "Last-Event-ID must be the id of an event of this stream, `<version>:<log id>`",
            details=[{"path": "header.Last-Event-ID", "message": f"got {raw[:40]!r}"}],
        )
    return EventId(int(match[1]), int(match[2]))


class StreamSlots:
    """The open streams of this instance: per user, the time each ends at the latest (so that a refused
    user hears when their first slot frees)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._ends: dict[str, list[float]] = {}
        self._clock = clock
        self._lock = threading.Lock()

    def take(self, user: str, ends_at: float, per_user: int, per_instance: int) -> Callable[[], None]:
        """A slot until `ends_at`, or RateLimited (the user's cap) / DependencyUnavailable (the
        instance's); returns the function that gives it back (once, however often it is called)."""
        with self._lock:
            if self.count() >= per_instance:
                raise errors.DependencyUnavailable(
                    f"this instance serves at most {per_instance} event streams at a time (see "
                    "APPGEN_EVENTS_PER_INSTANCE and THREADS); try again shortly"
                )
            mine = self._ends.setdefault(user, [])
            if len(mine) >= per_user:
                wait = max(1, math.ceil(min(mine) - self._clock()))
                raise errors.RateLimited(
                    f"at most {per_user} open event streams per user; close one or try again in {wait} s",
                    retry_after=wait,
                )
            mine.append(ends_at)
        given_back = threading.Event()

        def release() -> None:
            with self._lock:
                if given_back.is_set():
                    return
                given_back.set()
                mine.remove(ends_at)
                if not mine and self._ends.get(user) is mine:
                    del self._ends[user]

        return release

    def count(self, user: str | None = None) -> int:
        if user is not None:
            return len(self._ends.get(user, ()))
        return sum(len(ends) for ends in self._ends.values())


def open_stream(services: Services, caller: Caller, job_id: UUID, resume: EventId | None) -> JobStream | None:
    """The caller's stream of `job_id`, or None when a resuming client already has the job's end (204).
    NotFound for unknown and foreign jobs, RateLimited/DependencyUnavailable when no slot is free."""
    settings = services.settings
    assert caller.claims is not None
    first = services.control_plane.get_job(caller, job_id)
    if resume is not None and _already_has_the_end(services, caller, first, resume):
        return None
    user = str(parse_uuid(str(caller.claims["sub"])))
    token_left = float(caller.claims["exp"]) - time.time()  # verified: a finite number
    ends_at = time.monotonic() + min(settings.events_lifetime_s, token_left)
    release = services.streams.take(user, ends_at, settings.events_per_user, settings.events_instance_cap)
    try:
        subscription = services.job_changes.subscribe(job_id)
    except BaseException:
        release()
        raise
    # A change between the first read and the subscription would wake nobody: read once more at once.
    subscription.notify()
    return JobStream(services, caller, job_id, first, resume, subscription, release, ends_at)


def _already_has_the_end(services: Services, caller: Caller, job: Row, resume: EventId) -> bool:
    return (
        job["status"] in FINISHED
        and job["version"] <= resume.version
        and not services.control_plane.list_job_logs(caller, job["job_id"], resume.log_id, 1)
    )


def bound_socket(environ: Mapping[str, Any], write_timeout_s: float) -> None:
    """Make the server drop a client that stops reading: a write that cannot progress for
    `write_timeout_s` fails (werkzeug and gunicorn then close the connection and the stream), and the
    kernel holds at most a small send buffer for it. Servers that do not expose the socket keep theirs."""
    sock = environ.get("werkzeug.socket") or environ.get("gunicorn.socket")
    if isinstance(sock, socket.socket):
        sock.settimeout(write_timeout_s)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)


class JobStream:
    """One open stream: iterate it for the bytes to send; the server closes it when the client goes."""

    def __init__(
        self,
        services: Services,
        caller: Caller,
        job_id: UUID,
        first: Row,
        resume: EventId | None,
        subscription: Subscription,
        release: Callable[[], None],
        ends_at: float,
    ):
        self._services = services
        self._caller = caller
        self._job_id = job_id
        self._first = first
        self._subscription = subscription
        self._release = release
        self._ends_at = ends_at
        self._version = 0  # of the last job event sent
        self._job_body = b""  # its data
        self._cursor = resume.log_id if resume is not None else 0  # the id of the last line sent
        self._lines_since_job = False
        self._beat_at = 0.0

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._events()
        except errors.AppgenError as exc:  # the database went away mid-stream: the client reconnects
            log.warning("event stream ended: %s", exc.message, extra={"action": "events.ended"})
        except Exception:
            log.exception("event stream crashed", extra={"action": "events.crash"})
        finally:
            self.close()

    def close(self) -> None:
        self._services.job_changes.unsubscribe(self._subscription)
        self._release()

    def _events(self) -> Iterator[bytes]:
        row = self._first
        yield self._job_event(row)
        heartbeat = self._services.settings.events_heartbeat_s
        while True:
            yield from self._new_lines()
            changed = row["version"] > self._version and _body(row) != self._job_body
            finished = row["status"] in FINISHED
            if changed or (finished and self._lines_since_job):
                yield self._job_event(row)  # so that the last event of an ended job is that job
            if finished:
                return
            while True:  # until the job may have changed, a heartbeat is due or the stream must end
                now = time.monotonic()
                if now >= self._ends_at:
                    return
                woke = self._subscription.wait(min(self._beat_at, self._ends_at) - now)
                if self._subscription.closed:
                    return
                if time.monotonic() >= self._beat_at:  # due even while polls keep waking the stream
                    self._beat_at = time.monotonic() + heartbeat
                    yield PING
                    break  # and read again: a lost notification delays an event, never loses it
                if woke:
                    break
            row = self._services.control_plane.get_job(self._caller, self._job_id)

    def _new_lines(self) -> Iterator[bytes]:
        """Every line after the cursor, a page at a time; the job was read before, so every line written
        before the state it shows is among them."""
        while True:
            rows = self._services.control_plane.list_job_logs(self._caller, self._job_id, self._cursor, PAGE)
            for line in rows:
                self._cursor = line["id"]
                self._lines_since_job = True
                yield self._event("log", json.dumps(log_json(line)).encode())
            if len(rows) < PAGE:
                return

    def _job_event(self, row: Row) -> bytes:
        self._version, self._job_body = row["version"], _body(row)
        self._lines_since_job = False
        return self._event("job", self._job_body)

    def _event(self, kind: str, data: bytes) -> bytes:
        self._beat_at = time.monotonic() + self._services.settings.events_heartbeat_s
        return b"id: %d:%d\nevent: %s\ndata: %s\n\n" % (self._version, self._cursor, kind.encode(), data)


def _body(row: Row) -> bytes:
    """The job's data, exactly the status route's body (both are `json.dumps` of `job_json`)."""
    return json.dumps(job_json(row)).encode()
