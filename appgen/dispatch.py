"""Task dispatch port. The database says what to run next (`Dispatch` rows); a dispatcher enqueues it on
the right queue for the right service, the way Cloud Tasks does: at least once, ids only in the payload.

`LocalDispatcher` is the real local implementation: named-task dedup (for an hour, in bounded memory),
`schedule_time` (delays), a dispatch deadline per delivery, retries of non-2xx answers with doubling
backoff, the `X-CloudTasks-*` headers and a signed token the internal endpoints verify. Deliveries run on
their own threads, so one hung handler never blocks the others.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from appgen.auth import mint_internal_token
from appgen.gateway import Dispatch

log = logging.getLogger(__name__)

# Queues of the plan, and which one carries each step.
ORCHESTRATOR_QUEUE = "app-gen-orchestrator"
PAGE_QUEUE = "app-gen-page"
INTEGRATE_QUEUE = "app-gen-integrate"
FIX_QUEUE = "app-gen-fix"
QUEUE_OF_KIND = {
    "start": ORCHESTRATOR_QUEUE,
    "scaffold": PAGE_QUEUE,
    "page": PAGE_QUEUE,
    "integrate": INTEGRATE_QUEUE,
    "validate": INTEGRATE_QUEUE,
    "package": INTEGRATE_QUEUE,
    "fix": FIX_QUEUE,
}
# Cloud Tasks' maximum dispatch deadline for HTTP targets: every step must finish within it.
DISPATCH_DEADLINE_SECONDS = 30 * 60
# Cloud Tasks refuses a task name for about an hour after a task of that name was created; the local
# dispatcher remembers names as long (and at most this many, oldest forgotten first), so its memory stays
# bounded in a process that runs for months. A duplicate arriving later still runs nothing twice: the
# database's claim_task and finish_task are what make delivery at least once safe.
DEDUP_WINDOW_SECONDS = 60 * 60
DEDUP_MAX_NAMES = 100_000


@dataclass(frozen=True)
class TaskMessage:
    queue: str
    target: str  # "orchestrate" (orchestrator service) or "worker" (worker service)
    payload: dict[str, Any]
    name: str | None = None  # deterministic names deduplicate repeated enqueues
    delay_seconds: int = 0


def message_for(dispatch: Dispatch) -> TaskMessage:
    """The queue message for one database dispatch instruction. Payloads carry ids only."""
    if dispatch.kind == "start":
        return TaskMessage(ORCHESTRATOR_QUEUE, "orchestrate", {"jobId": str(dispatch.job_id)})
    # The database re-dispatches a task only with a new delay (20/60/180 s after transient failures) or a
    # new redelivery number (the sweeper re-sending a step the queue lost), so these name each delivery
    # uniquely and collapse accidental double enqueues.
    suffix = f"-r{dispatch.redelivery}" if dispatch.redelivery else ""
    return TaskMessage(
        QUEUE_OF_KIND[dispatch.kind],
        "worker",
        {"taskId": str(dispatch.task_id), "jobId": str(dispatch.job_id), "kind": dispatch.kind},
        name=f"task-{dispatch.task_id}-d{dispatch.delay_seconds}{suffix}",
        delay_seconds=dispatch.delay_seconds,
    )


class Dispatcher(ABC):
    @abstractmethod
    def enqueue(self, message: TaskMessage) -> None: ...

    def dispatch_all(self, dispatches: Iterable[Dispatch]) -> None:
        for dispatch in dispatches:
            self.enqueue(message_for(dispatch))

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


@dataclass(order=True)
class _Scheduled:
    eta: float
    seq: int
    message: TaskMessage = field(compare=False)
    retry_count: int = field(default=0, compare=False)


class LocalDispatcher(Dispatcher):
    """Delivers tasks over HTTP to this machine's internal endpoints (`{base_url}/internal/{target}`)."""

    def __init__(
        self,
        base_url: str,
        secret: str,
        *,
        deadline_seconds: float = DISPATCH_DEADLINE_SECONDS,
        min_backoff: float = 1.0,
        max_backoff: float = 60.0,
        max_attempts: int = 10,
        dedup_window_s: float = DEDUP_WINDOW_SECONDS,
        dedup_max_names: int = DEDUP_MAX_NAMES,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.base_url = base_url.rstrip("/")
        self._secret = secret
        self._min_backoff, self._max_backoff, self._max_attempts = min_backoff, max_backoff, max_attempts
        self._heap: list[_Scheduled] = []
        self._names: OrderedDict[str, float] = OrderedDict()  # task name -> when first enqueued, oldest first
        self._dedup_window_s, self._dedup_max_names, self._clock = dedup_window_s, dedup_max_names, clock
        self._seq = itertools.count()
        self._deadline = deadline_seconds
        self._cond = threading.Condition()
        self._stopped = False
        self._in_flight = 0
        # The timer thread and the HTTP client belong to the process that enqueues, started by its first
        # task: the Functions Framework builds the services (this dispatcher with them) in gunicorn's master
        # before it forks the worker, and a thread does not survive a fork, so a timer started here left
        # the worker's tasks in a heap nobody read.
        self._pid = 0
        self._timer: threading.Thread | None = None
        self._client: httpx.Client | None = None

    def _running_here(self) -> httpx.Client:
        """The client of this process's timer, which this starts if needed (called under `_cond`)."""
        if self._timer is None or self._client is None or self._pid != os.getpid():
            if self._pid not in (0, os.getpid()):  # a forked child: the parent's tasks are the parent's
                self._heap.clear()
                self._in_flight = 0
            self._pid = os.getpid()
            # One client for every delivery: building one per request (its TLS context, even for plain
            # http) cost 30-80 ms of CPU per task, paid in the fan-out to the page agents. No keep-alive,
            # so no delivery ever lands on a connection the server has dropped; no pool limit, so a
            # handler that runs for minutes never holds up another delivery.
            self._client = httpx.Client(
                timeout=httpx.Timeout(self._deadline, connect=10),
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=0),
            )
            self._timer = threading.Thread(
                target=self._run, args=(self._client,), name="dispatcher", daemon=True
            )
            self._timer.start()
        return self._client

    def enqueue(self, message: TaskMessage) -> None:
        with self._cond:
            self._running_here()
            if message.name is not None and not self._remember(message.name):
                log.info(
                    "duplicate task name ignored", extra={"action": "dispatch.dedup", "task": message.name}
                )
                return
            heapq.heappush(
                self._heap, _Scheduled(time.time() + message.delay_seconds, next(self._seq), message)
            )
            self._cond.notify()

    def _remember(self, name: str) -> bool:
        """False when `name` was enqueued within the dedup window; otherwise remember it (forgetting the
        names past the window, and the oldest beyond the maximum count)."""
        now = self._clock()
        while self._names and now - next(iter(self._names.values())) >= self._dedup_window_s:
            self._names.popitem(last=False)
        if name in self._names:
            return False
        if len(self._names) >= self._dedup_max_names:
            self._names.popitem(last=False)
        self._names[name] = now
        return True

    def idle(self) -> bool:
        """True when nothing is scheduled or being delivered (tests and shutdown use it)."""
        with self._cond:
            return not self._heap and self._in_flight == 0

    def close(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            ours = self._pid == os.getpid()
            timer, client = self._timer, self._client
        if not ours or timer is None or client is None:
            return  # never started here: a forked child's copies are the parent's to close
        timer.join(timeout=5)
        with self._cond:
            if self._in_flight == 0:  # a delivery still running (a daemon thread) keeps the client
                client.close()

    def _run(self, client: httpx.Client) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._heap or self._heap[0].eta > time.time()):
                    timeout = self._heap[0].eta - time.time() if self._heap else None
                    self._cond.wait(timeout)
                if self._stopped:
                    return
                item = heapq.heappop(self._heap)
                self._in_flight += 1
            # A thread per delivery, as Cloud Tasks has no shared pool: a hung or long handler (an agent
            # runs for minutes) never delays another task. Daemon threads die with the process; the
            # database still owes their tasks and the sweeper sends them again.
            threading.Thread(
                target=self._deliver, args=(item, client), name=f"deliver-{item.seq}", daemon=True
            ).start()

    def _deliver(self, item: _Scheduled, client: httpx.Client) -> None:
        message = item.message
        headers = {
            "Authorization": f"Bearer {mint_internal_token(self._secret)}",
            "X-CloudTasks-QueueName": message.queue,
            "X-CloudTasks-TaskName": message.name or f"auto-{item.seq}",
            "X-CloudTasks-TaskRetryCount": str(item.retry_count),
            "X-CloudTasks-TaskExecutionCount": str(item.retry_count),
            "X-CloudTasks-TaskETA": f"{item.eta:.3f}",
        }
        try:
            response = client.post(
                f"{self.base_url}/internal/{message.target}", json=message.payload, headers=headers
            )
            ok = 200 <= response.status_code < 300
            reason = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            # Past the dispatch deadline Cloud Tasks treats the attempt as failed and retries it.
            ok, reason = False, type(exc).__name__
        with self._cond:
            self._in_flight -= 1
            if not ok and not self._stopped:
                self._retry(item, reason)

    def _retry(self, item: _Scheduled, reason: str) -> None:
        if item.retry_count + 1 >= self._max_attempts:
            log.error(
                "task dropped after %s attempts: %s",
                self._max_attempts,
                reason,
                extra={"action": "dispatch.give_up", "task": item.message.name},
            )
            return
        backoff = min(self._max_backoff, self._min_backoff * 2**item.retry_count)
        log.warning(
            "delivery failed (%s); retrying in %.0f s",
            reason,
            backoff,
            extra={"action": "dispatch.retry", "task": item.message.name},
        )
        heapq.heappush(
            self._heap, _Scheduled(time.time() + backoff, next(self._seq), item.message, item.retry_count + 1)
        )
        self._cond.notify()


class InMemoryDispatcher(Dispatcher):
    """Holds enqueued messages instead of delivering them (with Cloud Tasks' name dedup): for API-level
    tests and tools that drive the pipeline step by step."""

    def __init__(self) -> None:
        self.messages: list[TaskMessage] = []
        self._names: set[str] = set()
        self._lock = threading.Lock()

    def enqueue(self, message: TaskMessage) -> None:
        with self._lock:
            if message.name is not None:
                if message.name in self._names:
                    return
                self._names.add(message.name)
            self.messages.append(message)
