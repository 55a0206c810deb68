"""Resident memory of a process and everything it started (agents, npm, boxed builds), read from /proc.

The sum of each process's RSS counts pages shared between them (node's own code, the read-only
node_modules mapped by several processes) once per process, so it is an upper bound of what the
machine spends: the right side to err on when comparing against an instance's memory limit. Where /proc
is missing (not Linux) every reading is 0.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType

_PROC = Path("/proc")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def tree_rss_bytes(pid: int | None = None) -> int:
    """RSS of `pid` (this process by default) plus all its descendants, in bytes."""
    root = os.getpid() if pid is None else pid
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    try:
        entries = list(_PROC.iterdir())
    except OSError:
        return 0
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone since the listing, or not ours to read
            continue
        # The command name is in parentheses and may hold spaces: the fields start after the last ')'.
        fields = stat[stat.rfind(")") + 2 :].split()
        pid_, ppid, pages = int(entry.name), int(fields[1]), int(fields[21])
        children.setdefault(ppid, []).append(pid_)
        rss[pid_] = pages * _PAGE
    total, stack = 0, [root]
    while stack:
        current = stack.pop()
        total += rss.get(current, 0)
        stack.extend(children.get(current, ()))
    return total


class PeakRss:
    """Samples `tree_rss_bytes` on a thread while the block runs; `peak_bytes` is the highest reading.

    Sampling every `interval_s` can miss a spike shorter than that; a build's peak lasts seconds."""

    def __init__(self, pid: int | None = None, interval_s: float = 0.5):
        self.pid, self.interval_s = pid, interval_s
        self.peak_bytes = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="peak-rss", daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._done.set()
        self._thread.join(timeout=5)
        self._read()

    @property
    def peak_mib(self) -> int:
        return round(self.peak_bytes / 2**20)

    def _read(self) -> None:
        self.peak_bytes = max(self.peak_bytes, tree_rss_bytes(self.pid))

    def _sample(self) -> None:
        self._read()
        while not self._done.wait(self.interval_s):
            self._read()
