"""Quoting dataset text safely in messages: short, one line, no terminal escape sequences."""

from __future__ import annotations

import re
from collections.abc import Sequence

# Lone surrogates are included: they cannot be written as UTF-8 and would end a report
# with an encoding error.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(char, f"\\u{ord(char):04x}")


def safe(text: str) -> str:
    """Neutralise control characters, ANSI escapes and bidi overrides."""
    return _CONTROL.sub(_escape, text)


def excerpt(text: str, limit: int = 60) -> str:
    """A short, terminal-safe quote of ``text`` (shortened in the middle of long text)."""
    text = safe(text)
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head - 1
    return text[:head] + "…" + (text[-tail:] if tail > 0 else "")


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else (many or word + 's')}"


def first_few(names: Sequence[str], limit: int = 3) -> str:
    """The first ``limit`` names, comma-separated, and "..." when there are more."""
    return ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")
