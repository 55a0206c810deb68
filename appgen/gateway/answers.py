"""This process's answers of `get_job`, kept per (user, job) while the job-change feed vouches for them, so
that a client polling its job's status is answered without a database round trip while the job does not
change.

Every rule stays in SQL: an answer is exactly what the RLS-checked RPC returned to that user, and it is
handed back only to the same user (every read policy compares `auth.uid()`, the token's `sub`, with the
row's owner and nothing else: 00_schema.sql asserts it), after their token and rate limit were checked
as for any request. A user who may not see a job gets its 404 from the database each time (refusals are
never kept).

An answer is dropped when:
- the job's id arrives on the feed: Postgres notifies it for every update of the job row (which raises
  its version: each step, page, warning, error, cancel), every change of its artifact (recorded, marked
  for deletion by retention) and every log line (`20261202010100_jobs.sql`, `20261202010400_logs.sql`);
- the feed says changes may have gone unheard (it connected, was lost, or its probe came back late),
  which drops every answer;
- this process changed the job itself (`forget`, after a cancel), before the notification is back;
- it is `max_age_s` old, whatever the feed says;
- it is the least recently used beyond `max_entries`.
Nothing is kept or served while the feed does not vouch (not yet listening, lost, silent, or a feed that
only polls: Supabase's REST API), and an answer read while a drop happened is not kept (each read holds a
lease on its key, which any drop takes away). What the cache cannot know: a change committed in the
last moment before its notification arrives (milliseconds) is seen a moment late, as by a client that
polled a moment earlier; if the listening connection stalls without breaking, answers are served until
the vouching lapses, at most `2.5 * probe_s` (5 s) after the last probe heard; a job row deleted by hand
(no code path deletes one, and deletes notify nothing) is still answered to its owner until `max_age_s`.
Download links are never cached: each is signed by its own request.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from appgen.gateway.base import Caller, Row
from appgen.gateway.changes import JobChanges
from appgen.gateway.control_plane import ControlPlane
from appgen.ids import parse_uuid

Key = tuple[UUID, UUID]  # (user, job)


@dataclass(frozen=True)
class _Answer:
    row: Row
    read_at: float


class _Lease:
    """A read in flight: its answer is kept only if the lease is still in place when it returns."""


class JobAnswers:
    def __init__(
        self,
        control_plane: ControlPlane,
        changes: JobChanges,
        *,
        max_entries: int = 10_000,
        max_age_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._plane = control_plane
        self._changes = changes
        self._max_entries = max_entries
        self._max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[Key, _Answer | _Lease] = OrderedDict()
        self._keys_of_job: dict[UUID, set[Key]] = {}
        changes.watch(self._heard)

    def get_job(self, caller: Caller, job_id: UUID) -> Row:
        """What `get_job` answers the caller for the job (NotFound for unknown and foreign jobs)."""
        user = _user(caller)
        if user is None or not self._changes.vouches():
            return self._plane.get_job(caller, job_id)
        key = (user, job_id)
        with self._lock:
            kept = self._kept(key)
            if kept is not None:
                return dict(kept)
            lease = _Lease()
            self._put(key, lease)
        read_at = self._clock()
        try:
            row = self._plane.get_job(caller, job_id)
        except BaseException:
            with self._lock:
                if self._entries.get(key) is lease:
                    self._drop(key)
            raise
        with self._lock:
            if self._entries.get(key) is lease:  # no drop took it away while the read was in flight
                if self._changes.vouches():
                    self._put(key, _Answer(dict(row), read_at))
                else:
                    self._drop(key)
        return row

    def version(self, caller: Caller, job_id: UUID) -> int:
        """The job's version: from its answer when the feed vouches (read and kept on a miss, as the
        next request will want the job), else alone from the database (`get_job_version`)."""
        user = _user(caller)
        if user is None or not self._changes.vouches():
            return self._plane.get_job_version(caller, job_id)
        with self._lock:
            kept = self._kept((user, job_id))
            if kept is not None:
                return int(kept["version"])
        return int(self.get_job(caller, job_id)["version"])

    def forget(self, job_id: UUID) -> None:
        """This process changed the job: drop its answers now, not when the notification is back."""
        self._heard(job_id)

    def held(self) -> int:
        """How many answers are kept (leases of reads in flight not counted)."""
        with self._lock:
            return sum(isinstance(entry, _Answer) for entry in self._entries.values())

    def _kept(self, key: Key) -> Row | None:
        """The answer kept for the key if it is young enough (under the lock; not a copy)."""
        entry = self._entries.get(key)
        if isinstance(entry, _Answer) and self._clock() - entry.read_at < self._max_age_s:
            self._entries.move_to_end(key)
            return entry.row
        return None

    def _heard(self, job_id: UUID | None) -> None:
        with self._lock:
            if job_id is None:
                self._entries.clear()  # the leases of reads in flight too
                self._keys_of_job.clear()
                return
            for key in self._keys_of_job.pop(job_id, set()):
                self._entries.pop(key, None)

    def _put(self, key: Key, entry: _Answer | _Lease) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        self._keys_of_job.setdefault(key[1], set()).add(key)
        while len(self._entries) > self._max_entries:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: Key) -> None:
        self._entries.pop(key, None)
        keys = self._keys_of_job.get(key[1])
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._keys_of_job[key[1]]


def _user(caller: Caller) -> UUID | None:
    """The signed-in user an answer belongs to (their token's `sub`); None for the service role."""
    if caller.claims is None or caller.role != "authenticated":
        return None
    return parse_uuid(str(caller.claims.get("sub")))
