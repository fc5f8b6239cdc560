"""Count tokens per message and per example, as columns of the dataset frames.

The formula (OpenAI cookbook ``Chat_finetuning_data_prep``, the tool most users run):
tokens(example) = sum over messages of (3 + tokens of role, content and name, + 1 if the
message has a name) + 3 for reply priming. dslint adds what that tool leaves out: tool
definitions (the cookbook's per-function formula, :mod:`dslint.tokens.tooldefs`), the JSON of
``tool_calls`` and images (:mod:`dslint.tokens.images`, estimated for high/auto detail).

Preference (DPO) examples are counted as the longer of their two sequences (input + preferred,
input + non-preferred); legacy examples as prompt + completion, with no per-message overhead.

Speed: each column is factorised once (Arrow's dictionary encoding), so every distinct string
(the system prompt repeated in every example, the same tool list) is encoded once per
encoding; everything after that is vectorised numpy.

Columns added by :func:`count` (nullable integers, missing for records that are not counted:
unparseable lines, look-alike or unknown formats, files without a target):

* ``messages["tokens"]``: the row's text, plus on a message's first row its overhead (3,
  role, name, tool calls, images), so per-example sums need no de-duplication.
* ``messages["token_end"]``: the token position where the row ends in its sequence (tool
  definitions first), which tells what truncation at the limit would cut.
* ``records["tokens"]``, ``records["assistant_tokens"]`` (content and tool calls of assistant
  messages, the part training learns from), ``records["tool_tokens"]`` (tool definitions),
  ``records["image_tokens"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dslint import helper as helpers
from dslint import models
from dslint.dataset import arrow_strings
from dslint.installed import library_version
from dslint.memory import give_back
from dslint.tokens import images, plain, tooldefs
from dslint.tokens import lengths as text_lengths
from dslint.tokens.encodings import get_encoding
from dslint.tokens.lengths import Picked, batched_lengths

if TYPE_CHECKING:
    from dslint.dataset import Dataset

COUNTED_FORMATS = ("chat", "rft", "dpo", "legacy")
# Sections that end a sequence; an example is as long as its longest ending.
OUTPUT_SECTIONS = ("preferred", "non_preferred", "completion")
LEGACY_SECTIONS = ("prompt", "completion")
RECORD_COLUMNS = ("tokens", "assistant_tokens", "tool_tokens", "image_tokens")

Int64Array = np.ndarray[Any, np.dtype[np.int64]]
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]


@dataclass
class Counts:
    """Token counts for one choice of encoding per file, aligned with the frames' rows."""

    encoding_by_path: dict[str, str]
    message_tokens: pd.arrays.IntegerArray
    message_end: pd.arrays.IntegerArray
    # Per messages row: the tokens training learns from (content and tool calls).
    message_learned: Int64Array
    records: pd.DataFrame  # RECORD_COLUMNS, same index as dataset.records
    # High/auto images whose tokens are an estimate, per file, and what was assumed.
    estimated_images: dict[str, int] = field(default_factory=dict)
    image_prices: images.ImagePrices | None = None


#: Counts a batch of distinct texts (an Arrow string array) with one encoding.
Lengths = Callable[[Any], list[int]]


#: Rows dictionary-encoded together by _Column. Arrow's memo table for a whole column of
#: mostly distinct texts grew to 2.8 times the distinct text (2.4 GB more at a million
#: examples, kept by the allocator); a slice at a time, the dictionaries are about their own
#: size. A text repeated across slices (a shared system prompt) is counted once per slice.
ENCODE_ROWS = 1 << 18


