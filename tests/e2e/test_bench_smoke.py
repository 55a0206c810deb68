"""`make bench` still runs: every part of bench/run.py once, briefly (`--smoke`). It proves the benchmark
works, never how fast anything is: timings on a shared machine are noise, so no number is asserted."""

from __future__ import annotations

import subprocess
import sys

import pytest

from appgen.settings import REPO_ROOT

pytestmark = pytest.mark.e2e


def test_the_benchmark_runs_every_part_and_prints_one_table() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "run.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert table[0] == "| measure | ratio | goal | verdict |"
    names = [line.split(" | ")[0].removeprefix("| ") for line in table[1:]]
    assert names == [
        "job wall / bare install + build",
        "submit -> first model request",
        "peak RSS (4 agents + build) / 8 GiB",
        "control plane: get_job / select 1",
        "status: rps / bare FF handler",
        "status: p99 / bare FF handler",
        "status: 304 rps / 200 rps",
        "snapshot pack / plain copy",
        "sandboxed command / plain command",
        "capacity model: completed / accepted",
        "corpus fidelity: worst visual",
        "corpus fidelity: worst text",
    ]
    assert "job completed" in done.stdout or "job completed_with_warnings" in done.stdout
