"""The jobs of the capacity model (`capacity_model.py`): users submitting under `submit_job`'s quotas, the
orchestrate function's `start_job`, each step of the worker (agents' model turns against Gemini's
per-minute limits, validate with its install cache, the fix rounds) and what `finish_task` dispatches
next, on the platform `capacity_cloud.Cloud` simulates."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from appgen.policy import POLICY, ErrorCode
from bench.capacity_cloud import Cloud, Instance, Queue, Task

if TYPE_CHECKING:
    from bench.capacity_model import Params


@dataclass(eq=False)
class Job:
    id: int
    user: int
    submitted: float
    started: float | None = None
    first_request: float | None = None
    ended: float | None = None
    outcome: str = ""
    next_page: int = 0
    pages_done: int = 0
    fix_round: int = 0


@dataclass
class _User:
    counted: deque[tuple[float, int]] = field(default_factory=deque)  # (submitted, job id) within the window
    running: int = 0
    waiting: deque[Job] = field(default_factory=deque)


class _Gemini:
    """The project's per-minute limits over a sliding minute; None when admitted, else the limit hit."""

    def __init__(self, rpm: int, tpm: int) -> None:
        self.rpm, self.tpm = rpm, tpm
        self._window: deque[tuple[float, int]] = deque()
        self._tokens = 0

    def admit(self, now: float, tokens: int) -> str | None:
        while self._window and self._window[0][0] <= now - 60:
            self._tokens -= self._window.popleft()[1]
        if len(self._window) + 1 > self.rpm:
            return "gemini_rpm"
        if self._tokens + tokens > self.tpm:
            return "gemini_tpm"
        self._window.append((now, tokens))
        self._tokens += tokens
        return None


