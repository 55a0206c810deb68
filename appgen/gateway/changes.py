"""What wakes the open job event streams (`appgen/events.py`) when a job they follow may have changed.

Over a direct connection Postgres says so itself: triggers (supabase/migrations/20261202010100_jobs.sql
and 20261202010400_logs.sql) NOTIFY the channel `app_generation_job_changes` with the job's id whenever
its row or its logs change, and `ListenedChanges` holds one listening connection per process and fans
the ids out in memory to the subscriptions of those jobs (not one connection per client). Supabase's
REST API has no LISTEN: `PolledChanges` wakes every subscription at a modest interval, and each stream
re-reads its job through the RPCs.

A subscription is one flag, however many notifications arrive before its stream looks: memory per stream
stays constant, and a stream that fell behind reads the current state once instead of a backlog.

Observers (`watch`) hear every job id as it arrives, and `None` whenever changes may have gone unheard;
`vouches` says whether the feed currently hears every change. The status route's cache of answers
(`appgen/gateway/answers.py`) keeps an answer only while it does.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from uuid import UUID

import psycopg

log = logging.getLogger(__name__)

CHANNEL = "app_generation_job_changes"


class Subscription:
    """One stream's interest in one job."""

    def __init__(self, job_id: UUID, closed: threading.Event):
        self.job_id = job_id
        self._flag = threading.Event()
        self._closed = closed

    def notify(self) -> None:
        self._flag.set()

    def wait(self, timeout: float) -> bool:
        """True as soon as the job may have changed since the last True (then read it: everything
        committed before the notification is visible), False when `timeout` seconds passed quietly or
        the feed is closed."""
        if not self._flag.wait(max(0.0, timeout)):
            return False
        self._flag.clear()  # before the caller reads: a change after this sets it again
        return not self._closed.is_set()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()


class JobChanges(ABC):
    """Subscriptions to the changes of jobs; `close` wakes and ends them all."""

    def __init__(self) -> None:
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._subscriptions: dict[UUID, set[Subscription]] = {}
        self._observers: list[Callable[[UUID | None], None]] = []

    def subscribe(self, job_id: UUID) -> Subscription:
        subscription = Subscription(job_id, self._closed)
        with self._lock:
            self._subscriptions.setdefault(job_id, set()).add(subscription)
        self._started()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            followers = self._subscriptions.get(subscription.job_id)
            if followers is not None:
                followers.discard(subscription)
                if not followers:
                    del self._subscriptions[subscription.job_id]

    def watch(self, observer: Callable[[UUID | None], None]) -> None:
        """Call `observer(job_id)` for every change heard, and `observer(None)` whenever changes may have
        gone unheard (the feed connected, was lost or fell silent), from the feed's thread."""
        with self._lock:
            self._observers.append(observer)

    def vouches(self) -> bool:
        """Whether every change committed until a moment ago has been heard, so that what was read while
        this held stays current until its job's id arrives (or an observer hears None)."""
        return False

    def subscribers(self) -> int:
        with self._lock:
            return sum(len(followers) for followers in self._subscriptions.values())

    def close(self) -> None:
        self._closed.set()
        self._wake_all()

    def _wake(self, job_id: UUID) -> None:
        with self._lock:
            followers = list(self._subscriptions.get(job_id, ()))
            observers = list(self._observers)
        for observer in observers:
            observer(job_id)
        for subscription in followers:
            subscription.notify()

    def _wake_all(self) -> None:
        with self._lock:
            followers = [s for subscriptions in self._subscriptions.values() for s in subscriptions]
            observers = list(self._observers)
        for observer in observers:
            observer(None)
        for subscription in followers:
            subscription.notify()

    @abstractmethod
    def _started(self) -> None:
        """Called after each subscribe: start what wakes the subscriptions, once."""


class PolledChanges(JobChanges):
    """No notifications (Supabase's REST API): every subscription wakes every `interval_s` seconds."""

    def __init__(self, interval_s: float):
        super().__init__()
        self.interval_s = interval_s
        self._thread: threading.Thread | None = None

    def _started(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._tick, name="job-changes-poll", daemon=True)
                self._thread.start()

    def _tick(self) -> None:
        while not self._closed.wait(self.interval_s):
            self._wake_all()

    def close(self) -> None:
        super().close()
        if self._thread is not None:
            self._thread.join(timeout=self.interval_s + 1)


