"""Shared text plumbing for the voice rules: the rows they read and one-pass regex scans.

Scanning a column of 100k strings with a Python loop per message and per pattern is what
makes prose linters slow. Instead, a column is joined once into a single string (pieces
separated by a blank line) and each compiled pattern runs over it in one C-level pass;
match offsets are mapped back to (piece, start, end) with a binary search. A match that
crosses a separator would not exist in either piece alone, so those pieces are scanned
again on their own: the result is exactly what a per-piece scan would give.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dslint.dataset import Dataset
from dslint.rules.voice._keys import ROWS

SEPARATOR = "\n\n"
#: The columns of the rows the voice rules check (a copy: see rows_for_roles). Their text is
#: not copied: :func:`row_text` reads it from the messages' column a selection at a time.
ROW_COLUMNS = ("record", "role", "pointer")
#: Rows whose text a voice statistic reads at a time (:func:`blocks`): about 45 MB of replies
#: at a time where the whole copy was 754 MB at a million examples.
BLOCK_ROWS = 131_072


def rows_for_roles(dataset: Dataset, roles: Sequence[str]) -> pd.DataFrame:
    """Message rows of these roles that have text (memoised in ``dataset.cache``), with the
    columns in ROW_COLUMNS.

    A DPO line's ``non_preferred_output`` is left out: it is the answer the model is taught
    *not* to give, so an off-brand term, an odd tone or another language there is the point
    of the example, not a flaw in it (and it would skew the dataset's tone and language).
    """
    key = ROWS + ",".join(roles)
    cached = dataset.cache.get(key)
    if cached is None:
        frame = dataset.messages
        chosen = (
            frame["role"].isin(list(roles))
            & (frame["section"] != "non_preferred")
            & (frame["text"].str.len() > 0)
        ).to_numpy(dtype=bool)
        # Only the columns the voice rules read: the rest (token counts, tool calls, images)
        # were 58 MB more at a million examples. The replies' text (754 MB there) stays in
        # the messages' column; row_text reads it.
        cached = frame.loc[chosen, list(ROW_COLUMNS)].reset_index(drop=True)
        positions = np.flatnonzero(chosen)
        object.__setattr__(cached, "_voice_text", RowText(frame["text"], positions))
        dataset.cache[key] = cached
        dataset.cache[key + AT] = positions
    result: pd.DataFrame = cached
    return result


class RowText:
    """The text of some rows of a column, read a selection at a time (never copied whole
    unless a caller asks for every row at once).

    ``text.iloc[selection]`` is a string Series of the selected rows (a slice or positions,
    as for a Series), numbered from 0 like a selection of the rows frame; ``len(text)``
    counts the rows.
    """

    def __init__(self, source: pd.Series, positions: Any) -> None:
        self._source = source
        self._positions = positions
        self._column: Any = None  # the source as one Arrow array, made on first read

    def __len__(self) -> int:
        return len(self._positions)

    @property
    def iloc(self) -> RowText:
        return self

    def __getitem__(self, selection: Any) -> pd.Series:
        import pyarrow as pa

        from dslint.dataset import arrow_strings

        if self._column is None:  # once, not for every block of every pass
            self._column = arrow_strings(self._source)
        chosen = self._positions[selection]
        taken = self._column.take(pa.array(np.asarray(chosen, dtype=np.int64)))
        series: pd.Series = pd.Series(pd.arrays.ArrowStringArray(taken))
        return series

    def tolist(self) -> list[str]:
        values: list[str] = self[slice(None)].tolist()
        return values


def row_text(rows: pd.DataFrame) -> Any:
    """The text of a rows frame: its ``text`` column, or for the checked rows (which keep no
    copy of it) a :class:`RowText` over the messages' column. Read it a block of rows at a
    time (``text.iloc[block]`` for each of :func:`blocks`) to keep the copies small."""
    if "text" in rows.columns:
        return rows["text"]
    return rows.__dict__["_voice_text"]


def blocks(count: int) -> Iterator[slice]:
    """``count`` rows in slices of BLOCK_ROWS."""
    for start in range(0, count, BLOCK_ROWS):
        yield slice(start, min(start + BLOCK_ROWS, count))


def columns_by_block(
    text: Any,
    selected: Any,
    columns: Sequence[str],
    count: Callable[[Any], Any],
    dtype: Any = np.int64,
) -> dict[str, Any]:
    """Per-row integer ``columns`` (of ``dtype``) of the ``selected`` rows of ``text``
    (``slice(None)``, as the row memos ask for every row, or positions): ``count(block)``
    gives each column's values for the text of a block of them, written into whole columns
    (no concatenated copy of the blocks)."""
    every = isinstance(selected, slice)  # every row: the blocks are slices, not positions
    chosen = np.arange(len(text))[selected]
    result = {name: np.zeros(len(chosen), dtype=dtype) for name in columns}
    for block in blocks(len(chosen)):
        counted = count(text.iloc[block if every else chosen[block]])
        for name in columns:
            result[name][block] = counted[name]
    return result


def count_by_block(text: Any, selected: Any, count: Any) -> Any:
    """A per-row count of the ``selected`` rows of ``text`` (a slice or positions):
    ``count(block, rows)`` for each block of them, where ``block`` is the text of ``rows``
    (row positions in ``text``)."""
    chosen = np.arange(len(text))[selected]
    result = np.zeros(len(chosen), dtype=np.int64)
    for block in blocks(len(chosen)):
        result[block] = count(text.iloc[chosen[block]], chosen[block])
    return result


#: The key suffix of where a ``rows_for_roles`` frame's rows are in ``dataset.messages``.
AT = "#at"


def row_positions(dataset: Dataset, rows: pd.DataFrame) -> Any:
    """Positions in ``dataset.messages`` of the rows of a ``rows_for_roles`` frame (None for
    another frame): what the row memos (dslint.rows) follow from one run to the next."""
    for key, value in dataset.cache.items():
        if value is rows and key.startswith(ROWS):
            return dataset.cache.get(key + AT)
    return None


def remembered_count(
    dataset: Dataset, rows: pd.DataFrame, namespace: str, version: str, count: Any
) -> Any:
    """A per-row count of the checked rows, ``count(selected)`` (``selected`` indexes the
    rows: a slice of all of them or an array of positions), computed on a re-run only for
    the rows of new or edited lines (:func:`dslint.rows.remembered`)."""
    from dslint.rows import remembered

    positions = row_positions(dataset, rows)
    if positions is None:
        return count(slice(None))

    def compute(selected: Any) -> dict[str, Any]:
        return {"n": count(selected)}

    return remembered(dataset, "messages", namespace, version, ("n",), positions, compute)["n"]


@dataclass(frozen=True)
class Joined:
    """Pieces of text joined into one string, with where each piece starts."""

    pieces: Sequence[str]
    text: str
    starts: np.ndarray[Any, np.dtype[np.int64]]

    @classmethod
    def of(cls, pieces: Sequence[str]) -> Joined:
        lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
        starts = np.zeros(len(pieces), dtype=np.int64)
        if len(pieces) > 1:
            starts[1:] = np.cumsum(lengths[:-1] + len(SEPARATOR))
        return cls(pieces, SEPARATOR.join(pieces), starts)

    def scan(self, pattern: Any) -> Iterator[tuple[int, Any, int]]:
        """Every match of ``pattern`` as (piece index, match, offset of the piece).

        ``match.start() - offset`` is the position inside the piece. Matches come piece by
        piece, in order within a piece.
        """
        if not self.pieces:
            return
        matches = list(pattern.finditer(self.text))
        if not matches:
            return
        begins = np.fromiter((m.start() for m in matches), dtype=np.int64, count=len(matches))
        ends = np.fromiter((m.end() for m in matches), dtype=np.int64, count=len(matches))
        first = np.searchsorted(self.starts, begins, side="right") - 1
        # The last piece a match touches: an empty match at a piece's end stays in it.
        last = np.searchsorted(self.starts, np.maximum(ends - 1, begins), side="right") - 1
        piece_end = self.starts[first] + np.fromiter(
            (len(self.pieces[i]) for i in first), dtype=np.int64, count=len(first)
        )
        crossing = (ends > piece_end) | (first != last) | (begins > piece_end)
        redo: set[int] = set()
        for crossed in np.flatnonzero(crossing):
            redo.update(range(int(first[crossed]), int(last[crossed]) + 1))
        previous: int = -1
        for index, match in enumerate(matches):
            piece = int(first[index])
            if piece in redo:
                if piece != previous:
                    for own in pattern.finditer(self.pieces[piece]):
                        yield piece, own, 0
                    previous = piece
                continue
            yield piece, match, int(self.starts[piece])
        # Pieces whose only matches crossed into them from elsewhere still need a scan.
        seen = {int(first[i]) for i in range(len(matches))}
        for piece in sorted(redo - seen):
            for own in pattern.finditer(self.pieces[piece]):
                yield piece, own, 0


def line_and_column(text: str, position: int) -> tuple[int, int]:
    """1-based line and column (in characters) of ``position`` inside ``text``."""
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return line, column