class _Column:
    """A string column factorised once; encodes the distinct values a selection needs.

    ``uniques`` holds one value per distinct string: an Arrow array of them, or, with
    ``by_rows`` (the text column, where nearly every string is distinct), the row of each
    one's first appearance (a :class:`Picked` over the column itself, read a batch at a
    time as it is encoded). The dictionaries are then dropped slice by slice: kept, they were
    a second copy of most of the dataset's text (about 1 GB at a million examples).
    """

    def __init__(self, values: pd.Series, by_rows: bool = False) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        self.codes: np.ndarray[Any, Any]  # narrow ints: int8 to int64
        self.uniques: Any
        if isinstance(values.dtype, pd.CategoricalDtype):
            # Already factorised: its categories are the distinct values.
            self.codes = values.cat.codes.to_numpy()  # int8 to int32: narrow per-row codes
            categories = pa.array(values.cat.categories.array, pa.large_string())
            self.uniques = pa.chunked_array([categories], type=pa.large_string())
            return
        # Arrow's dictionary encoding, ENCODE_ROWS at a time; ``codes`` index the slices'
        # dictionaries one after the other.
        array = arrow_strings(values)
        codes, dictionaries, firsts, base = [], [], [], 0
        for start in range(0, len(array), ENCODE_ROWS):
            encoded = pc.dictionary_encode(array.slice(start, ENCODE_ROWS))
            local = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
            # int32 codes while they fit: a full column of them at half an int64's size.
            chunk = local.astype(np.int32 if base + len(encoded.dictionary) < 2**31 else np.int64)
            chunk[chunk >= 0] += base  # -1 (null) stays
            codes.append(chunk)
            if by_rows:
                firsts.append(_first_rows(local, len(encoded.dictionary)) + start)
            else:
                dictionaries.append(encoded.dictionary)
            base += len(encoded.dictionary)
            del encoded
            give_back()
        self.codes = np.concatenate(codes or [np.zeros(0, dtype=np.int32)])
        if by_rows:
            self.uniques = Picked(array, np.concatenate(firsts or [np.zeros(0, np.int64)]))
        else:
            self.uniques = pa.chunked_array(dictionaries, type=pa.large_string())

    def tokens(self, rows: BoolArray, length: Lengths) -> Int64Array:
        """Tokens of each selected row (0 elsewhere and for missing values)."""
        codes = self.codes
        chosen = codes[rows]
        chosen = chosen[chosen >= 0]
        needed = np.flatnonzero(np.bincount(chosen, minlength=len(self.uniques)))
        per_unique = np.zeros(len(self.uniques), dtype=np.int64)
        if len(needed) == len(self.uniques):
            # Every distinct value (the usual case for the text column): no copy of them all.
            per_unique[:] = length(self.uniques)
        elif len(needed):
            per_unique[needed] = length(self.uniques.take(needed))
        result = np.zeros(len(codes), dtype=np.int64)
        valid = rows & (codes >= 0)
        result[valid] = per_unique[codes[valid]]
        return result


def _first_rows(local: Any, distinct: int) -> Int64Array:
    """The row where each of a slice's ``distinct`` dictionary codes (-1: null) first appears.

    Arrow numbers a dictionary's values in the order they first appear, so a code's first
    row is where the codes so far reach a new maximum: one pass. Should that order ever
    differ, a stable sort finds the same rows.
    """
    reached = np.maximum.accumulate(local) if len(local) else local
    new = np.ones(len(local), dtype=bool)
    new[1:] = reached[1:] > reached[:-1]
    new &= local >= 0
    rows = np.flatnonzero(new)
    if len(rows) == distinct and np.array_equal(local[rows], np.arange(distinct)):
        return rows.astype(np.int64)
    valid = np.flatnonzero(local >= 0)
    codes, first = np.unique(local[valid], return_index=True)
    found = np.full(distinct, -1, dtype=np.int64)
    found[codes] = valid[first]
    return found


#: Large batches are split between this process and one helper process (both cores of a
#: 2-core machine). Threads do not help: tiktoken holds the GIL for much of each short call,
#: and two threads measured slower than one here. A process costs about half a second to
#: start and load the encoding, so only batches of at least PARALLEL_MIN_BYTES of text use it.
WORKERS = 2
PARALLEL_MIN_BYTES = 8_000_000


