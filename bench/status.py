"""The status path under load: `GET /api/agentic/jobs/{id}` on the deployable `api` target against a bare
Functions Framework handler that returns a fixed JSON, both served the way Cloud Run serves them
(`functions-framework`, gunicorn, the same THREADS), loaded by the same `wrk` with 32 connections.

The `api` request does everything a real one does: the client-address limiter, the token's signature and
claims (remembered after the first request, as for any client polling with one token), the job as the
`get_job` RPC answers it on a real PostgreSQL, the ETag; the 304 run sends `If-None-Match` with the job's
ETag. The job does not change during the run, so once the process's change feed vouches for it, its
answer is kept (appgen/gateway/answers.py) and the polls cost no database read: what a client polling a
job between two of its changes gets. `uncached` measures the same 200 requests with the feed away (its
LISTEN URL points nowhere), so every request reads the database: one simple query (role, claims and the
RPC) on a pooled connection. The per-user limiter is off (`APPGEN_RATE_LIMIT_PER_MINUTE=0`): one user at
thousands of requests per second would be answered 429 by design, which measures nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from appgen.auth import mint_user_token
from appgen.gateway import Caller, ControlPlane, PostgresTransport
from tests.fixtures.specs import small_spec

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORK = ROOT / ".venv" / "bin" / "functions-framework"
JWT_SECRET = "bench-jwt-secret-0123456789-abcdefghijkl"
CONNECTIONS = 32


@dataclass(frozen=True)
class Load:
    rps: float
    p99_ms: float
    non_2xx: int


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def measure(dsn: str, root: Path, seconds: float = 10.0, threads: int | None = None) -> dict[str, Load]:
    """rps and p99 of the bare handler, the status route (200), its 304, and the 200 without kept
    answers (`uncached`), run back to back."""
    user = str(uuid.uuid4())
    transport = PostgresTransport(dsn)
    try:
        plane = ControlPlane(transport)
        job_id, _ = plane.submit_job(Caller.user({"sub": user, "role": "authenticated"}), small_spec(4), None)
    finally:
        transport.close()
    token = mint_user_token(user, JWT_SECRET, 3600)
    env = {
        "APPGEN_DATABASE_URL": dsn,
        "APPGEN_INTERNAL_SECRET": "bench-internal-secret-0123456789",
        "SUPABASE_JWT_SECRET": JWT_SECRET,
        "APPGEN_DATA_DIR": str(root / "status-data"),
        "APPGEN_RATE_LIMIT_PER_MINUTE": "0",
        "THREADS": str(threads or (os.cpu_count() or 1) * 4),
    }
    path = f"/api/agentic/jobs/{job_id}"
    results: dict[str, Load] = {}
    with _serve(ROOT / "bench" / "bare_handler.py", "bare", env, root) as url:
        results["bare"] = _wrk(url + "/", {}, seconds)
    with _serve(ROOT / "functions" / "main.py", "api", env, root) as url:
        auth = {"Authorization": f"Bearer {token}"}
        first = httpx.get(url + path, headers=auth, timeout=10)
        if first.status_code != 200 or "ETag" not in first.headers:
            raise RuntimeError(f"status answered {first.status_code}: {first.text[:300]}")
        results["status"] = _wrk(url + path, auth, seconds)
        results["304"] = _wrk(url + path, {**auth, "If-None-Match": first.headers["ETag"]}, seconds)
    with socket.socket() as sock:  # a port nothing listens on: the change feed never connects
        sock.bind(("127.0.0.1", 0))
        nowhere = f"postgresql://nobody@127.0.0.1:{sock.getsockname()[1]}/appgen"
    with _serve(
        ROOT / "functions" / "main.py", "api", {**env, "APPGEN_DATABASE_LISTEN_URL": nowhere}, root
    ) as url:
        results["uncached"] = _wrk(url + path, {"Authorization": f"Bearer {token}"}, seconds)
    return results


@contextmanager
def _serve(source: Path, target: str, env: dict[str, str], root: Path) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = root / f"{target}.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [str(FRAMEWORK), "--source", str(source), "--target", target, "--port", str(port)],
            env={"PATH": os.environ["PATH"], "HOME": str(root), "HOST": "127.0.0.1", **env},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{target} exited:\n{log.read_text()[-3000:]}")
            try:
                httpx.get(url + "/healthz", timeout=5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{target} did not serve:\n{log.read_text()[-3000:]}") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def _wrk(url: str, headers: dict[str, str], seconds: float) -> Load:
    """One measurement after a warm-up of the same requests (imports, connections, the pool grown)."""
    _run_wrk(url, headers, 2.0)
    return _run_wrk(url, headers, seconds)


def _run_wrk(url: str, headers: dict[str, str], seconds: float) -> Load:
    argv = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--latency"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    out = subprocess.run([*argv, url], check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", out)
    assert p99 is not None, out
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return Load(rps, float(p99.group(1)) * scale, int(non_2xx.group(1)) if non_2xx else 0)
