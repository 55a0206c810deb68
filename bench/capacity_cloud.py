"""The platform of the capacity model (`capacity_model.py`): the event loop, the Cloud Tasks queues (max
dispatch rate and concurrent dispatches, retries with backoff, a task out of attempts re-sent by the
redelivery sweeper) and the worker service's Cloud Run instances (concurrency 1, cold starts, idle
instances kept a while, a request held briefly then refused with 429). What a task does once it runs is
the subclass's: `capacity_jobs.Simulation`."""

from __future__ import annotations

import heapq
import itertools
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from appgen.dispatch import QUEUE_OF_KIND

if TYPE_CHECKING:
    from bench.capacity_jobs import Job
    from bench.capacity_model import Params


@dataclass(eq=False)
class Task:
    job: Job
    kind: str
    retry: int = 0  # the policy's backoff index
    deliveries: int = 0  # Cloud Tasks attempts of the current delivery


@dataclass(eq=False)
class _Held:
    """A request Cloud Run holds while no instance is free."""

    queue: Queue
    task: Task
    gone: bool = False  # refused (429) or served


@dataclass(eq=False)
class Instance:
    warm_cache: bool = False
    idle_epoch: int = 0


@dataclass(eq=False)
class Queue:
    name: str
    max_concurrent: int
    pending: deque[Task] = field(default_factory=deque)
    inflight: int = 0
    next_slot: float = 0.0
    pump_at: float | None = None
    blocked_area: float = 0.0
    last: float = 0.0


class Cloud(ABC):
    def __init__(self, p: Params) -> None:
        self.p = p
        self.now = 0.0
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._queues = {
            name: Queue(name, p.max_concurrent(name)) for name in sorted(set(QUEUE_OF_KIND.values()))
        }
        self._idle: list[Instance] = []
        self._instances = 0  # busy, idle or starting
        self._held: deque[_Held] = deque()
        self._window = (p.warmup_hours * 3600, (p.warmup_hours + p.hours) * 3600)
        self._busy_area = 0.0  # instance-seconds busy or starting, inside the window
        self._busy = 0
        self._busy_last = 0.0
        self.peak_instances = 0
        self.billed_s = 0.0
        self.run_429 = 0

    @abstractmethod
    def _start(self, job: Job) -> None:
        """The orchestrate function's work on a `start` task."""

    @abstractmethod
    def _run(self, q: Queue, task: Task, inst: Instance) -> None:
        """The worker's work on any other task, on instance `inst`; when it is done it calls
        `_release(inst)` and `_done(q)`."""

    # -- the loop ----------------------------------------------------------------------------------------
    def at(self, t: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._events, (t, next(self._seq), fn))

    def run_until(self, end: float) -> None:
        while self._events and self._events[0][0] <= end:
            self.now, _, fn = heapq.heappop(self._events)
            fn()
        self._account_busy()
        for q in self._queues.values():
            self._account_queue(q)

    def in_window(self, t: float) -> bool:
        return self._window[0] <= t < self._window[1]

    def _overlap(self, start: float, end: float) -> float:
        return max(0.0, min(end, self._window[1]) - max(start, self._window[0]))

    # -- Cloud Tasks -------------------------------------------------------------------------------------
    def _enqueue(self, task: Task, delay: float = 0.0) -> None:
        q = self._queues[QUEUE_OF_KIND[task.kind]]
        if delay:
            self.at(self.now + delay, lambda: self._enqueue(task))
            return
        self._account_queue(q)
        q.pending.append(task)
        self._pump(q)

    def _pump(self, q: Queue) -> None:
        self._account_queue(q)
        while q.pending and q.inflight < q.max_concurrent:
            if self.now < q.next_slot:
                if q.pump_at is None:
                    q.pump_at = q.next_slot
                    self.at(q.next_slot, lambda: self._pump_due(q))
                return
            task = q.pending.popleft()
            q.inflight += 1
            q.next_slot = self.now + 1 / self.p.queue_max_rate
            self._deliver(q, task)

    def _pump_due(self, q: Queue) -> None:
        q.pump_at = None
        self._pump(q)

    def _account_queue(self, q: Queue) -> None:
        """Integrates the time a queue holds tasks back (at its rate or concurrency limit) while worker
        instances are free: the queue, not the instances, is then what limits."""
        if q.pending and self._busy < self.p.max_instances:
            q.blocked_area += self._overlap(q.last, self.now)
        q.last = self.now

    def _done(self, q: Queue) -> None:
        q.inflight -= 1
        self._pump(q)

    # -- Cloud Run ---------------------------------------------------------------------------------------
    def _deliver(self, q: Queue, task: Task) -> None:
        if task.kind == "start":  # the orchestrate function: its own service, never short of instances
            self.at(self.now + self.p.orchestrate_s, lambda: self._orchestrated(q, task.job))
            return
        if self._idle:
            self._begin(q, task, self._idle.pop())
        elif self._instances < self.p.max_instances:
            self._instances += 1
            self.peak_instances = max(self.peak_instances, self._instances)
            self._set_busy(+1)
            self.billed_s += self.p.cold_start_s
            self.at(self.now + self.p.cold_start_s, lambda: self._begin(q, task, Instance(), starting=True))
        else:
            entry = _Held(q, task)
            self._held.append(entry)
            self.at(self.now + self.p.run_pending_s, lambda: self._refuse(entry))

    def _orchestrated(self, q: Queue, job: Job) -> None:
        self._done(q)
        self._start(job)

    def _refuse(self, entry: _Held) -> None:
        """Cloud Run's 429 after holding a request; Cloud Tasks retries it, or loses it to the sweeper."""
        if entry.gone:
            return
        entry.gone = True
        q, task = entry.queue, entry.task
        self.run_429 += 1
        self._done(q)
        task.deliveries += 1
        if task.deliveries < self.p.tasks_max_attempts:
            backoff = min(self.p.tasks_min_backoff_s * 2 ** (task.deliveries - 1), self.p.tasks_max_backoff_s)
            self.at(self.now + backoff, lambda: self._redeliver(q, task))
        else:
            task.deliveries = 0
            self.at(self.now + self.p.redelivery_s, lambda: self._redeliver(q, task))

    def _redeliver(self, q: Queue, task: Task) -> None:
        self._account_queue(q)
        q.pending.appendleft(task)
        self._pump(q)

    def _set_busy(self, delta: int) -> None:
        self._account_busy()
        self._busy += delta

    def _account_busy(self) -> None:
        self._busy_area += self._busy * self._overlap(self._busy_last, self.now)
        self._busy_last = self.now

    def _release(self, inst: Instance) -> None:
        while self._held:
            entry = self._held.popleft()
            if not entry.gone:
                entry.gone = True
                self._run(entry.queue, entry.task, inst)
                return
        self._set_busy(-1)
        inst.idle_epoch += 1
        epoch = inst.idle_epoch
        self._idle.append(inst)
        self.at(self.now + self.p.idle_keep_s, lambda: self._reap(inst, epoch))

    def _reap(self, inst: Instance, epoch: int) -> None:
        if inst.idle_epoch == epoch and inst in self._idle:
            self._idle.remove(inst)
            self._instances -= 1

    def _begin(self, q: Queue, task: Task, inst: Instance, starting: bool = False) -> None:
        if not starting:
            self._set_busy(+1)
        self._run(q, task, inst)
