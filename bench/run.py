"""Benchmarks, reported as ratios against a baseline measured in the same run (never absolute timings,
which depend on the machine).

- control plane: one `get_job` RPC call (role switch + claims + RLS view) against a bare `select 1`
  round trip through the same pooled transport. Target: at most 6x.
- snapshots: packing a scaffold-sized workspace against copying the same files. Target: at most 3x.
- sandbox: `node -e 0` in a box (namespaces, binds, the workspace handed to the box's user) against the
  same command run plainly. Target: at most 2x. The installed node_modules is bound read-only, never
  copied, so this per-command cost is all the sandbox adds to a build (about 20 ms on `next build`'s
  10-20 s).
- capacity model (`bench/capacity.py`, a simulation, not a measurement): a short run at today's assumed
  load with the default deployment, printed as the README's Scaling table row; it misses when the model
  says the defaults no longer serve today's load (fewer than 95 % of accepted jobs completed).

Exit status 1 when a ratio misses its target.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appgen.gateway import Caller, ControlPlane, PostgresTransport  # noqa: E402
from appgen.localstack.postgres import LocalPostgres  # noqa: E402
from appgen.migrate import migrate  # noqa: E402
from appgen.pipeline import snapshots  # noqa: E402
from appgen.sandbox import Bind, Box  # noqa: E402
from bench import capacity  # noqa: E402
from tests.fixtures.specs import small_spec  # noqa: E402


def _median_seconds(fn: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def bench_control_plane(root: Path) -> tuple[str, float, float]:
    cluster = LocalPostgres(root / "pg")
    dsn = cluster.start()
    try:
        migrate(dsn, ROOT / "supabase" / "migrations")
        transport = PostgresTransport(dsn)
        plane = ControlPlane(transport)
        user = Caller.user({"sub": "00000000-0000-4000-8000-000000000001", "role": "authenticated"})
        job_id, _ = plane.submit_job(user, small_spec(3), None)

        def baseline() -> object:
            with transport._pool.connection() as conn:
                return conn.execute("select 1").fetchone()

        for _ in range(50):
            baseline(), plane.get_job(user, job_id)
        base = _median_seconds(baseline, 300)
        measured = _median_seconds(lambda: plane.get_job(user, job_id), 300)
        transport.close()
    finally:
        cluster.stop()
    return "control plane get_job / select 1", measured / base, 6.0


def _workspace(root: Path) -> Path:
    """A scaffold-sized workspace: 120 generated files in 12 folders."""
    workspace = root / "ws"
    for i in range(120):
        path = workspace / "components" / f"c{i % 12}" / f"File{i}.tsx"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(("export const x = 'line of generated code';\n" * 80) + str(i))
    return workspace


def bench_snapshots(root: Path) -> tuple[str, float, float]:
    workspace = _workspace(root)

    def baseline() -> object:
        target = root / "copy"
        shutil.rmtree(target, ignore_errors=True)
        return shutil.copytree(workspace, target)

    base = _median_seconds(baseline, 15)
    measured = _median_seconds(lambda: snapshots.pack(workspace, root / "snap.tar.gz"), 15)
    return "snapshot pack / plain copy", measured / base, 3.0


def bench_sandbox(root: Path) -> tuple[str, float, float]:
    workspace = _workspace(root / "sandbox")
    box = Box((Bind(workspace, "/app", writable=True),), cwd="/app")

    def baseline() -> object:
        return subprocess.run(["node", "-e", "0"], cwd=workspace, check=True)

    for _ in range(3):
        baseline(), box.run(["node", "-e", "0"], timeout_s=60)
    base = _median_seconds(baseline, 15)
    measured = _median_seconds(lambda: box.run(["node", "-e", "0"], timeout_s=60), 15)
    return "sandboxed command / plain command", measured / base, 2.0


def bench_capacity() -> bool:
    """A short simulated hour at today's load; True when the default deployment serves it."""
    result = capacity.simulate(capacity.Params(hours=1.0))
    print(capacity.HEADER)
    print(capacity.row(result, "1x"))
    served = result.completed_per_hour / result.accepted_per_hour
    ok = served >= 0.95
    print(
        f"{'capacity model: completed / accepted':<40} {served:6.2f}   (target >= 0.95)  {'ok' if ok else 'MISSED'}"
    )
    return ok


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="appgen-bench-"))
    root.chmod(0o755)
    failed = False
    try:
        for name, ratio, target in (bench_control_plane(root), bench_snapshots(root), bench_sandbox(root)):
            ok = ratio <= target
            failed |= not ok
            print(f"{name:<40} {ratio:6.2f}x  (target <= {target:.0f}x)  {'ok' if ok else 'MISSED'}")
        failed |= not bench_capacity()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
