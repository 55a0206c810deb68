"""Capacity model of the cloud deployment: a discrete-event simulation, so the questions of issue 14's
"toward internet scale" part (how many jobs per hour does a given max-instances sustain, how long do jobs
wait, what saturates first, what does a job cost) are answered from the measured step durations instead
of guessed.

What it models, step by step as the code runs it (README, Architecture and Operations):
- users submit jobs as a Poisson process; `submit_job`'s quotas apply (POLICY.daily_job_cap per rolling
  POLICY.quota_window, refunded failures not counted; POLICY.running_jobs_per_user running, the others
  wait `queued` and start when a slot frees);
- the four Cloud Tasks queues (appgen.dispatch.QUEUE_OF_KIND) with a max dispatch rate and max concurrent
  dispatches each; `start` goes to the orchestrate function, every other step to the worker;
- the worker service: concurrency 1, max instances, a cold start per new instance, idle instances kept
  for a while, and a per-instance npm install cache that is cold for the first validate of each instance;
  when every instance is busy Cloud Run holds a request briefly, then answers 429 and Cloud Tasks retries
  it with its own backoff; a task out of attempts is lost until the redelivery sweeper re-sends it;
- the job: scaffold, pages in a window of min(pages, POLICY.page_parallelism) (at most
  POLICY.page_parallelism_max), integrate, validate, fix rounds (each validate fails with a probability,
  at most POLICY.max_fix_rounds), package; the POLICY.job_time_limit deadline;
- agents: Gemini CLI start-up, then model turns, each one request against the project's requests-per-
  minute and (input) tokens-per-minute limits over a sliding minute; a 429 is retried by the CLI a few
  times, then the step fails with `agent_quota`, is retried after POLICY.retry_backoff_seconds, and the
  job fails (refunded) when they are used up.

Not modelled: the status/download API (issue 14's other part), Supabase compute beyond the pooler's
client count, the repeated-error early stop of the fix loop, Gemini's daily request limit.

Why a hand-rolled heapq event loop and not simpy: the model is a few hundred events per job with no
shared-resource waiting that simpy's processes would simplify (Cloud Run's queueing is itself a thing to
model: hold, 429, retry), so a 15-line loop keeps `make test` free of a dependency and every event in
plain sight. matplotlib is needed only for `--plot` (the `bench` extra).

    python bench/capacity.py --users 2000 --max-instances 20
    python bench/capacity.py --scales            # the README's 10x / 100x / 1000x table
    python bench/capacity.py --plot docs/capacity.png
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import math
import random
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appgen.dispatch import QUEUE_OF_KIND  # noqa: E402
from appgen.policy import POLICY, ErrorCode  # noqa: E402

# List prices in USD, as published in June 2025 (not fetched: this script uses no network; check the
# pages before quoting a number). Cloud Run: Tier 1 region (us-central1), request-based billing (CPU
# only during requests and start-up), above the free tier. Gemini API: paid tier, gemini-2.5-pro (the
# default GEMINI_MODEL), prompts up to 200k tokens; output tokens include thinking tokens.
PRICES_DATE = "2025-06"
CLOUD_RUN_VCPU_SECOND = 0.000024
CLOUD_RUN_GIB_SECOND = 0.0000025
CLOUD_RUN_PER_MILLION_REQUESTS = 0.40
GEMINI_INPUT_PER_MILLION = 1.25
GEMINI_OUTPUT_PER_MILLION = 10.00

# Today's load, the 1x the README's scaling table multiplies: an assumption (no production traffic yet).
TODAY_USERS = 200
TODAY_JOBS_PER_USER_DAY = 1.0


@dataclass(frozen=True)
class Params:
    # Load. Each user submits Poisson at jobs_per_user_day / 24 per hour.
    users: int = TODAY_USERS
    jobs_per_user_day: float = TODAY_JOBS_PER_USER_DAY
    hours: float = 4.0  # measured window, after the warm-up
    warmup_hours: float = 0.5
    seed: int = 1
    pages: int = 4  # issue 14's measured job had 4 pages
    # Steps, in seconds. Measured (issue 14, 4-page job, offline model, 2-core machine):
    agent_startup_s: float = 3.6  # Gemini CLI start-up per agent, with an instant model
    install_cold_s: float = 21.7  # npm install into an empty install cache
    install_warm_s: float = 0.0  # "~0 s warm"
    build_s: float = 11.3
    lint_s: float = 2.6
    package_s: float = 1.0
    # Estimates, to replace with measurements from the cloud:
    scaffold_s: float = 2.0  # deterministic HTML -> TSX; well under the 5.6 s all agents took offline
    task_overhead_s: float = 1.0  # per worker task: claim/finish RPCs, snapshot restore and pack
    orchestrate_s: float = 0.3  # the orchestrate function's start_job call
    # Model turns. Real page agents take minutes (issue 14); each turn is one model request. Tokens per
    # turn: the CLI's system prompt and tools (~10k), the page's preview HTML, files read, growing history;
    # the worker records each step's input/output tokens, so measure them from real jobs and override.
    page_turns: int = 12
    integrate_turns: int = 6
    fix_turns: int = 8
    turn_latency_s: float = 10.0  # gemini-2.5-pro with thinking: an estimate
    turn_latency_sigma: float = 0.4  # lognormal spread of a turn's latency
    input_tokens_per_turn: int = 25_000
    output_tokens_per_turn: int = 1_200
    fix_probability: float = 0.3  # chance a validate round fails and a fix round follows: an estimate
    # Gemini API limits per project: Tier 1, gemini-2.5-pro (ai.google.dev rate-limits page, 2025).
    gemini_rpm: int = 150
    gemini_tpm: int = 2_000_000  # input tokens per minute
    cli_attempts: int = 3  # the worker's CLI settings: general.maxAttempts (appgen/agents/cli_config.py)
    cli_retry_s: float = 5.0  # the CLI's first retry delay, doubling (its retry helper's default)
    # Cloud Run worker: 4 vCPU / 8 GiB, concurrency 1 (worker_container/Dockerfile).
    max_instances: int = 20
    vcpu: int = 4
    memory_gib: int = 8
    cold_start_s: float = 10.0  # image pull + Python + Node start: an estimate
    idle_keep_s: float = 900.0  # Cloud Run keeps an idle instance up to ~15 min
    run_pending_s: float = 10.0  # how long Cloud Run holds a request with no free instance, then 429
    # Cloud Tasks, every queue alike. Defaults are Cloud Tasks' own (500/s, 1000 concurrent); the README
    # asks for a small max-attempts with min-backoff 10 s.
    queue_max_rate: float = 500.0
    queue_max_concurrent: int = 1000
    # True: the worker queues' max concurrent dispatches sum to max_instances (page 75 %, integrate 20 %,
    # fix the rest), so Cloud Tasks holds the backlog in order instead of Cloud Run refusing it at random.
    queues_fit_instances: bool = False
    # Not in the code today (0 = no limit): a global cap on running jobs in start_job, so past saturation
    # jobs wait `queued` (no deadline yet) instead of all starting and timing out together.
    max_running_jobs: int = 0
    tasks_max_attempts: int = 5
    tasks_min_backoff_s: float = 10.0
    tasks_max_backoff_s: float = 300.0
    redelivery_s: float = POLICY.task_lease_seconds + POLICY.sweep_interval_seconds / 2
    # Supabase: connections each worker instance holds (step + lease heartbeat), pooler client limit
    # (Supavisor on the smallest compute): estimates.
    db_connections_per_instance: int = 2
    pooler_clients: int = 200

    @property
    def offered_per_hour(self) -> float:
        return self.users * self.jobs_per_user_day / 24

    def max_concurrent(self, queue: str) -> int:
        if not self.queues_fit_instances or queue == QUEUE_OF_KIND["start"]:
            return self.queue_max_concurrent
        page = max(1, round(0.75 * self.max_instances))
        integrate = max(1, round(0.2 * self.max_instances))
        share = {
            QUEUE_OF_KIND["page"]: page,
            QUEUE_OF_KIND["integrate"]: integrate,
            QUEUE_OF_KIND["fix"]: max(1, self.max_instances - page - integrate),
        }
        return min(self.queue_max_concurrent, share[queue])


@dataclass
class Result:
    params: Params
    submitted_per_hour: float  # before quotas
    accepted_per_hour: float  # after quotas
    completed_per_hour: float
    failed: dict[str, int]
    quota_rejections: int
    delay_p50_s: float  # submit -> first model request, waiting only (see _delay)
    delay_p95_s: float
    delay_p99_s: float
    wall_p50_s: float  # submit -> completed
    wall_p95_s: float
    pressure: dict[str, float]  # how close each limit came to saturating, 1.0 = saturated
    gemini_429: int
    backoffs: int  # steps re-run after the policy's 20/60/180 s backoff
    run_429: int  # deliveries Cloud Run refused (no free instance)
    cost_cloud_run: float  # USD per completed job
    cost_gemini: float
    job_instance_s: float  # worker instance-seconds per completed job (the plateau's denominator)

    @property
    def bottleneck(self) -> str:
        name, value = max(self.pressure.items(), key=lambda kv: kv[1])
        return name if value >= 0.85 else "none"


@dataclass(eq=False)
class _Job:
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


@dataclass(eq=False)
class _Task:
    job: _Job
    kind: str
    retry: int = 0  # the policy's backoff index
    deliveries: int = 0  # Cloud Tasks attempts of the current delivery


@dataclass(eq=False)
class _Held:
    """A request Cloud Run holds while no instance is free."""

    queue: _Queue
    task: _Task
    gone: bool = False  # refused (429) or served


@dataclass(eq=False)
class _Instance:
    warm_cache: bool = False
    idle_epoch: int = 0


@dataclass(eq=False)
class _Queue:
    name: str
    max_concurrent: int
    pending: deque[_Task] = field(default_factory=deque)
    inflight: int = 0
    next_slot: float = 0.0
    pump_at: float | None = None
    blocked_area: float = 0.0
    last: float = 0.0


@dataclass
class _User:
    counted: deque[tuple[float, int]] = field(default_factory=deque)  # (submitted, job id) within the window
    running: int = 0
    waiting: deque[_Job] = field(default_factory=deque)


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


class _Sim:
    def __init__(self, p: Params) -> None:
        self.p = p
        self.now = 0.0
        # Two streams, so arrivals stay the same when a setting changes only how the work is served.
        self._arrivals = random.Random(p.seed)
        self._rng = random.Random(p.seed + 1_000_003)
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self.jobs: list[_Job] = []
        self._users: dict[int, _User] = {}
        self._queues = {
            name: _Queue(name, p.max_concurrent(name)) for name in sorted(set(QUEUE_OF_KIND.values()))
        }
        self._gemini = _Gemini(p.gemini_rpm, p.gemini_tpm)
        self._idle: list[_Instance] = []
        self._instances = 0  # busy, idle or starting
        self._held: deque[_Held] = deque()
        self._running = 0
        self._admission: deque[_Job] = deque()  # jobs waiting for the global cap, oldest first
        self._window = (p.warmup_hours * 3600, (p.warmup_hours + p.hours) * 3600)
        self._busy_area = 0.0  # instance-seconds busy or starting, inside the window
        self._busy = 0
        self._busy_last = 0.0
        self.peak_instances = 0
        self.billed_s = 0.0
        self.requests = 0
        self.tokens_in = 0
        self.tokens_out = 0
        self.tried_requests = 0  # every model request tried inside the window, admitted or not
        self.tried_tokens = 0
        self.gemini_429 = 0
        self.backoffs = 0
        self.run_429 = 0
        self.quota_rejections = 0
        self.submitted = 0

    # -- the loop ----------------------------------------------------------------------------------------
    def at(self, t: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._events, (t, next(self._seq), fn))

    def run(self) -> None:
        self.at(self._next_arrival(0.0), self._arrive)
        end = self._window[1] + 3600 * 2  # drain: jobs still running when arrivals stop can finish
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
        job = _Job(len(self.jobs), uid, self.now)
        self.jobs.append(job)
        user.counted.append((self.now, job.id))
        self._enqueue(_Task(job, "start"))

    def _start(self, job: _Job) -> None:
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
        self._enqueue(_Task(job, "scaffold"))

    def _end(self, job: _Job, outcome: str) -> None:
        if job.ended is not None:
            return
        job.ended, job.outcome = self.now, outcome
        user = self._users[job.user]
        user.running -= 1
        self._running -= 1
        if outcome != "completed" and ErrorCode(outcome).refunded:
            user.counted = deque(c for c in user.counted if c[1] != job.id)
        if user.waiting:
            self._enqueue(_Task(user.waiting.popleft(), "start"))
        if self._admission:
            self._enqueue(_Task(self._admission.popleft(), "start"))

    # -- Cloud Tasks -------------------------------------------------------------------------------------
    def _enqueue(self, task: _Task, delay: float = 0.0) -> None:
        q = self._queues[QUEUE_OF_KIND[task.kind]]
        if delay:
            self.at(self.now + delay, lambda: self._enqueue(task))
            return
        self._account_queue(q)
        q.pending.append(task)
        self._pump(q)

    def _pump(self, q: _Queue) -> None:
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

    def _pump_due(self, q: _Queue) -> None:
        q.pump_at = None
        self._pump(q)

    def _account_queue(self, q: _Queue) -> None:
        """Integrates the time a queue holds tasks back (at its rate or concurrency limit) while worker
        instances are free: the queue, not the instances, is then what limits."""
        if q.pending and self._busy < self.p.max_instances:
            q.blocked_area += self._overlap(q.last, self.now)
        q.last = self.now

    def _done(self, q: _Queue) -> None:
        q.inflight -= 1
        self._pump(q)

    # -- Cloud Run ---------------------------------------------------------------------------------------
    def _deliver(self, q: _Queue, task: _Task) -> None:
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
            self.at(self.now + self.p.cold_start_s, lambda: self._begin(q, task, _Instance(), starting=True))
        else:
            entry = _Held(q, task)
            self._held.append(entry)
            self.at(self.now + self.p.run_pending_s, lambda: self._refuse(entry))

    def _orchestrated(self, q: _Queue, job: _Job) -> None:
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

    def _redeliver(self, q: _Queue, task: _Task) -> None:
        self._account_queue(q)
        q.pending.appendleft(task)
        self._pump(q)

    def _set_busy(self, delta: int) -> None:
        self._account_busy()
        self._busy += delta

    def _account_busy(self) -> None:
        self._busy_area += self._busy * self._overlap(self._busy_last, self.now)
        self._busy_last = self.now

    def _release(self, inst: _Instance) -> None:
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

    def _reap(self, inst: _Instance, epoch: int) -> None:
        if inst.idle_epoch == epoch and inst in self._idle:
            self._idle.remove(inst)
            self._instances -= 1

    def _begin(self, q: _Queue, task: _Task, inst: _Instance, starting: bool = False) -> None:
        if not starting:
            self._set_busy(+1)
        self._run(q, task, inst)

    # -- the worker's steps ------------------------------------------------------------------------------
    def _run(self, q: _Queue, task: _Task, inst: _Instance) -> None:
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

    def _turn(self, task: _Task, turns_left: int, tries: int, finish: Callable[[str], None]) -> None:
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

    def _finish(self, q: _Queue, task: _Task, inst: _Instance, started: float, result: str) -> None:
        self.billed_s += self.now - started
        self._release(inst)
        self._done(q)
        job = task.job
        if job.ended is not None or result == "skip":
            return
        if result == ErrorCode.AGENT_QUOTA:
            if task.retry < len(POLICY.retry_backoff_seconds):
                self.backoffs += 1
                retry = _Task(job, task.kind, task.retry + 1)
                self._enqueue(retry, delay=POLICY.retry_backoff_seconds[task.retry])
            else:
                self._end(job, ErrorCode.AGENT_QUOTA)
            return
        self._next(job, task.kind, result)

    def _next(self, job: _Job, kind: str, result: str) -> None:
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
                self._enqueue(_Task(job, "integrate"))
        elif kind in ("integrate", "fix"):
            self._enqueue(_Task(job, "validate"))
        elif kind == "validate" and result == "ok":
            self._enqueue(_Task(job, "package"))
        elif kind == "validate" and job.fix_round < POLICY.max_fix_rounds:
            job.fix_round += 1
            self._enqueue(_Task(job, "fix"))
        elif kind == "validate":
            self._end(job, ErrorCode.BUILD_FAILED)
        elif kind == "package":
            self._end(job, "completed")

    def _next_page(self, job: _Job) -> None:
        job.next_page += 1
        self._enqueue(_Task(job, "page"))


# -- results ------------------------------------------------------------------------------------------------
def _pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile; NaN when there is nothing to rank."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def simulate(p: Params) -> Result:
    """Runs the model once; the same Params (seed included) always give the same Result."""
    sim = _Sim(p)
    sim.run()
    lo, hi = sim._window
    seconds = hi - lo
    submitted = [j for j in sim.jobs if lo <= j.submitted < hi]
    # Waiting only: submit -> first model request, less what the same path takes on an idle warm system.
    unloaded = p.orchestrate_s + 2 * p.task_overhead_s + p.scaffold_s + p.agent_startup_s
    delays = [max(0.0, j.first_request - j.submitted - unloaded) for j in submitted if j.first_request]
    walls = [j.ended - j.submitted for j in submitted if j.outcome == "completed" and j.ended]
    failed: dict[str, int] = {}
    for j in submitted:
        if j.outcome not in ("", "completed"):
            failed[j.outcome] = failed.get(j.outcome, 0) + 1
    completed = sum(1 for j in sim.jobs if j.outcome == "completed" and j.ended and lo <= j.ended < hi)
    completed_all = max(1, sum(1 for j in sim.jobs if j.outcome == "completed"))
    run_rate = p.vcpu * CLOUD_RUN_VCPU_SECOND + p.memory_gib * CLOUD_RUN_GIB_SECOND
    cost_run = sim.billed_s * run_rate + sim.requests * CLOUD_RUN_PER_MILLION_REQUESTS / 1e6
    cost_gemini = (
        sim.tokens_in * GEMINI_INPUT_PER_MILLION + sim.tokens_out * GEMINI_OUTPUT_PER_MILLION
    ) / 1e6
    return Result(
        params=p,
        submitted_per_hour=sim.submitted / seconds * 3600,
        accepted_per_hour=len(submitted) / seconds * 3600,
        completed_per_hour=completed / seconds * 3600,
        failed=failed,
        quota_rejections=sim.quota_rejections,
        delay_p50_s=_pct(delays, 50),
        delay_p95_s=_pct(delays, 95),
        delay_p99_s=_pct(delays, 99),
        wall_p50_s=_pct(walls, 50),
        wall_p95_s=_pct(walls, 95),
        pressure={
            "instances": sim._busy_area / (p.max_instances * seconds),
            "gemini_rpm": sim.tried_requests / (seconds / 60) / p.gemini_rpm,
            "gemini_tpm": sim.tried_tokens / (seconds / 60) / p.gemini_tpm,
            "queue_dispatch": max(q.blocked_area for q in sim._queues.values()) / seconds,
            "db_pooler": sim.peak_instances * p.db_connections_per_instance / p.pooler_clients,
        },
        gemini_429=sim.gemini_429,
        backoffs=sim.backoffs,
        run_429=sim.run_429,
        cost_cloud_run=cost_run / completed_all,
        cost_gemini=cost_gemini / completed_all,
        job_instance_s=sim.billed_s / completed_all,
    )


def ceilings(r: Result) -> dict[str, float]:
    """Jobs per hour each limit allows at this run's per-job usage (instance-seconds, requests, tokens)."""
    p = r.params
    per_job = r.cost_gemini / (
        (
            p.input_tokens_per_turn * GEMINI_INPUT_PER_MILLION
            + p.output_tokens_per_turn * GEMINI_OUTPUT_PER_MILLION
        )
        / 1e6
    )  # model requests per completed job
    return {
        "instances": p.max_instances * 3600 / r.job_instance_s,
        "gemini_rpm": p.gemini_rpm * 60 / per_job,
        "gemini_tpm": p.gemini_tpm * 60 / (per_job * p.input_tokens_per_turn),
    }


