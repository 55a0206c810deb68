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
plain sight.

The model is in three modules: this one (what goes in: `Params`, with the prices; what comes out:
`Result`, `simulate`, `ceilings`), `capacity_jobs.py` (users under the quotas, and each job's steps) and
`capacity_cloud.py` (the event loop, the Cloud Tasks queues and the worker's Cloud Run instances).
`capacity.py` is the command line: a table, the README's scales, the plot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from appgen.dispatch import QUEUE_OF_KIND
from appgen.policy import POLICY
from bench.capacity_jobs import Simulation

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
    delay_p50_s: float  # submit -> first model request, waiting only (see simulate)
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


def _pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile; NaN when there is nothing to rank."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def simulate(p: Params) -> Result:
    """Runs the model once; the same Params (seed included) always give the same Result."""
    sim = Simulation(p)
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