def _lengths(encoding_name: str) -> Lengths:
    def lengths(texts: Any) -> list[int]:
        sizes = np.cumsum(_byte_lengths(texts))
        total = int(sizes[-1]) if len(sizes) else 0
        if WORKERS < 2 or total < PARALLEL_MIN_BYTES or not helpers.available():
            return batched_lengths(_encode_ordinary(encoding_name), texts)
        # The helper takes the first part, a bit less than half: it starts late (a new
        # interpreter loading the encoding). It is started before this process loads its
        # own encoding (about 0.3 s, the first time), so that the two loads overlap.
        split = int(np.searchsorted(sizes, total * 0.45)) + 1
        helper = _helper_call(encoding_name, texts.slice(0, split))
        encode = _encode_ordinary(encoding_name)
        mine = batched_lengths(encode, texts.slice(split))
        theirs = helper.result()
        if theirs is None:
            # No second process here (a sandbox, a memory limit): the same counts, one core.
            theirs = batched_lengths(encode, texts.slice(0, split))
        return [*theirs, *mine]

    return lengths


def _encode_ordinary(encoding_name: str) -> Callable[[str], list[int]]:
    return get_encoding(encoding_name).encode_ordinary  # type: ignore[no-any-return]


def _helper_call(encoding_name: str, texts: Any) -> helpers.Call:
    """A helper process counting ``texts``. Picked rows of a column in a memory file travel
    as the rows and the file's descriptor: the helper maps the same pages (no copy of the
    text at all); other texts are copied out compactly (a slice would pickle the whole
    column's buffers) and sent."""
    import pyarrow as pa

    from dslint.dataset import SharedText

    if isinstance(texts, Picked):
        shared = SharedText.of(texts.array)
        if shared is not None:
            return helpers.Call("dslint.tokens.worker", "picked_lengths", encoding_name,
                                shared, texts.rows, pass_fds=(shared.descriptor,))  # fmt: skip
        compact = texts.to_arrow()  # already a new array of its own: no second copy
    else:
        chunks = texts.chunks if isinstance(texts, pa.ChunkedArray) else [texts]
        compact = pa.concat_arrays(chunks)
    return helpers.Call("dslint.tokens.worker", "lengths", encoding_name, compact)


def _byte_lengths(texts: Any) -> Int64Array:
    """The UTF-8 size of each text of an Arrow string array or a :class:`Picked` (0: null)."""
    import pyarrow.compute as pc

    if isinstance(texts, Picked):
        return texts.byte_lengths()
    return pc.binary_length(texts).fill_null(0).to_numpy(zero_copy_only=False)  # type: ignore[no-any-return]


#: Bump when what a memoised count means changes (the memo key holds dslint's version too).
MEMO_VERSION = 1


