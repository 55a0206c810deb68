"""What wakes the open job event streams (`appgen/events.py`) when a job they follow may have changed.

Over a direct connection Postgres says so itself: triggers (supabase/migrations/20261202010100_jobs.sql
and 20261202010400_logs.sql) NOTIFY the channel `app_generation_job_changes` with the job's id whenever
its row or its logs change, and `ListenedChanges` holds one listening connection per process and fans
the ids out in memory to the subscriptions of those jobs (not one connection per client). Supabase's
REST API has no LISTEN: `PolledChanges` wakes every subscription at a modest interval, and each stream
re-reads its job through the RPCs.

A subscription is one flag, however many notifications arrive before its stream looks: memory per stream
stays constant, and a stream that fell behind reads the current state once instead of a backlog.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
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

    def subscribers(self) -> int:
        with self._lock:
            return sum(len(followers) for followers in self._subscriptions.values())

    def close(self) -> None:
        self._closed.set()
        self._wake_all()

    def _wake(self, job_id: UUID) -> None:
        with self._lock:
            followers = list(self._subscriptions.get(job_id, ()))
        for subscription in followers:
            subscription.notify()

    def _wake_all(self) -> None:
        with self._lock:
            followers = [s for subscriptions in self._subscriptions.values() for s in subscriptions]
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
    """LISTEN on one dedicated connection of this process, started with the first subscription.

    When the connection breaks it reconnects with backoff (1 s doubling to 30 s) and then wakes every
    subscription, since notifications sent in between are lost; streams also re-read at each heartbeat, so
    a lost notification (a pooler that drops them, a partition) delays an event, never loses one. The
    connection is probed every `probe_s` seconds, so a dead peer is noticed without traffic."""

    def __init__(self, dsn: str, *, probe_s: float = 30.0):
        super().__init__()
        self._dsn = dsn
        self._probe_s = probe_s
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()  # LISTEN is in place (tests wait for it)

    def _started(self) -> None:
        with self._lock:
            if self._thread is None and not self._closed.is_set():
                self._thread = threading.Thread(target=self._listen, name="job-changes-listen", daemon=True)
                self._thread.start()

    def _listen(self) -> None:
        delay = 1.0
        while not self._closed.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"listen {CHANNEL}")
                    self.listening.set()
                    self._wake_all()  # anything may have changed while nobody listened
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
        probed = time.monotonic()
        while not self._closed.is_set():
            for notification in conn.notifies(timeout=1.0):
                try:
                    self._wake(UUID(notification.payload))
                except ValueError:
                    continue  # not a job id: somebody else's NOTIFY on our channel
            if time.monotonic() - probed >= self._probe_s:
                conn.execute("select 1")
                probed = time.monotonic()

    def close(self) -> None:
        super().close()
        if self._thread is not None:
            self._thread.join(timeout=5)