# -- output -------------------------------------------------------------------------------------------------
HEADER = (
    f"{'load':>6} {'max inst':>8} {'offered/h':>9} {'accepted/h':>10} {'done/h':>7} {'sustains/h':>10} "
    f"{'delay p50/p95/p99 s':>20} {'wall p50/p95 s':>15} {'saturates first':>16} {'429 gem/run':>11} "
    f"{'$/job run+gemini':>17}"
)


def row(r: Result, label: str = "") -> str:
    p = r.params
    sustains = min(ceilings(r).values())
    delay = f"{r.delay_p50_s:.0f}/{r.delay_p95_s:.0f}/{r.delay_p99_s:.0f}"
    wall = f"{r.wall_p50_s:.0f}/{r.wall_p95_s:.0f}"
    cost = f"{r.cost_cloud_run:.3f}+{r.cost_gemini:.2f}"
    return (
        f"{label:>6} {p.max_instances:>8} {p.offered_per_hour:>9.1f} {r.accepted_per_hour:>10.1f} "
        f"{r.completed_per_hour:>7.1f} {sustains:>10.0f} {delay:>20} {wall:>15} {r.bottleneck:>16} "
        f"{r.gemini_429:>5}/{r.run_429:<5} {cost:>17}"
    )


# The README's scaling table: today's load times 10, 100, 1000, each with the knobs the model says it
# needs (found by running this: the previous scale's settings saturate at the next one). Gemini tiers:
# Tier 2 and 3 per the rate-limits page (2025); beyond, a quota increase or Vertex AI provisioned
# throughput, modelled as a bigger per-minute limit.
SCALES: tuple[tuple[int, str, dict[str, float]], ...] = (
    (1, "defaults: 20 instances, Gemini Tier 1", {}),
    (10, "Gemini Tier 2 (1,000 RPM, 5M TPM)", {"gemini_rpm": 1_000, "gemini_tpm": 5_000_000}),
    (
        100,
        "200 instances, Gemini 10k RPM / 50M TPM (quota increase), pooler 1,000",
        {"max_instances": 200, "gemini_rpm": 10_000, "gemini_tpm": 50_000_000, "pooler_clients": 1_000},
    ),
    (
        1000,
        "2,000 instances, Gemini 100k RPM / 500M TPM, queues 2,000 concurrent, pooler 10,000",
        {
            "max_instances": 2_000,
            "gemini_rpm": 100_000,
            "gemini_tpm": 500_000_000,
            "queue_max_concurrent": 2_000,
            "pooler_clients": 10_000,
        },
    ),
)