class _Memoised:
    """Token counts of one encoding through the run's text memo (``.dslint_cache/``).

    A count depends on the text and the encoding only, so it is remembered per distinct text;
    a re-run encodes only the texts it has not seen. The encoding (its rank file verified and
    parsed, about 0.3 s) is loaded the first time something is missing, so a run whose texts
    are all known never loads it.
    """

    def __init__(self, encoding_name: str) -> None:
        from dslint.cache import dataset_memo, source_stamp

        self.encoding_name = encoding_name
        modules = ("counting", "encodings", "plain", "tooldefs")
        code = source_stamp(f"dslint.tokens.{m}" for m in modules)
        self.version = f"{MEMO_VERSION}/{encoding_name}/{library_version('tiktoken')}/{code}"
        self.counts = dataset_memo("tokens.count", self.version)
        self._lengths: Lengths | None = None
        self._plain_budget = plain.MAX_CHARS

    def _encode(self, texts: Any) -> list[int]:
        if self._lengths is None:
            # A few plain texts (a small file that changed) are counted without building
            # tiktoken's encoder, while this run's budget for that lasts (dslint.tokens.plain).
            # Plain texts have a byte per character: a larger total is not for that path, and
            # its texts are not made into Python strings for nothing.
            size = _byte_size(texts)
            if size <= self._plain_budget:
                counted = plain.lengths(self.encoding_name, texts.to_pylist(), self._plain_budget)
                if counted is not None:
                    self._plain_budget -= size
                    return counted
            self._plain_budget = 0
            self._lengths = _lengths(self.encoding_name)
        return self._lengths(texts)

    def lengths(self, texts: Any) -> list[int]:
        """Counts of an Arrow string array of distinct texts.

        Through the memo, the texts it knows are looked up a batch at a time, and those it
        does not are counted together in one call, which spreads a large batch over both
        cores (``_lengths``): counted batch by batch, a first run with the cache counted
        every text on one core, and its token rules took twice as long as without a cache.
        """
        memo = self.counts
        # Counting a text (about 5 µs) costs ten times reading its entry: the memo's file is
        # read only for more texts than a twentieth of its entries (and not when it has none).
        if not memo.worth_reading(len(texts), skip_ratio=20):
            counted = self._encode(texts)  # the hot path of a run without a cache
            self._remember(texts, counted)
            return counted
        step = text_lengths.BATCH
        counts = np.empty(len(texts), dtype=np.int64)
        for start in range(0, len(texts), step):
            batch = texts.slice(start, step).to_pylist()
            known = memo.lookup(batch, _is_count)
            counts[start : start + len(batch)] = [known.get(text, -1) for text in batch]
        missing = np.flatnonzero(counts < 0)
        if len(missing):
            unknown = texts.take(missing)
            counted = self._encode(unknown)
            counts[missing] = counted
            self._remember(unknown, counted)
        return counts.tolist()  # type: ignore[no-any-return]

    def _remember(self, texts: Any, counts: Sequence[int]) -> None:
        """Keep these texts' counts in the memo, a batch of Python strings at a time."""
        if not self.counts.remembers:
            return
        step = text_lengths.BATCH
        for start in range(0, len(texts), step):
            batch = texts.slice(start, step).to_pylist()
            self.counts.store(dict(zip(batch, counts[start : start + len(batch)], strict=True)))

    def tool_lengths(self, constants: Mapping[str, int]) -> Lengths:
        """Tokens of tool-definition lists (JSON texts); the formula's constants key the memo."""
        import pyarrow as pa

        from dslint.cache import dataset_memo

        version = f"{self.version}/{sorted(constants.items())!r}"
        memo = dataset_memo("tokens.tools", version)

        def one(texts: list[str]) -> list[int]:
            return self.lengths(pa.array(texts, pa.large_string()))

        def compute(texts: list[str]) -> list[int]:
            return _tool_lengths(texts, constants, one)

        return lambda texts: [int(n) for n in memo.map(texts.to_pylist(), compute, _is_count)]


def _byte_size(texts: Any) -> int:
    """The UTF-8 bytes of an Arrow string array's (or a :class:`Picked`'s) values."""
    return int(_byte_lengths(texts).sum())


def _is_count(value: Any) -> bool:
    return type(value) is int and value >= 0


def count(dataset: Dataset) -> Counts:
    """Count with each file's own target encoding and add the columns to the frames (once)."""
    memo = dataset.cache.setdefault("tokens", {})
    if "frames" in memo:
        counts: Counts = memo["frames"]
        return counts
    encoding_by_path = {f.path: f.target.encoding for f in dataset.files if f.target is not None}
    counts = count_with(dataset, encoding_by_path)
    dataset.messages["tokens"] = counts.message_tokens
    dataset.messages["token_end"] = counts.message_end
    # pandas stores a copy of an array set as a column: the counts keep the frame's copies,
    # not a second pair of full columns (100 MB at a million examples).
    counts.message_tokens = dataset.messages["tokens"].array
    counts.message_end = dataset.messages["token_end"].array
    for column in RECORD_COLUMNS:
        dataset.records[column] = counts.records[column]
    memo["frames"] = counts
    return counts


