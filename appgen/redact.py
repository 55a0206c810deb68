"""Redaction of secrets from any text that leaves a process: logs, error messages, build output.

Two layers: exact values the process knows are secret (registered at start-up from the settings), and
patterns for secrets it cannot know (JWTs, bearer tokens, Google API keys, private keys, DSN passwords).
"""

from __future__ import annotations

import re
import threading

REDACTED = "[REDACTED]"

# (pattern, replacement): the replacement keeps the non-secret prefix a reader needs for context.
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # JSON Web Tokens (three base64url parts, the first an encoded JSON header).
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"), REDACTED),
    # Authorization headers and bearer tokens in any casing.
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1" + REDACTED),
    # Google API keys.
    (re.compile(r"AIza[0-9A-Za-z_-]{35}"), REDACTED),
    # PEM private keys.
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"), REDACTED),
    # Passwords inside connection strings: scheme://user:password@host keeps the user.
    (re.compile(r"(://[^:/@\s]+):[^@\s]+@"), r"\1:" + REDACTED + "@"),
    # key=value / "key": "value" pairs whose key names a secret.
    (
        re.compile(
            r"(?i)((?:api[_-]?key|secret|password|passwd|token|access[_-]?key)[\"']?\s*[:=]\s*[\"']?)"
            r"[^\s\"',;&]{6,}"
        ),
        r"\1" + REDACTED,
    ),
]

_known: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember an exact secret value (at least 6 characters) so that it is redacted wherever it shows up."""
    if value and len(value) >= 6:
        with _lock:
            _known.add(value)


def known_secrets() -> list[str]:
    """The exact secret values registered so far (the package step scans the workspace for them)."""
    with _lock:
        return sorted(_known)


def redact(text: str) -> str:
    if not text:
        return text
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for value in known:
        text = text.replace(value, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
