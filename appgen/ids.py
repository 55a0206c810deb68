"""Ids as appgen accepts them from outside: the canonical UUID text `8-4-4-4-12` of ASCII hex digits.

`uuid.UUID()` alone is too lenient for input: it also takes braces, `urn:uuid:`, no hyphens, underscores
between digits and any Unicode digit (`int(…, 16)` reads ARABIC-INDIC DIGIT ONE as 1), so one id would
have many spellings and a string in another script could name an existing job.
"""

from __future__ import annotations

import re
from uuid import UUID

_HEX = "[0-9a-fA-F]"  # spelled out: IGNORECASE would also let in non-ASCII letters that fold to ASCII
_CANONICAL = re.compile(rf"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}")


def parse_uuid(text: object) -> UUID | None:
    """The UUID `text` spells canonically (either case), or None for anything else."""
    if isinstance(text, str) and _CANONICAL.fullmatch(text):
        return UUID(text)
    return None
