"""Applies `supabase/migrations/*.sql` in order, recording each in the Supabase CLI's history table so
that `supabase db push` and `appgen migrate` agree about what is applied.

Migrations are forward-only. Like `supabase db push`, this refuses, before applying anything, a database
whose history holds a version that is not in the directory (it was migrated by another checkout), and a
pending migration older than the newest applied one (it would run after changes it predates).

On a plain PostgreSQL (the local stack, the tests) the Supabase compatibility script runs first; on a real
Supabase database it never does, because the `auth` schema already exists there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg

from appgen.errors import MigrationError

COMPAT_SCRIPT = Path(__file__).parent / "localstack" / "supabase_compat.sql"


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path

    @classmethod
    def from_path(cls, path: Path) -> Migration:
        version, _, name = path.stem.partition("_")
        return cls(version=version, name=name, path=path)

    @property
    def filename(self) -> str:
        return f"{self.version}_{self.name}.sql"


def list_migrations(migrations_dir: Path) -> list[Migration]:
    return [Migration.from_path(p) for p in sorted(migrations_dir.glob("*.sql"))]


def pending_migrations(local: list[Migration], applied: dict[str, str]) -> list[Migration]:
    """The local migrations not yet applied (`applied`: version -> name from the history table), after
    checking that applying them keeps the history forward-only."""
    known = {m.version for m in local}
    unknown = sorted(v for v in applied if v not in known)
    if unknown:
        names = ", ".join(f"{v}_{applied[v]}.sql" for v in unknown)
        raise MigrationError(
            f"the database has applied migrations that are not in supabase/migrations: {names}. "
            "It was migrated by another version of appgen; migrate it with that version, or start from "
            "an empty database (for the local stack: remove its data directory)."
        )
    pending = [m for m in local if m.version not in applied]
    if pending and applied:
        newest = max(applied)
        older = [m for m in pending if m.version < newest]
        if older:
            raise MigrationError(
                f"supabase/migrations/{older[0].filename} is pending but older than "
                f"{newest}_{applied[newest]}.sql, which is already applied: migrations are forward-only, "
                f"so give it a timestamp after {newest} (rename the file) and apply again."
            )
    return pending


def migrate(dsn: str, migrations_dir: Path) -> list[str]:
    """Bring the database up to date; returns the versions applied now (empty when already current)."""
    applied_now: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        has_auth = conn.execute("select 1 from pg_namespace where nspname = 'auth'").fetchone()
        if not has_auth:
            conn.execute(COMPAT_SCRIPT.read_text())
        conn.execute(
            "create schema if not exists supabase_migrations;"
            "create table if not exists supabase_migrations.schema_migrations"
            " (version text primary key, statements text[], name text)"
        )
        applied = {
            version: name or ""
            for version, name in conn.execute(
                "select version, name from supabase_migrations.schema_migrations"
            )
        }
        for migration in pending_migrations(list_migrations(migrations_dir), applied):
            sql = migration.path.read_text()
            with conn.transaction():
                conn.execute(sql)
                conn.execute(
                    "insert into supabase_migrations.schema_migrations (version, statements, name)"
                    " values (%s, %s, %s)",
                    (migration.version, [sql], migration.name),
                )
            applied_now.append(migration.version)
    return applied_now