def count_with(dataset: Dataset, encoding_by_path: Mapping[str, str]) -> Counts:
    """Counts for a given encoding per file (``dslint stats --all-models``), memoised per run."""
    memo = dataset.cache.setdefault("tokens", {})
    key = ("counts", tuple(sorted(encoding_by_path.items())))
    if key not in memo:
        # The factorised columns live for this count only: their distinct texts are a copy
        # of most of the dataset's text (a second encoding costs one more encoding pass).
        memo[key] = _count(dataset, dict(encoding_by_path), {})
    counts: Counts = memo[key]
    return counts


def _count(
    dataset: Dataset, encoding_by_path: dict[str, str], columns: dict[str, _Column]
) -> Counts:
    constants = models.counting()
    per_message, per_name = int(constants["per_message"]), int(constants["per_name"])
    image_prices = images.prices(constants["images"])
    records, messages = dataset.records, dataset.messages
    n_records, n_rows = len(records), len(messages)

    record_encoding = records["path"].astype(object).map(encoding_by_path).to_numpy(dtype=object)
    record_counted = (
        records["is_object"].to_numpy(dtype=bool)
        & records["format"].astype(object).isin(COUNTED_FORMATS).to_numpy()
        & pd.notna(record_encoding)
    )
    record_legacy = records["format"].astype(object).eq("legacy").to_numpy()

    # A per-row array takes a megabyte per million rows per byte of its type (an int64 over
    # the 5.5 million message rows of a million examples: 44 MB): sections are compared by
    # their category codes and encodings per record, not as an object array per row.
    row_record = messages["record"].to_numpy()  # int32: a view, not a copy
    row_counted = record_counted[row_record] if n_rows else np.zeros(0, dtype=bool)
    section_code = messages["section"].cat.codes.to_numpy()
    sections = list(messages["section"].cat.categories)

    def in_sections(names: tuple[str, ...]) -> BoolArray:
        codes = [code for code, name in enumerate(sections) if name in names]
        return np.isin(section_code, codes)

    is_output = in_sections(OUTPUT_SECTIONS)
    is_legacy = in_sections(LEGACY_SECTIONS)
    message_index = messages["message"].to_numpy()  # int16 (or int32): a view
    group_start = np.ones(n_rows, dtype=bool)  # first row of a (record, section) run
    group_start[1:] = (row_record[1:] != row_record[:-1]) | (section_code[1:] != section_code[:-1])
    first_row = group_start.copy()  # first row of a message
    first_row[1:] |= message_index[1:] != message_index[:-1]
    overhead_rows = first_row & ~is_legacy & row_counted

    def column(name: str) -> _Column:
        if name not in columns:
            values = messages[name] if name != "tools" else records["tools"]
            columns[name] = _Column(values, by_rows=name == "text")
        return columns[name]

    text = np.zeros(n_rows, dtype=np.int64)
    overhead = np.zeros(n_rows, dtype=np.int64)
    calls = np.zeros(n_rows, dtype=np.int64)
    image_tokens = np.zeros(n_rows, dtype=np.int64)
    tool_tokens = np.zeros(n_records, dtype=np.int64)
    for encoding_name in sorted({e for e in record_encoding[record_counted]}):
        memoised = _Memoised(encoding_name)
        lengths = memoised.lengths
        rows = row_counted & (record_encoding == encoding_name)[row_record]
        heads = rows & overhead_rows
        text += _text_tokens(dataset, rows, memoised, column)
        calls += _call_tokens(dataset, heads, memoised, column)
        overhead += column("role").tokens(heads, lengths)
        overhead += column("name").tokens(heads, lengths)
        overhead += np.where(heads & messages["name"].notna().to_numpy(), per_name, 0)
        image_tokens += _image_tokens(column("images"), heads, image_prices)
        tool_tokens += column("tools").tokens(
            record_counted & ~record_legacy & (record_encoding == encoding_name),
            memoised.tool_lengths(constants["tools"][encoding_name]),
        )
    # In place from here on where it can be: each of these is a full column (44 MB over the
    # message rows of a million examples), and a temporary one is one more at the peak.
    overhead[overhead_rows] += per_message
    overhead += calls
    overhead += image_tokens
    record_images = np.rint(np.bincount(row_record, weights=image_tokens, minlength=n_records))
    del image_tokens
    tokens = overhead  # text + overhead
    tokens += text
    del overhead

    # Per-record sums: the main sequence, and the longest ending (DPO outputs, completions).
    def per_record(mask: BoolArray) -> Int64Array:
        sums = np.bincount(row_record[mask], weights=tokens[mask], minlength=n_records)
        return np.rint(sums).astype(np.int64)

    assistant_rows = (messages["role"] == "assistant").fillna(False).to_numpy(dtype=bool)
    learned = text  # text + calls
    learned += calls
    del text, calls

    def assistant(mask: BoolArray) -> Int64Array:
        mask = mask & assistant_rows
        sums = np.bincount(row_record[mask], weights=learned[mask], minlength=n_records)
        return np.rint(sums).astype(np.int64)

    main = per_record(~is_output)
    longest = np.zeros(n_records, dtype=np.int64)
    longest_assistant = np.zeros(n_records, dtype=np.int64)
    for name in OUTPUT_SECTIONS:
        in_section = in_sections((name,))
        section_tokens = per_record(in_section)
        longer = section_tokens > longest
        longest = np.where(longer, section_tokens, longest)
        longest_assistant = np.where(longer, assistant(in_section), longest_assistant)
    priming = np.where(record_legacy, 0, int(constants["reply_priming"]))
    record_tokens = tool_tokens + main + longest + priming
    record_assistant = assistant(~is_output) + longest_assistant

    # Where each row ends in its sequence: tool definitions, then the messages in order;
    # an ending section follows the main one.
    message_end = np.cumsum(tokens)  # the running total, then the end within its group
    group_id = np.cumsum(group_start)
    group_id -= 1
    before_group = message_end[group_start] - tokens[group_start]
    if n_rows:
        message_end -= before_group[group_id]
    del group_id
    message_end += tool_tokens[row_record]
    message_end[is_output] += main[row_record[is_output]]

    learned[~row_counted] = 0

    missing = ~record_counted
    frame = pd.DataFrame(
        {
            "tokens": _nullable(record_tokens, missing),
            "assistant_tokens": _nullable(record_assistant, missing),
            "tool_tokens": _nullable(tool_tokens, missing),
            "image_tokens": _nullable(record_images.astype(np.int64), missing),
        },
        index=records.index,
    )
    estimated = _estimated_images(column("images"), overhead_rows, records, row_record)
    return Counts(
        encoding_by_path=encoding_by_path,
        message_tokens=_nullable(tokens, ~row_counted),
        message_end=_nullable(message_end, ~row_counted),
        message_learned=learned,
        records=frame,
        estimated_images=estimated,
        image_prices=image_prices,
    )


