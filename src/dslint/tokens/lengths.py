"""Token counts of plain texts, one process, no pandas (used by a helper process too)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: Texts longer than this are encoded piece by piece (see :func:`_length`).
HUGE_TEXT_CHARS = 1_000_000
#: Texts turned into Python strings at a time: a million replies at once would hold them all
#: as Python objects (several times the file's size, issue 10), for no gain in speed.
BATCH = 20_000


def _length(encode: Callable[[str], list[int]], text: str) -> int:
    """Exact token count of one text; a huge text is encoded in pieces to bound memory.

    tiktoken applies BPE inside each piece of its pre-tokenising regex, never across pieces.
    A single space between two letters is such a boundary for cl100k_base and o200k_base
    ("...abc" | " def..."), so cutting just before it changes no count. A text without such a
    space in a window is encoded whole.
    """
    if len(text) <= HUGE_TEXT_CHARS:
        return len(encode(text))
    total = 0
    start = 0
    while len(text) - start > HUGE_TEXT_CHARS:
        cut = text.find(" ", start + HUGE_TEXT_CHARS)
        while cut != -1 and not (text[cut - 1].isalpha() and text[cut + 1 : cut + 2].isalpha()):
            if cut - start > 2 * HUGE_TEXT_CHARS:
                cut = -1
                break
            cut = text.find(" ", cut + 1)
        if cut == -1:
            break
        total += len(encode(text[start:cut]))
        start = cut
    return total + len(encode(text[start:]))


def serial_lengths(encode: Callable[[str], list[int]], texts: list[str]) -> list[int]:
    """Token counts of these texts, one after the other."""
    if texts and max(map(len, texts)) <= HUGE_TEXT_CHARS:
        return [len(encode(text)) for text in texts]  # the common case, without a wrapper
    return [_length(encode, text) for text in texts]


def batched_lengths(encode: Callable[[str], list[int]], texts: Any) -> list[int]:
    """Token counts of an Arrow string array (or a list), a batch of Python strings at a time."""
    if isinstance(texts, list):
        return serial_lengths(encode, texts)
    counts: list[int] = []
    for start in range(0, len(texts), BATCH):
        counts += serial_lengths(encode, texts.slice(start, BATCH).to_pylist())
    return counts
