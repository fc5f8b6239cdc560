"""Token counts of plain texts, one process, no pandas (used by a helper process too)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

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


class Picked:
    """Some rows of an Arrow string array, read a batch at a time: the distinct texts of a
    column without a copy of them all (at a million examples, nearly all the text is
    distinct, 1 GB). It answers what counting asks of an Arrow array of texts: its length,
    ``slice``, ``take`` and ``to_pylist``."""

    __slots__ = ("array", "rows")

    def __init__(self, array: Any, rows: np.ndarray[Any, np.dtype[np.int64]]) -> None:
        self.array = array  # a pyarrow (large_)string Array, not chunked
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def slice(self, start: int = 0, length: int | None = None) -> Picked:
        end = len(self.rows) if length is None else start + length
        return Picked(self.array, self.rows[start:end])

    def take(self, indices: Any) -> Picked:
        return Picked(self.array, self.rows[np.asarray(indices, dtype=np.int64)])

    def to_arrow(self) -> Any:
        """The picked texts as one new Arrow array (a copy of them)."""
        return self.array.take(self.rows)

    def to_pylist(self) -> list[Any]:
        """The picked texts as Python strings, decoded from the array's bytes. Not through
        Arrow's ``take``: its first call in a process readies Arrow's compute functions,
        0.28 s of a helper process that needs nothing else from them."""
        starts, ends = self._bounds()
        data = memoryview(self.array.buffers()[2] or b"")
        bounds = zip(starts.tolist(), ends.tolist(), strict=True)
        texts: list[Any] = [str(data[a:b], "utf-8") for a, b in bounds]
        if self.array.null_count:
            for index in np.flatnonzero(~self._valid()).tolist():
                texts[index] = None
        return texts

    def byte_lengths(self) -> np.ndarray[Any, np.dtype[np.int64]]:
        """The UTF-8 size of each picked text, from the array's offsets (0 for a null)."""
        starts, ends = self._bounds()
        sizes: np.ndarray[Any, np.dtype[np.int64]] = np.asarray(ends) - np.asarray(starts)
        if self.array.null_count:
            sizes = np.where(self._valid(), sizes, 0)
        return sizes

    def _bounds(self) -> tuple[Any, Any]:
        """Where each picked text starts and ends in the array's data buffer."""
        import pyarrow as pa

        width = np.int64 if pa.types.is_large_string(self.array.type) else np.int32
        first = self.array.offset
        offsets = np.frombuffer(self.array.buffers()[1], dtype=width)
        offsets = offsets[first : first + len(self.array) + 1]  # a view: no copy of them all
        return offsets[self.rows].astype(np.int64), offsets[self.rows + 1].astype(np.int64)

    def _valid(self) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """Whether each picked text is not null: its bit in the array's validity bitmap
        (least significant bit first), read for the picked rows only, not the whole array
        (to_pylist asks once per batch)."""
        bitmap = self.array.buffers()[0]
        if bitmap is None:
            return np.ones(len(self.rows), dtype=bool)
        bits = np.frombuffer(bitmap, dtype=np.uint8)
        at = self.rows + self.array.offset
        valid: np.ndarray[Any, np.dtype[np.bool_]] = ((bits[at >> 3] >> (at & 7)) & 1) > 0
        return valid


def batched_lengths(encode: Callable[[str], list[int]], texts: Any) -> list[int]:
    """Token counts of an Arrow string array, a :class:`Picked` selection of one, or a list:
    a batch of Python strings at a time."""
    if isinstance(texts, list):
        return serial_lengths(encode, texts)
    counts: list[int] = []
    for start in range(0, len(texts), BATCH):
        counts += serial_lengths(encode, texts.slice(start, BATCH).to_pylist())
    return counts
