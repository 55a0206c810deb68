"""What changed in a workspace, and the context a fixer agent gets: files named in a failure's output and
a compact summary of the previous round's diff."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from appgen.pipeline.snapshots import workspace_files

MAX_FILE_CHARS = 20_000
MAX_NAMED_FILES = 8
MAX_SUMMARY_CHARS = 6_000
# Source paths as compilers and linters print them: ./app/page.tsx:12:5, app/api/x/route.ts(3,1), …
_PATH_IN_OUTPUT = re.compile(
    r"(?:\./)?((?:app|components|lib|src|public)/[\w./\[\]()@-]+\.(?:tsx?|jsx?|css|mjs|json))"
)
_TEXT_SUFFIXES = {
    ".ts",
    ".tsx",
    ".js",
    ".jsx",
    ".mjs",
    ".cjs",
    ".css",
    ".json",
    ".md",
    ".html",
    ".txt",
    ".sh",
    ".bat",
    ".example",
    ".yml",
    ".yaml",
    ".toml",
}


def changed_files(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Paths added, modified or removed between two fingerprints, sorted."""
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


def read_texts(root: Path) -> dict[str, str]:
    texts: dict[str, str] = {}
    for rel in workspace_files(root):
        path = root / rel
        if path.suffix in _TEXT_SUFFIXES or path.name in {"Dockerfile", ".gitignore"}:
            texts[rel] = path.read_text(errors="replace")
    return texts


def files_named_in(output: str, root: Path) -> dict[str, str]:
    """The workspace files a failure's output names (first mentions first), with their contents."""
    files: dict[str, str] = {}
    for match in _PATH_IN_OUTPUT.finditer(output):
        rel = match.group(1).rstrip(".")
        path = root / rel
        if rel in files or not path.is_file() or not path.resolve().is_relative_to(root.resolve()):
            continue
        files[rel] = path.read_text(errors="replace")[:MAX_FILE_CHARS]
        if len(files) >= MAX_NAMED_FILES:
            break
    return files


def summarize(before: dict[str, str], after: dict[str, str]) -> str:
    """A unified diff of what changed, trimmed: the next fix round sees what the last one tried."""
    parts: list[str] = []
    for rel in changed_files(before, after):
        diff = difflib.unified_diff(
            before.get(rel, "").splitlines(),
            after.get(rel, "").splitlines(),
            fromfile=f"a/{rel}" if rel in before else "/dev/null",
            tofile=f"b/{rel}" if rel in after else "/dev/null",
            lineterm="",
            n=1,
        )
        parts.append("\n".join(diff))
    text = "\n".join(parts)
    if len(text) > MAX_SUMMARY_CHARS:
        text = text[:MAX_SUMMARY_CHARS] + f"\n… [{len(text) - MAX_SUMMARY_CHARS} more characters of diff]"
    return text