def scale_runs(base: Params) -> list[tuple[int, str, Result]]:
    runs = []
    for factor, knobs, settings in SCALES:
        p = replace(base, users=base.users * factor, hours=min(base.hours, 1.5), **settings)  # type: ignore[arg-type]
        runs.append((factor, knobs, simulate(p)))
    return runs


def plot(base: Params, path: Path) -> None:
    """Throughput and p95 delay against offered load, for a few max-instances values."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = [
        ("5 instances, Gemini Tier 1", {"max_instances": 5}),
        ("10 instances, Gemini Tier 1", {"max_instances": 10}),
        ("20 instances, Gemini Tier 1", {"max_instances": 20}),
        ("20 instances, Gemini Tier 2", {"max_instances": 20, "gemini_rpm": 1_000, "gemini_tpm": 5_000_000}),
        ("40 instances, Gemini Tier 2", {"max_instances": 40, "gemini_rpm": 1_000, "gemini_tpm": 5_000_000}),
    ]
    loads = [10, 25, 50, 75, 100, 150, 200, 300]  # offered jobs per hour
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 8), sharex=True)
    for label, settings in lines:
        results = []
        for load in loads:
            users = max(base.users, math.ceil(load * 24 / base.jobs_per_user_day))
            p = replace(base, users=users, jobs_per_user_day=load * 24 / users, hours=2.0, **settings)  # type: ignore[arg-type]
            results.append(simulate(p))
        top.plot(loads, [r.completed_per_hour for r in results], marker="o", label=label)
        bottom.plot(loads, [r.delay_p95_s / 60 for r in results], marker="o", label=label)
    top.plot(loads, loads, color="grey", linestyle=":", label="offered")
    top.set_ylabel("completed jobs / hour")
    top.set_title(f"appgen capacity model ({base.pages}-page jobs, {base.page_turns} turns per page agent)")
    top.legend(fontsize=8)
    bottom.set_ylabel("p95 wait, submit -> first agent (min)")
    bottom.set_xlabel("offered jobs / hour")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    defaults = Params()
    parser.add_argument("--users", type=int, default=defaults.users)
    parser.add_argument("--jobs-per-user-day", type=float, default=defaults.jobs_per_user_day)
    parser.add_argument("--max-instances", type=int, nargs="+", default=[defaults.max_instances])
    parser.add_argument("--pages", type=int, default=defaults.pages)
    parser.add_argument("--page-turns", type=int, default=defaults.page_turns)
    parser.add_argument("--turn-latency", type=float, default=defaults.turn_latency_s, help="seconds")
    parser.add_argument("--tokens-per-turn", type=int, default=defaults.input_tokens_per_turn, help="input")
    parser.add_argument("--gemini-rpm", type=int, default=defaults.gemini_rpm)
    parser.add_argument("--gemini-tpm", type=int, default=defaults.gemini_tpm)
    parser.add_argument("--queue-concurrency", type=int, default=defaults.queue_max_concurrent)
    parser.add_argument(
        "--queues-fit-instances", action="store_true", help="worker queues sum to max instances"
    )
    parser.add_argument("--max-running-jobs", type=int, default=0, help="global cap in start_job (proposed)")
    parser.add_argument("--fix-probability", type=float, default=defaults.fix_probability)
    parser.add_argument("--cold-start", type=float, default=defaults.cold_start_s, help="seconds")
    parser.add_argument("--hours", type=float, default=defaults.hours)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--scales", action="store_true", help="today's load x10, x100, x1000 with their knobs"
    )
    parser.add_argument("--plot", type=Path, help="write a PNG of throughput and p95 delay vs offered load")
    args = parser.parse_args(argv)
    base = replace(
        defaults,
        users=args.users,
        jobs_per_user_day=args.jobs_per_user_day,
        pages=args.pages,
        page_turns=args.page_turns,
        turn_latency_s=args.turn_latency,
        input_tokens_per_turn=args.tokens_per_turn,
        gemini_rpm=args.gemini_rpm,
        gemini_tpm=args.gemini_tpm,
        queue_max_concurrent=args.queue_concurrency,
        queues_fit_instances=args.queues_fit_instances,
        max_running_jobs=args.max_running_jobs,
        fix_probability=args.fix_probability,
        cold_start_s=args.cold_start,
        hours=args.hours,
        seed=args.seed,
    )
    print(
        f"prices: Cloud Run {base.vcpu} vCPU / {base.memory_gib} GiB request-based, gemini-2.5-pro; list prices of {PRICES_DATE}"
    )
    print(HEADER)
    if args.scales:
        for factor, knobs, r in scale_runs(base):
            print(row(r, f"{factor}x"), f"  {knobs}")
    else:
        for instances in args.max_instances:
            print(row(simulate(replace(base, max_instances=instances))))
    if args.plot:
        plot(base, args.plot)
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
