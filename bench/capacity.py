"""The capacity model (`capacity_model.py`) from the command line: one row per max-instances, the
README's scaling table, or a plot of throughput and waiting against offered load.

    python bench/capacity.py --users 2000 --max-instances 20
    python bench/capacity.py --scales            # the README's 10x / 100x / 1000x table
    python bench/capacity.py --plot docs/capacity.png

matplotlib is needed only for `--plot` (the `bench` extra).
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import capacity_model  # noqa: E402
from bench.capacity_model import PRICES_DATE, Params, Result, ceilings, simulate  # noqa: E402

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
        description=(capacity_model.__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
