"""Exact token counts of a few plain-ASCII texts, without building tiktoken's encoder.

A pre-commit run on a small file that changed meets a handful of new texts; the others'
counts come from the text memo. Building tiktoken's encoder for those few cost about 0.13 s
of a 0.8 s run: the 200,000 ranks read into a dict, then tiktoken's own tables built from
it. This module counts such texts as tiktoken's ``encode_ordinary`` does, with the same split
pattern (taken from tiktoken's definition of the encoding) and the same byte-pair merges
(the lowest-ranked adjacent pair first, the leftmost of equal ones), and looks each rank up
by a binary search in the verified packed copy of the ranks (:mod:`dslint.tokens.encodings`),
so nothing is built. About 5 microseconds per piece: worth it for a few thousand characters,
not for a file.

Only texts made of printable ASCII, tab, line feed and carriage return are counted here. On
them the pattern's classes (letters, digits, white space) mean the same in Python's
``regex`` and in the Rust engine tiktoken runs, whatever Unicode version either knows.
Anything else, a missing or damaged packed copy included, returns None and the caller uses
tiktoken. Tests compare the counts with tiktoken's on every such text of the fixtures and the
real corpus, and on generated texts full of the pattern's edge cases.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from dslint.tokens import encodings

#: The most characters counted here in one run; beyond it tiktoken is faster, its set-up paid.
MAX_CHARS = 20_000

_NOT_PLAIN = re.compile(r"[^\t\n\r\x20-\x7e]")


def is_plain(text: str) -> bool:
    return _NOT_PLAIN.search(text) is None


class SortedRanks:
    """Rank lookups by binary search over a packed block's tokens in byte order."""

    def __init__(self, block: bytes) -> None:
        packed = encodings.Packed(block)
        self._data, self._stops, self._order = packed.data, packed.stops, packed.order

    def rank(self, piece: bytes) -> int | None:
        data, stops, order = self._data, self._stops, self._order
        low, high = 0, len(order)
        while low < high:
            middle = (low + high) // 2
            rank = order[middle]
            token = data[stops[rank - 1] if rank else 0 : stops[rank]]
            if token < piece:
                low = middle + 1
            elif token > piece:
                high = middle
            else:
                return rank
        return None


def piece_tokens(piece: bytes, rank: Callable[[bytes], int | None]) -> int:
    """How many tokens byte-pair encoding makes of one piece of the split."""
    if len(piece) == 1 or rank(piece) is not None:
        return 1  # every single byte is a token of these encodings
    bounds = list(range(len(piece) + 1))
    # pairs[i]: rank of the two parts that start at bounds[i] (None if that is no token).
    pairs = [rank(piece[i : i + 2]) for i in range(len(piece) - 1)]
    while True:
        best, at = None, -1
        for i, value in enumerate(pairs):
            if value is not None and (best is None or value < best):
                best, at = value, i  # strictly lower: the leftmost of equal ranks wins
        if best is None:
            return len(bounds) - 1
        del bounds[at + 1]
        del pairs[at]
        if at > 0:
            pairs[at - 1] = rank(piece[bounds[at - 1] : bounds[at + 1]])
        if at < len(pairs):
            pairs[at] = rank(piece[bounds[at] : bounds[at + 2]])


class PlainCounter:
    """Counts the tokens of plain texts with one encoding."""

    def __init__(self, split: Any, ranks: SortedRanks) -> None:
        self._split = split
        self._rank = ranks.rank

    def count(self, text: str) -> int:
        rank = self._rank
        pieces = self._split.finditer(text)
        return sum(piece_tokens(match.group().encode("ascii"), rank) for match in pieces)


_COUNTERS: dict[str, PlainCounter] = {}


def counter(encoding_name: str) -> PlainCounter | None:
    """The counter of an encoding (made once per process), or None when its packed copy is
    not there (yet: the first run that loads tiktoken writes it) or is damaged, or when
    tiktoken's definition of the encoding cannot be read. None is not remembered."""
    found = _COUNTERS.get(encoding_name)
    if found is not None:
        return found
    block = encodings.packed_ranks(encoding_name)
    if block is None:
        return None
    try:
        import regex

        spec = encodings.definition(encoding_name, {})
        found = PlainCounter(regex.compile(spec["pat_str"]), SortedRanks(block))
    except (ImportError, encodings.EncodingUnavailable, ValueError, KeyError):
        return None
    _COUNTERS[encoding_name] = found
    return found


counter.cache_clear = _COUNTERS.clear  # type: ignore[attr-defined]


def lengths(encoding_name: str, texts: Sequence[str], budget: int) -> list[int] | None:
    """Token counts of ``texts``, or None unless all are plain and within ``budget``
    characters (and the encoding's packed copy is there)."""
    if not all(type(text) is str for text in texts):
        return None
    if sum(map(len, texts)) > budget or not all(map(is_plain, texts)):
        return None
    found = counter(encoding_name)
    if found is None:
        return None
    return [found.count(text) for text in texts]
