"""The Supabase side (with `--supabase-ref`), through the Supabase CLI: link this checkout to the project,
push `supabase/migrations`, and create the private `generated-apps` bucket declared in
`supabase/config.toml`. The CLI reads `SUPABASE_ACCESS_TOKEN` and `SUPABASE_DB_PASSWORD` from the
environment; neither ever appears in a command."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appgen.deploy.resources import Resource, Scope
from appgen.deploy.runner import Command, Runner

SUPABASE = "supabase"


@dataclass(frozen=True)
class SupabaseLink(Resource):
    ref: str
    lane = "supabase"

    @property
    def label(self) -> str:
        return f"supabase link {self.ref}"

    def describe(self, scope: Scope, run: Runner) -> Any:
        linked = run.cwd / "supabase" / ".temp" / "project-ref"  # where `supabase link` records it
        return self.ref if linked.is_file() and linked.read_text().strip() == self.ref else None

    def create(self, scope: Scope) -> list[Command]:
        return [(SUPABASE, "link", f"--project-ref={self.ref}")]


@dataclass(frozen=True)
class SupabaseMigrations(Resource):
    ref: str
    lane = "supabase"

    @property
    def label(self) -> str:
        return "supabase migrations"

    @property
    def depends_on(self) -> tuple[str, ...]:
        return (f"supabase link {self.ref}",)

    def describe(self, scope: Scope, run: Runner) -> Any:
        pending = run.read_text((SUPABASE, "db", "push", "--dry-run", "--linked"))
        return "up to date" if pending is not None and "up to date" in pending else None

    def create(self, scope: Scope) -> list[Command]:
        return [(SUPABASE, "db", "push", "--linked")]


@dataclass(frozen=True)
class SupabaseBucket(Resource):
    ref: str
    name: str
    lane = "supabase"

    @property
    def label(self) -> str:
        return f"supabase bucket {self.name}"

    @property
    def depends_on(self) -> tuple[str, ...]:
        return (f"supabase link {self.ref}",)

    def describe(self, scope: Scope, run: Runner) -> Any:
        listing = run.read_text((SUPABASE, "storage", "ls", "ss:///", "--experimental", "--linked")) or ""
        return self.name if f"{self.name}/" in listing.split() else None

    def create(self, scope: Scope) -> list[Command]:
        return [(SUPABASE, "seed", "buckets", "--linked")]