class Simulation(Cloud):
    def __init__(self, p: Params) -> None:
        super().__init__(p)
        # Two streams, so arrivals stay the same when a setting changes only how the work is served.
        self._arrivals = random.Random(p.seed)
        self._rng = random.Random(p.seed + 1_000_003)
        self.jobs: list[Job] = []
        self._users: dict[int, _User] = {}
        self._gemini = _Gemini(p.gemini_rpm, p.gemini_tpm)
        self._running = 0
        self._admission: deque[Job] = deque()  # jobs waiting for the global cap, oldest first
        self.requests = 0
        self.tokens_in = 0
        self.tokens_out = 0
        self.tried_requests = 0  # every model request tried inside the window, admitted or not
        self.tried_tokens = 0
        self.gemini_429 = 0
        self.backoffs = 0
        self.quota_rejections = 0
        self.submitted = 0

    def run(self) -> None:
        self.at(self._next_arrival(0.0), self._arrive)
        self.run_until(self._window[1] + 3600 * 2)  # drain: jobs still running when arrivals stop can finish

    # -- users and quotas --------------------------------------------------------------------------------
    def _next_arrival(self, t: float) -> float:
        return t + self._arrivals.expovariate(self.p.offered_per_hour / 3600)

    def _arrive(self) -> None:
        if self.now >= self._window[1]:
            return
        self.at(self._next_arrival(self.now), self._arrive)
        uid = self._arrivals.randrange(self.p.users)
        user = self._users.setdefault(uid, _User())
        if self.in_window(self.now):
            self.submitted += 1
        window = POLICY.quota_window.total_seconds()
        while user.counted and user.counted[0][0] <= self.now - window:
            user.counted.popleft()
        if len(user.counted) >= POLICY.daily_job_cap:
            self.quota_rejections += 1
            return
        job = Job(len(self.jobs), uid, self.now)
        self.jobs.append(job)
        user.counted.append((self.now, job.id))
        self._enqueue(Task(job, "start"))

    def _start(self, job: Job) -> None:
        """The orchestrate function's `start_job`: run now if the owner has a free slot, else wait."""
        user = self._users[job.user]
        if user.running >= POLICY.running_jobs_per_user:
            user.waiting.append(job)
            return
        if self.p.max_running_jobs and self._running >= self.p.max_running_jobs:
            self._admission.append(job)
            return
        self._running += 1
        user.running += 1
        job.started = self.now
        self.at(self.now + POLICY.job_time_limit.total_seconds(), lambda: self._end(job, ErrorCode.TIMEOUT))
        self._enqueue(Task(job, "scaffold"))

    def _end(self, job: Job, outcome: str) -> None:
        if job.ended is not None:
            return
        job.ended, job.outcome = self.now, outcome
        user = self._users[job.user]
        user.running -= 1
        self._running -= 1
        if outcome != "completed" and ErrorCode(outcome).refunded:
            user.counted = deque(c for c in user.counted if c[1] != job.id)
        if user.waiting:
            self._enqueue(Task(user.waiting.popleft(), "start"))
        if self._admission:
            self._enqueue(Task(self._admission.popleft(), "start"))

    # -- the worker's steps ------------------------------------------------------------------------------
    def _run(self, q: Queue, task: Task, inst: Instance) -> None:
        p, job = self.p, task.job
        self.requests += 1
        task.deliveries = 0
        started = self.now
        finish: Callable[[str], None] = lambda result: self._finish(q, task, inst, started, result)  # noqa: E731
        if job.ended is not None:  # claim_task refuses a task of an ended job
            self.at(self.now + 0.2, lambda: finish("skip"))
        elif task.kind in ("page", "integrate", "fix"):
            turns = {"page": p.page_turns, "integrate": p.integrate_turns, "fix": p.fix_turns}[task.kind]
            self.at(
                self.now + p.task_overhead_s + p.agent_startup_s, lambda: self._turn(task, turns, 0, finish)
            )
        elif task.kind == "validate":
            install = p.install_warm_s if inst.warm_cache else p.install_cold_s
            inst.warm_cache = True
            ok = self._rng.random() >= p.fix_probability
            duration = p.task_overhead_s + install + p.build_s + p.lint_s
            self.at(self.now + duration, lambda: finish("ok" if ok else "build_failed"))
        else:
            work = p.scaffold_s if task.kind == "scaffold" else p.package_s
            self.at(self.now + p.task_overhead_s + work, lambda: finish("ok"))

    def _turn(self, task: Task, turns_left: int, tries: int, finish: Callable[[str], None]) -> None:
        """One model request of an agent; the CLI retries a 429 itself before the step gives up."""
        p, job = self.p, task.job
        if job.first_request is None:
            job.first_request = self.now
        if self.in_window(self.now):
            self.tried_requests += 1
            self.tried_tokens += p.input_tokens_per_turn
        refused = self._gemini.admit(self.now, p.input_tokens_per_turn)
        if refused:
            self.gemini_429 += 1
            if tries + 1 < p.cli_attempts:
                delay = p.cli_retry_s * 2**tries
                self.at(self.now + delay, lambda: self._turn(task, turns_left, tries + 1, finish))
            else:
                finish(ErrorCode.AGENT_QUOTA)
            return
        self.tokens_in += p.input_tokens_per_turn
        self.tokens_out += p.output_tokens_per_turn
        latency = p.turn_latency_s * self._rng.lognormvariate(0, p.turn_latency_sigma)
        if turns_left > 1:
            self.at(self.now + latency, lambda: self._turn(task, turns_left - 1, 0, finish))
        else:
            self.at(self.now + latency, lambda: finish("ok"))

    def _finish(self, q: Queue, task: Task, inst: Instance, started: float, result: str) -> None:
        self.billed_s += self.now - started
        self._release(inst)
        self._done(q)
        job = task.job
        if job.ended is not None or result == "skip":
            return
        if result == ErrorCode.AGENT_QUOTA:
            if task.retry < len(POLICY.retry_backoff_seconds):
                self.backoffs += 1
                retry = Task(job, task.kind, task.retry + 1)
                self._enqueue(retry, delay=POLICY.retry_backoff_seconds[task.retry])
            else:
                self._end(job, ErrorCode.AGENT_QUOTA)
            return
        self._next(job, task.kind, result)

    def _next(self, job: Job, kind: str, result: str) -> None:
        """What the database's finish_task dispatches after a step succeeded (or a validate failed)."""
        window = min(self.p.pages, POLICY.page_parallelism, POLICY.page_parallelism_max)
        if kind == "scaffold":
            for _ in range(window):
                self._next_page(job)
        elif kind == "page":
            job.pages_done += 1
            if job.next_page < self.p.pages:
                self._next_page(job)
            elif job.pages_done == self.p.pages:
                self._enqueue(Task(job, "integrate"))
        elif kind in ("integrate", "fix"):
            self._enqueue(Task(job, "validate"))
        elif kind == "validate" and result == "ok":
            self._enqueue(Task(job, "package"))
        elif kind == "validate" and job.fix_round < POLICY.max_fix_rounds:
            job.fix_round += 1
            self._enqueue(Task(job, "fix"))
        elif kind == "validate":
            self._end(job, ErrorCode.BUILD_FAILED)
        elif kind == "package":
            self._end(job, "completed")

    def _next_page(self, job: Job) -> None:
        job.next_page += 1
        self._enqueue(Task(job, "page"))