class ListenedChanges(JobChanges):
    """LISTEN on one dedicated connection of this process, started with the first subscription or watch.

    When the connection breaks it reconnects with backoff (1 s doubling to 30 s) and then wakes every
    subscription, since notifications sent in between are lost; streams also re-read at each heartbeat, so
    a lost notification (a pooler that drops them, a partition) delays an event, never loses one. The
    connection is probed every `liveness_s` seconds, so a dead peer is noticed without traffic.

    With `probe` (a function that sends NOTIFY on a given channel the way the writers do: through the
    control plane's own connections), a thread of its own notifies a channel only this connection listens
    to, as soon as it connected and then every `probe_s` seconds (not the listening thread, which must not
    wait for a busy pool while notifications queue up). Postgres delivers notifications in commit order, so hearing the probe means every change
    committed before it was heard too: the feed vouches for itself from the first probe heard after it
    connected until `2.5 * probe_s` after the last one. A probe that does not come back (a dead peer, a
    listening connection behind a transaction pooler, which drops notifications between transactions)
    ends the vouching; one heard after such a silence first tells the observers that changes may have
    gone unheard. Without `probe` it never vouches."""

    APPLICATION_NAME = "appgen job changes"

    def __init__(
        self,
        dsn: str,
        *,
        probe: Callable[[str], None] | None = None,
        probe_s: float = 2.0,
        liveness_s: float = 30.0,
    ):
        super().__init__()
        self._dsn = dsn
        self._probe = probe
        self._probe_s = probe_s
        self._liveness_s = liveness_s
        self._probe_channel = f"app_generation_probe_{secrets.token_hex(8)}"
        self._thread: threading.Thread | None = None
        self._prober: threading.Thread | None = None
        self._probe_now = threading.Event()
        self._heard_at = float("-inf")  # monotonic time the last probe was heard
        self.listening = threading.Event()  # LISTEN is in place (tests wait for it)

    def watch(self, observer: Callable[[UUID | None], None]) -> None:
        super().watch(observer)
        self._started()

    def vouches(self) -> bool:
        return self.listening.is_set() and time.monotonic() - self._heard_at < 2.5 * self._probe_s

    def _started(self) -> None:
        with self._lock:
            if self._thread is None and not self._closed.is_set():
                self._thread = threading.Thread(target=self._listen, name="job-changes-listen", daemon=True)
                self._thread.start()
                if self._probe is not None:
                    self._prober = threading.Thread(
                        target=self._probing, name="job-changes-probe", daemon=True
                    )
                    self._prober.start()

    def _listen(self) -> None:
        delay = 1.0
        while not self._closed.is_set():
            try:
                with psycopg.connect(
                    self._dsn, autocommit=True, connect_timeout=10, application_name=self.APPLICATION_NAME
                ) as conn:
                    conn.execute(f"listen {self._probe_channel}")
                    conn.execute(f"listen {CHANNEL}")
                    self._heard_at = float("-inf")  # vouching starts with the first probe heard
                    self._wake_all()  # anything may have changed while nobody listened
                    self.listening.set()
                    self._probe_now.set()
                    delay = 1.0
                    self._receive(conn)
            except psycopg.Error as exc:
                if self._closed.is_set():
                    break
                log.warning(
                    "job change notifications interrupted (%s); reconnecting in %.0f s",
                    type(exc).__name__,
                    delay,
                    extra={"action": "events.listen_failed"},
                )
            self.listening.clear()
            self._wake_all()
            self._closed.wait(delay)
            delay = min(delay * 2, 30.0)

    def _receive(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        checked = time.monotonic()
        while not self._closed.is_set():
            if time.monotonic() - checked >= self._liveness_s:
                conn.execute("select 1")
                checked = time.monotonic()
            for notification in conn.notifies(timeout=1.0):
                if notification.channel == self._probe_channel:
                    self._heard()
                    continue
                try:
                    self._wake(UUID(notification.payload))
                except ValueError:
                    continue  # not a job id: somebody else's NOTIFY on our channel

    def _probing(self) -> None:
        assert self._probe is not None
        while not self._closed.is_set():
            self._probe_now.wait(self._probe_s)
            self._probe_now.clear()
            if not self.listening.is_set() or self._closed.is_set():
                continue
            try:
                self._probe(self._probe_channel)
            except Exception as exc:  # the database is away: vouching lapses, the listener goes on
                log.debug("job change probe not sent: %s", exc, extra={"action": "events.probe_failed"})

    def _heard(self) -> None:
        """A probe came back: every change committed before it was heard. After a silence (or on the first
        probe after connecting), changes may have gone unheard: the observers hear None first."""
        if not self.vouches():
            self._wake_all()  # before vouching again, so that nothing kept from before is served
        self._heard_at = time.monotonic()

    def close(self) -> None:
        super().close()
        self._probe_now.set()
        for thread in (self._thread, self._prober):
            if thread is not None:
                thread.join(timeout=5)
