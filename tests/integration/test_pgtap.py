"""Runs the pgTAP suite (`supabase/tests/database/*.sql`, what `supabase test db` runs) with pg_prove against
a fresh migrated database, so `make test` fails when any pgTAP assertion does."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from psycopg.conninfo import conninfo_to_dict

from appgen.settings import REPO_ROOT

PGTAP_DIR = REPO_ROOT / "supabase" / "tests" / "database"


def _libpq_env(dsn: str) -> dict[str, str]:
    """The DSN as libpq environment variables (keeps the password out of argv and the failure output)."""
    parts = conninfo_to_dict(dsn)
    names = {
        "host": "PGHOST",
        "port": "PGPORT",
        "user": "PGUSER",
        "password": "PGPASSWORD",
        "dbname": "PGDATABASE",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update({names[key]: str(value) for key, value in parts.items() if key in names})
    return env


def test_pgtap_suite_passes(db_dsn: str) -> None:
    pg_prove = shutil.which("pg_prove")
    assert pg_prove, (
        "pg_prove is missing: run scripts/install-system-deps (libtap-parser-sourcehandler-pgtap-perl)"
    )
    files = sorted(PGTAP_DIR.glob("*.sql"))
    assert files, f"no pgTAP tests in {PGTAP_DIR}"

    proc = subprocess.run(
        [pg_prove, "--verbose", *(str(f.relative_to(REPO_ROOT)) for f in files)],
        cwd=REPO_ROOT,
        env=_libpq_env(db_dsn),
        capture_output=True,
        text=True,
        timeout=300,
    )

    output = f"{proc.stdout}\n{proc.stderr}"
    assert proc.returncode == 0, f"pg_prove failed (exit {proc.returncode}):\n{output}"
    assert "Result: PASS" in proc.stdout, output
    summary = re.search(r"Files=(\d+), Tests=(\d+)", proc.stdout)
    assert summary, output
    assert int(summary.group(1)) == len(files), output
    assert int(summary.group(2)) >= 200, f"fewer pgTAP assertions ran than the suite holds:\n{output}"
