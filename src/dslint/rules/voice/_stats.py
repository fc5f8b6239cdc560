"""Per-message counts computed on the column's UTF-8 bytes with numpy, once per run.

The voice rules used to count with a regular expression per feature (``str.count`` is
Arrow's RE2 ``count_substring_regex``, which restarts a search after every match: counting
``[A-Za-z]`` costs a call per letter). Every class they count is ASCII in RE2 (``\\s`` is
``[\\t\\n\\f\\r ]``, ``(?i)[aeiouy]`` folds to no other character; checked over all code
points in tests/test_voice_stats.py), and a UTF-8 byte below 0x80 is always a whole ASCII
character, so the same numbers come from byte tables: a count is a sum of a lookup, a
``X+`` count is a count of run starts. Where the answer depends on non-ASCII text (emoji,
Python's Unicode ``\\s`` in the longest sentence), only the rows that hold a non-ASCII byte
take the old exact path. The column is read in chunks of rows, so memory stays bounded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from dslint.dataset import Dataset, arrow_strings
from dslint.rules.voice import _text
from dslint.rules.voice._keys import COUNTS

# Bytes of text handled at once. Small enough for a chunk's dozen byte masks to stay in the
# processor's caches: at a million examples byte_counts took 14.9 s with 16 MiB chunks and
# 6.3 s with these, and its peak fell from +646 to +356 MB (tests cover rows across chunks).
CHUNK_BYTES = 1 << 18


SENTENCE_SPLIT = re.compile(r"(?<=[.!?…])\s+|\n+")
WORD = re.compile(r"\S+")


def max_sentence_words(text: str) -> int:
    """Words (``\\S+``) in the longest sentence (the reference definition)."""
    return max((len(WORD.findall(s)) for s in SENTENCE_SPLIT.split(text)), default=0)


def arrow_column(text: pd.Series) -> Any:
    """The column as one contiguous Arrow ``large_string`` array."""
    return arrow_strings(text)


def python_values(text: pd.Series, rows: Any) -> list[str]:
    """``text.to_numpy()[rows].tolist()``, making Python strings of those rows only
    (``to_numpy()`` made one for every row first: 1.6 GB at a million examples' replies)."""
    import pyarrow as pa

    values: list[str] = arrow_column(text).take(pa.array(rows, type=pa.int64())).to_pylist()
    return values


def _chunks(column: Any) -> Iterator[tuple[int, np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
    """(first row, bytes, row offsets into those bytes) for blocks of rows."""
    count = len(column)
    if count == 0:
        return
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int64)
    offsets = offsets[column.offset : column.offset + count + 1]
    data = np.frombuffer(column.buffers()[2], dtype=np.uint8)
    first = 0
    while first < count:
        limit = offsets[first] + CHUNK_BYTES
        last = int(np.searchsorted(offsets, limit, side="right")) - 1
        last = min(max(last, first + 1), count)
        yield (
            first,
            data[offsets[first] : offsets[last]],
            offsets[first : last + 1] - offsets[first],
        )
        first = last


def _per_row(flags: np.ndarray[Any, Any], offsets: np.ndarray[Any, Any]) -> Any:
    """How many of ``flags`` are set within each row."""
    starts = offsets[:-1]
    if not len(flags):
        return np.zeros(len(starts), dtype=np.int64)
    # reduceat over the bytes with a 16-bit sum is the cheapest sum of many short segments
    # (several times faster than a 64-bit one); the rare row longer than 65,535 bytes, which
    # could overflow it, is summed again on its own. A segment that is empty (an empty row)
    # would read one element, so it is zeroed.
    sums = np.add.reduceat(flags.view(np.uint8), np.minimum(starts, len(flags) - 1),
                           dtype=np.uint16).astype(np.int64)  # fmt: skip
    lengths = offsets[1:] - starts
    for row in np.flatnonzero(lengths > 0xFFFF):
        sums[row] = np.count_nonzero(flags[starts[row] : offsets[row + 1]])
    return np.where(lengths > 0, sums, 0)


def _run_starts(mask: np.ndarray[Any, Any], row_start: np.ndarray[Any, Any]) -> Any:
    """Where a run of ``mask`` begins (a row's first byte always may begin one)."""
    begins = mask.copy()
    begins[1:] &= ~mask[:-1]
    begins[row_start] = mask[row_start]
    return begins


def _between(data: np.ndarray[Any, Any], low: int, high: int) -> Any:
    """Bytes in ``low..high`` (one unsigned comparison: lower bytes wrap round)."""
    return (data - np.uint8(low)) <= np.uint8(high - low)


def python_space(data: np.ndarray[Any, Any]) -> Any:
    """Bytes that Python's ``\\s`` matches in ASCII text (RE2's ``\\s`` lacks 11, 28-31)."""
    return (data == ord(" ")) | _between(data, 9, 13) | _between(data, 28, 31)


#: The columns of :func:`byte_counts`.
COUNT_COLUMNS = ("letters", "capitals", "alnum", "syllables", "tokens", "exclamations",
                 "questions", "non_ascii", "plain", "words", "sentences", "sentence_words")  # fmt: skip


def byte_counts(text: pd.Series) -> pd.DataFrame:
    """Exact per-row counts of the patterns the voice rules use, from the UTF-8 bytes.

    Columns, each equal to ``text.str.count`` of the pattern named: ``letters``
    ``[A-Za-z]``, ``capitals`` ``[A-Z]``, ``alnum`` ``[A-Za-z0-9]``, ``syllables``
    ``(?i)[aeiouy]+``, ``tokens`` ``[A-Za-z0-9'’]+``, ``exclamations`` ``!``,
    ``questions`` ``\\?``. ``non_ascii`` says whether the row holds a non-ASCII character,
    ``plain`` whether it is ASCII without the spaces (``\\v``, ``\\x1c``-``\\x1f``) where
    Python's ``\\s`` and RE2's differ: on such a row RE2 and ``re`` give the same matches.
    For ASCII rows only (0 for the others, whose values need Python's Unicode ``\\s``):
    ``words`` ``\\S+``, ``sentences`` ``[.!?]+(?:\\s|$)`` and ``sentence_words``
    (:func:`max_sentence_words`); pandas counts these three patterns with Python's ``re``.
    """
    out = {name: np.zeros(len(text), dtype=np.int64) for name in COUNT_COLUMNS}
    for first, data, offsets in _chunks(arrow_column(text)):
        rows = slice(first, first + len(offsets) - 1)
        size = len(data)
        row_start = offsets[:-1][offsets[:-1] < offsets[1:]]
        last = np.zeros(size, dtype=bool)  # last byte of its row
        last[offsets[1:][offsets[1:] > offsets[:-1]] - 1] = True
        folded = data | np.uint8(0x20)
        letter = _between(folded, ord("a"), ord("z"))
        out["letters"][rows] = _per_row(letter, offsets)
        out["capitals"][rows] = _per_row(_between(data, ord("A"), ord("Z")), offsets)
        alnum = letter | _between(data, ord("0"), ord("9"))
        out["alnum"][rows] = _per_row(alnum, offsets)
        vowel = folded == ord("a")
        for other in b"eiouy":
            vowel |= folded == other
        out["syllables"][rows] = _per_row(_run_starts(vowel, row_start), offsets)
        # [A-Za-z0-9'’]+: ’ is the three bytes E2 80 99.
        token = alnum | (data == ord("'"))
        if size >= 3:
            quote = (data[:-2] == 0xE2) & (data[1:-1] == 0x80) & (data[2:] == 0x99)
            token[:-2] |= quote
            token[1:-1] |= quote
            token[2:] |= quote
        out["tokens"][rows] = _per_row(_run_starts(token, row_start), offsets)
        out["exclamations"][rows] = _per_row(data == ord("!"), offsets)
        out["questions"][rows] = _per_row(data == ord("?"), offsets)
        ascii_row = _per_row(data >= 0x80, offsets) == 0
        out["non_ascii"][rows] = ~ascii_row
        odd_space = (data == 11) | _between(data, 28, 31)
        out["plain"][rows] = ascii_row & (_per_row(odd_space, offsets) == 0)
        space = odd_space | python_space(data)
        word_start = _run_starts(~space, row_start)
        words = _per_row(word_start, offsets)
        out["words"][rows] = words * ascii_row
        # [.!?]+(?:\s|$) matches once per run of terminals followed by a space or the end.
        terminal = (data == ord(".")) | (data == ord("!")) | (data == ord("?"))
        followed = last.copy()
        followed[:-1] |= space[1:]
        out["sentences"][rows] = _per_row(terminal & followed, offsets) * ascii_row
        longest = _ascii_sentence_words(data, word_start, words, ~space & followed, terminal)
        out["sentence_words"][rows] = longest * ascii_row
    frame: pd.DataFrame = pd.DataFrame(out, copy=False)
    return frame


def _ascii_sentence_words(
    data: np.ndarray[Any, Any],
    word_start: np.ndarray[Any, Any],
    words: np.ndarray[Any, Any],
    word_end: np.ndarray[Any, Any],
    terminal: np.ndarray[Any, Any],
) -> Any:
    """:func:`max_sentence_words` for ASCII text, vectorised (``words``: words per row).

    Splitting never cuts a word (separators are whitespace), so each word (a run of
    non-space) belongs to one sentence, and two neighbouring words of a row are in different
    sentences exactly when the whitespace between them holds a separator: it contains a
    newline, or it follows a ``.``, ``!`` or ``?``. Empty sentences do not change the maximum.
    """
    result = np.zeros(len(words), dtype=np.int64)
    starts = np.flatnonzero(word_start)
    if not len(starts):
        return result
    ends = np.flatnonzero(word_end)  # the last byte of each word, in the same order
    row = np.repeat(np.arange(len(words)), words)
    new_sentence = np.ones(len(starts), dtype=bool)
    new_sentence[1:] = terminal[ends[:-1]] | (row[1:] != row[:-1])
    # A newline is whitespace, so it lies in the gap before the next word start.
    after_newline = np.searchsorted(starts, np.flatnonzero(data == ord("\n")))
    new_sentence[after_newline[after_newline < len(starts)]] = True
    first = np.flatnonzero(new_sentence)
    sizes = np.diff(np.append(first, len(starts)))
    np.maximum.at(result, row[first], sizes)
    return result


WORDS = re.compile(r"\S+")
SENTENCES = re.compile(r"[.!?]+(?:\s|$)")


def message_counts(dataset: Dataset, rows: pd.DataFrame, key: str) -> pd.DataFrame:
    """:func:`byte_counts` of the checked rows, completed for non-ASCII rows (memoised)."""
    from dslint.rows import remembered
    from dslint.rules.voice._text import row_positions, row_text

    cache_key = COUNTS + key
    cached = dataset.cache.get(cache_key)
    if cached is None:
        text = row_text(rows)
        positions = row_positions(dataset, rows)
        if positions is None:
            cached = _counts_by_block(text, slice(None))
        else:
            # A re-run counts only the rows of new or edited lines (dslint.rows).
            def compute(selected: Any) -> pd.DataFrame:
                return _counts_by_block(text, selected)

            # The columns as they are, not copied into one block (106 MB at 1M replies).
            cached = pd.DataFrame(remembered(dataset, "messages", "voice.counts", "1",
                                             COUNT_COLUMNS, positions, compute), copy=False)  # fmt: skip
        dataset.cache[cache_key] = cached
    frame: pd.DataFrame = cached
    return frame


def _counts_by_block(text: Any, selected: Any) -> pd.DataFrame:
    """:func:`_message_counts` of the selected rows, read a block of rows at a time (each
    block's counts written into the whole selection's columns: no concatenated copy)."""
    chosen = np.arange(len(text))[selected]
    if len(chosen) <= _text.BLOCK_ROWS:
        return _message_counts(text.iloc[chosen])
    # int32: a count of one reply's characters, words or sentences fits, and the twelve
    # columns take half the room (106 MB less at 2.2 million replies).
    columns = _text.columns_by_block(text, selected, COUNT_COLUMNS, _message_counts, np.int32)
    frame: pd.DataFrame = pd.DataFrame(columns, copy=False)
    return frame


def _message_counts(text: pd.Series) -> pd.DataFrame:
    counted = byte_counts(text)
    others = np.flatnonzero(counted["non_ascii"].to_numpy())
    if len(others):
        values = python_values(text, others)
        for name, count in (("words", lambda t: len(WORDS.findall(t))),
                            ("sentences", lambda t: len(SENTENCES.findall(t))),
                            ("sentence_words", max_sentence_words)):  # fmt: skip
            column = counted[name].to_numpy().copy()
            column[others] = [count(t) for t in values]
            counted[name] = column
    return counted


LETTER = re.compile(r"[^\W\d_]")
LETTER_RUN = re.compile(r"[^\W\d_]{2,}")


def letter_counts(text: pd.Series) -> tuple[Any, Any]:
    """``text.str.count`` of ``[^\\W\\d_]`` (letters) and ``[^\\W\\d_]{2,}`` (words of
    two letters or more): from the bytes on ASCII rows, with ``re`` on the others."""
    letters = np.zeros(len(text), dtype=np.int64)
    runs = np.zeros(len(text), dtype=np.int64)
    non_ascii = np.zeros(len(text), dtype=bool)
    for first, data, offsets in _chunks(arrow_column(text)):
        rows = slice(first, first + len(offsets) - 1)
        row_start = offsets[:-1][offsets[:-1] < offsets[1:]]
        letter = _between(data | np.uint8(0x20), ord("a"), ord("z"))
        letters[rows] = _per_row(letter, offsets)
        # A run of two or more: a run start whose next byte, in the same row, is a letter.
        longer = np.zeros(len(data), dtype=bool)
        longer[:-1] = letter[1:]
        longer[offsets[1:][offsets[1:] > offsets[:-1]] - 1] = False
        runs[rows] = _per_row(_run_starts(letter, row_start) & longer, offsets)
        non_ascii[rows] = _per_row(data >= 0x80, offsets) > 0
    others = np.flatnonzero(non_ascii)
    if len(others):
        values = python_values(text, others)
        letters[others] = [len(LETTER.findall(t)) for t in values]
        runs[others] = [len(LETTER_RUN.findall(t)) for t in values]
    return letters, runs


def exact_count(text: pd.Series, pattern: str, plain: Any, candidates: Any = None) -> Any:
    """``text.str.count(pattern)`` whichever engine pandas would pick, computed cheaply.

    pandas counts with RE2 unless the pattern uses ``\\s`` or, on non-ASCII data, ``\\w``,
    ``\\b`` or ``\\d``; then it counts with Python's ``re``. On a ``plain`` row (see
    :func:`byte_counts`) both engines agree for the patterns used here (ASCII classes, no
    lookarounds), so plain rows go to RE2 (see :func:`sparse_count`), the rest to ``re``.
    ``candidates`` (a mask) marks the only rows that can match, when the caller knows.
    """
    plain = np.asarray(plain, dtype=bool)
    wanted = np.ones(len(text), dtype=bool) if candidates is None else np.asarray(candidates)
    result = sparse_count(text, pattern, plain & wanted)
    others = np.flatnonzero(~plain & wanted)
    if len(others):
        compiled = re.compile(pattern)
        values = python_values(text, others)
        result[others] = [len(compiled.findall(t)) for t in values]
    return result


#: Columns with fewer rows are scanned on one thread (starting threads would cost more).
THREADED_ROWS = 20_000


def on_both_cores(kernel: Any, column: Any, *args: Any) -> Any:
    """``kernel(column, *args)`` for an Arrow compute kernel, on two halves of the column in
    two threads: Arrow releases the GIL while it scans, so a regex pass over a large column
    takes about half the time on an otherwise idle second core. The same values, in order."""
    import pyarrow as pa

    if len(column) < THREADED_ROWS:
        return kernel(column, *args)
    from concurrent.futures import ThreadPoolExecutor

    middle = len(column) // 2
    halves = (column.slice(0, middle), column.slice(middle))
    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(lambda half: kernel(half, *args), halves)
    return pa.concat_arrays([first, second])


#: Rows of a column that sparse_count searches at a time: it copies (``take``) at most a
#: block's selected text at once, where a whole column's selection of most replies, once per
#: pattern, grew the voice stage by 0.9 GB at a million examples (Arrow's pool kept it).
COUNT_BLOCK_ROWS = 262_144


def sparse_count(text: pd.Series, pattern: str, candidates: Any = None) -> Any:
    """``text.str.count(pattern)``, counted only on rows where RE2 finds a first match.

    Arrow's count restarts a search after each match; a match test stops at the first, so
    testing every row and counting only the rows that match gives the same numbers cheaply
    when matches are rare. ``candidates`` (a boolean mask) narrows the rows further when
    the caller knows the others cannot match.
    """
    column = arrow_column(text)
    result = np.zeros(len(text), dtype=np.int64)
    rows = np.arange(len(text)) if candidates is None else np.flatnonzero(candidates)
    for start in range(0, len(column), COUNT_BLOCK_ROWS):
        stop = min(start + COUNT_BLOCK_ROWS, len(column))
        first, last = np.searchsorted(rows, [start, stop])
        if first < last:
            block = column.slice(start, stop - start)
            _count_block(block, rows[first:last] - start, pattern, result[start:stop])
    return result


def _count_block(column: Any, rows: Any, pattern: str, result: Any) -> None:
    """sparse_count on one block: ``rows`` (positions in it) counted into ``result``."""
    import pyarrow.compute as pc

    # A selection of most rows is scanned in place and the other rows' answers dropped: a
    # ``take`` would copy most of the block's text for each pattern.
    in_place = len(rows) > len(column) // 2
    subset = column if in_place else column.take(rows)
    matches = on_both_cores(pc.match_substring_regex, subset, pattern)
    matched = matches.to_numpy(zero_copy_only=False)
    found = rows[matched[rows]] if in_place else rows[matched]
    if not len(found):
        return
    if len(found) > len(column) // 2:
        counted = on_both_cores(pc.count_substring_regex, column, pattern)
        result[found] = counted.to_numpy(zero_copy_only=False)[found]
    else:
        counted = on_both_cores(pc.count_substring_regex, column.take(found), pattern)
        result[found] = counted.to_numpy(zero_copy_only=False)
