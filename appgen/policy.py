"""The plan's numbers and the error codes, mirrored from the policy migration
(`supabase/migrations/*_policy.sql`), where SQL enforces them from. Python uses the mirror where it applies
a number itself (the ZIP size, signed URL lifetimes, leases, page sizes, the spec's limits and patterns)
and types every error code it reports; tests/integration/test_policy_mirror.py fails when the two drift apart.

Whether a failed step is retried is decided by its error code alone (`ErrorCode.transient`): `fail_task`
reads the same flag from the error-code table, and the worker only logs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


@dataclass(frozen=True)
class Policy:
    daily_job_cap: int = 5
    quota_window: timedelta = timedelta(hours=24)
    running_jobs_per_user: int = 2
    max_pages: int = 20
    page_parallelism: int = 4
    page_parallelism_max: int = 6
    max_fix_rounds: int = 4
    repeated_error_limit: int = 3
    job_time_limit: timedelta = timedelta(minutes=45)
    retry_backoff_seconds: tuple[int, ...] = (20, 60, 180)
    task_lease_seconds: int = 120
    max_artifact_bytes: int = 350 * 1024 * 1024
    artifacts_kept_per_project: int = 5
    signed_url_ttl_seconds: int = 15 * 60
    sweep_interval_seconds: int = 60
    sweep_batch: int = 100
    scratch_settle_seconds: int = 60
    jobs_page_max: int = 100
    logs_page_max: int = 500
    # The spec's limits: appgen/spec.py builds its model from these, submit_job checks them in SQL.
    max_preview_html_bytes: int = 300_000
    max_total_preview_html_bytes: int = 2_000_000
    max_actions_per_page: int = 10
    max_palette_entries: int = 24
    max_typography_entries: int = 8
    max_tree_node_bytes: int = 20_000
    max_note_chars: int = 4_000
    max_text_chars: int = 2_000
    max_title_chars: int = 200
    max_name_chars: int = 100
    max_label_chars: int = 40
    max_color_chars: int = 60
    slug_pattern: str = r"^[a-z][a-z0-9-]{0,39}$"
    # Static routes only: "/" or "/segment[/segment…]" of lowercase slugs. Dynamic segments would need data
    # the spec does not carry (generateStaticParams), so they are refused instead of half-supported.
    route_pattern: str = r"^/(?:[a-z0-9][a-z0-9-]{0,39}(?:/[a-z0-9][a-z0-9-]{0,39}){0,4})?$"
    # Route segments Next.js or the generated app reserve for themselves.
    reserved_route_segments: tuple[str, ...] = ("api", "_next", "components", "lib", "public")

    @property
    def job_time_limit_text(self) -> str:
        """The job time limit as messages name it, e.g. `45-minute`."""
        return f"{round(self.job_time_limit.total_seconds() / 60)}-minute"


POLICY = Policy()


class ErrorCode(StrEnum):
    """Why a job or a task failed: the rows of `app_generation_error_codes`."""

    INTERNAL = "internal"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    DEPENDENCY_UNAVAILABLE = "dependency_unavailable"
    STORAGE_FAILED = "storage_failed"
    STORAGE_REFUSED = "storage_refused"
    UNSAFE_ARCHIVE = "unsafe_archive"
    AGENT_AUTH = "agent_auth"
    AGENT_CONFIG = "agent_config"
    AGENT_QUOTA = "agent_quota"
    MODEL_UNAVAILABLE = "model_unavailable"
    MODEL_REJECTED = "model_rejected"
    AGENT_INPUT = "agent_input"
    AGENT_TOOL_ERROR = "agent_tool_error"
    AGENT_UNTRUSTED_FOLDER = "agent_untrusted_folder"
    AGENT_FAILED = "agent_failed"
    COMMAND_TIMEOUT = "command_timeout"
    BUILD_FAILED = "build_failed"
    GUARDRAIL_VIOLATION = "guardrail_violation"
    MISSING_FILES = "missing_files"
    ARTIFACT_TOO_LARGE = "artifact_too_large"
    SPEC_UNREADABLE = "spec_unreadable"

    @property
    def transient(self) -> bool:
        """A step failing with it is retried with the policy's backoff."""
        return self in _TRANSIENT

    @property
    def refunded(self) -> bool:
        """A job failing with it does not count against its owner's daily cap."""
        return self in _REFUNDED


_TRANSIENT = frozenset(
    {
        ErrorCode.DEPENDENCY_UNAVAILABLE,
        ErrorCode.STORAGE_FAILED,
        ErrorCode.AGENT_QUOTA,
        ErrorCode.MODEL_UNAVAILABLE,
    }
)
_REFUNDED = frozenset(
    {
        ErrorCode.INTERNAL,
        ErrorCode.TIMEOUT,
        ErrorCode.CANCELLED,
        ErrorCode.DEPENDENCY_UNAVAILABLE,
        ErrorCode.STORAGE_FAILED,
        ErrorCode.STORAGE_REFUSED,
        ErrorCode.AGENT_AUTH,
        ErrorCode.AGENT_CONFIG,
        ErrorCode.AGENT_QUOTA,
        ErrorCode.MODEL_UNAVAILABLE,
        ErrorCode.SPEC_UNREADABLE,
    }
)