def _text_tokens(
    dataset: Dataset, rows: BoolArray, memoised: _Memoised, column: Callable[[str], _Column]
) -> Int64Array:
    """Tokens of the selected rows' text (0 elsewhere), through the row memo ``tokens.text``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def some(missing: BoolArray) -> Int64Array:
        where = pa.array(np.flatnonzero(missing))
        encoded = pc.dictionary_encode(arrow_strings(dataset.messages["text"]).take(where))
        per_text = np.asarray(memoised.lengths(encoded.dictionary), dtype=np.int64)
        return per_text[encoded.indices.to_numpy(zero_copy_only=False)]  # type: ignore[no-any-return]

    def every(chosen: BoolArray) -> Int64Array:  # the whole column, factorised
        return column("text").tokens(chosen, memoised.lengths)

    return _row_tokens(dataset, "tokens.text", rows, memoised, every, some)


def _call_tokens(
    dataset: Dataset, rows: BoolArray, memoised: _Memoised, column: Callable[[str], _Column]
) -> Int64Array:
    """Tokens of the selected rows' tool calls (0 elsewhere), through the row memo
    ``tokens.calls``. Every tool call of a dataset is a distinct text (its id and arguments):
    without the memo, a re-run counted all of them again (9,964 on the 100k benchmark file,
    too few to read the text memo's store for), and so built tiktoken's encoder even when the
    edit's own texts were a few plain ones (dslint.tokens.plain)."""

    def count(chosen: BoolArray) -> Int64Array:
        return column("tool_calls").tokens(chosen, memoised.lengths)

    return _row_tokens(dataset, "tokens.calls", rows, memoised, count,
                       lambda missing: count(missing)[missing])  # fmt: skip


def _row_tokens(
    dataset: Dataset,
    namespace: str,
    rows: BoolArray,
    memoised: _Memoised,
    every: Callable[[BoolArray], Int64Array],
    some: Callable[[BoolArray], Int64Array],
) -> Int64Array:
    """Tokens of the selected rows (0 elsewhere) through a row memo (:mod:`dslint.rows`): a
    re-run takes the counts of the rows of unchanged lines from it and counts only the
    others. ``every(rows)`` counts the selected rows (a column, 0 elsewhere), ``some(mask)``
    the rows of a mask, in row order."""
    from dslint.rows import row_memo

    memo = row_memo(dataset, "messages", namespace, memoised.version)
    # A full column of counts (44 MB over the message rows of a million examples) is recalled
    # only from a memo that knows something: a first run, or one without a cache, makes none.
    counts: Int64Array
    known = None
    if memo.old is not None:
        counts, known = memo.recall()
    if known is None or not known.any():
        counts = every(rows)
    else:
        missing = rows & ~known
        if missing.any():
            counts[missing] = some(missing)
    if memo.keeps:
        memo.keep(np.where(rows, counts, -1))
    counts[~rows] = 0
    return counts


def _nullable(values: Int64Array, missing: BoolArray) -> pd.arrays.IntegerArray:
    # The arrays as they are where they have the types already (the counts are made here
    # and not changed after): a copy of each would be a full column more.
    return pd.arrays.IntegerArray(
        values.astype(np.int64, copy=False), missing.astype(bool, copy=False)
    )


def _image_tokens(column: _Column, rows: BoolArray, prices: images.ImagePrices) -> Int64Array:
    per_unique = np.array(
        [prices.tokens(details)[0] for details in column.uniques.to_pylist()], dtype=np.int64
    )
    result = np.zeros(len(column.codes), dtype=np.int64)
    valid = rows & (column.codes >= 0)
    if per_unique.size:
        result[valid] = per_unique[column.codes[valid]]
    return result


def _estimated_images(
    column: _Column, rows: BoolArray, records: pd.DataFrame, row_record: np.ndarray[Any, Any]
) -> dict[str, int]:
    if not len(column.uniques):
        return {}
    per_unique = np.array(
        [
            details.count(",") + 1 - details.split(",").count("low")
            for details in column.uniques.to_pylist()
        ],
        dtype=np.int64,
    )
    valid = rows & (column.codes >= 0)
    per_row = np.zeros(len(column.codes), dtype=np.int64)
    per_row[valid] = per_unique[column.codes[valid]]
    estimated = per_row > 0
    paths = records["path"].astype(object).to_numpy()[row_record[estimated]]
    found: dict[str, int] = {}
    for path, number in zip(paths, per_row[estimated], strict=True):
        found[str(path)] = found.get(str(path), 0) + int(number)
    return found


def _tool_lengths(
    texts: list[str], constants: Mapping[str, int], lengths: Callable[[list[str]], list[int]]
) -> list[int]:
    """Tokens of each JSON list of tool definitions; each distinct piece is counted once."""
    memo: dict[str, int] = {}

    def length(text: str) -> int:
        if text not in memo:
            memo[text] = lengths([text])[0]
        return memo[text]

    return [tooldefs.tool_tokens(text, constants, length) for text in texts]
