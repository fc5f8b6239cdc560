"""Near-duplicate pairs of the whole dataset: MinHash LSH candidates confirmed exactly.

The text of an example is every message piece (and tool call) except system prompts that
several examples share: a long shared system prompt would make unrelated examples look alike.
Exact copies are left to the exact-duplicate rules: only the first copy of each example in a
split (the training files of a dataset, or its validation files) takes part. Pairs with the
same prompt whose answers are nearly the same count here; the conflicting-answer rules leave
those out.

The result is computed once per set of parameters and memoised in ``dataset.cache``; rules
then group its pairs by their own scope (same file, same split, or across splits).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dslint.cache import dataset_memo
from dslint.dataset import Dataset
from dslint.memory import give_back
from dslint.rules.duplicates import minhash
from dslint.rules.duplicates.hashing import U64, arrow
from dslint.rules.duplicates.keys import content_order, keys
from dslint.rules.duplicates.scope import scope_codes

I64 = npt.NDArray[np.int64]
U32 = npt.NDArray[np.uint32]
Rows = npt.NDArray[np.integer[Any]]  # the frame's record numbers (int32)
# Examples whose shingles and signatures are made at a time. Each chunk's words, shingles and
# signature table are temporary; 5,000 instead of 20,000 lowered the duplicate benchmark's
# peak at 1M by 70 MiB and measured no slower (51.7 s against 51.4 s for the rules).
CHUNK_RECORDS = 5_000
# Examples with a text longer than this are left out of near-duplicate detection.
MAX_TEXT_CHARS = 1_000_000
# Rows whose text lengths are measured at a time (see _longer_than).
LENGTH_ROWS = 1_000_000
# Buckets up to this size are paired exhaustively; larger ones as a chain and a star.
BUCKET_CAP = 16


@dataclass(frozen=True)
class NearParameters:
    ngram: int = 5
    num_perm: int = 128
    threshold: float = 0.8
    min_words: int = 10

    def check(self) -> None:
        if self.ngram < 1 or self.num_perm < 2 or self.min_words < 0:
            raise ValueError("ngram >= 1, num-perm >= 2 and min-words >= 0 are required")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")


@dataclass
class NearPairs:
    """Confirmed pairs (``left < right``, record rows) with their exact Jaccard similarity."""

    parameters: NearParameters
    left: I64
    right: I64
    similarity: npt.NDArray[np.float64]
    # Message rows whose text counts (see _kept_rows), to make shingle sets again.
    kept_rows: npt.NDArray[np.bool_] = field(
        default_factory=lambda: np.zeros(0, dtype=bool), repr=False
    )

    def frame(self) -> pd.DataFrame:
        frame = pd.DataFrame({"left": self.left, "right": self.right})
        frame["similarity"] = self.similarity
        result: pd.DataFrame = frame
        return result

    def shingle_sets(self, dataset: Dataset, records: Iterable[int]) -> dict[int, U64]:
        """The shingle sets of some examples, made again from their text.

        Keeping the sets of every confirmed pair for the clusters' few comparisons outside
        the pairs took 0.2 GB at a million examples; making a few again costs one pass over
        the chunks that hold them.
        """
        wanted = np.unique(np.fromiter(records, dtype=np.int64))
        if not len(wanted) or not len(self.kept_rows):
            return {}
        record_of = dataset.messages["record"].to_numpy()
        sets: dict[int, U64] = {}
        for _, found in _shingle_chunks(
            dataset, record_of, self.kept_rows, wanted, self.parameters
        ):
            sets.update(found)
        return sets


def near_pairs(dataset: Dataset, parameters: NearParameters) -> NearPairs:
    """The confirmed near-duplicate pairs, memoised in ``dataset.cache``."""
    cache_key = f"duplicates.near.{parameters}"
    cached = dataset.cache.get(cache_key)
    if cached is None:
        cached = dataset.cache[cache_key] = _compute(dataset, parameters)
    assert isinstance(cached, NearPairs)
    return cached


def _compute(dataset: Dataset, parameters: NearParameters) -> NearPairs:
    records, messages = dataset.records, dataset.messages
    summary = keys(dataset)
    record_of = messages["record"].to_numpy()  # int32: a view, not a 44 MB copy at 1M
    eligible = _first_copies(records, summary.exact)
    kept_rows = _kept_rows(messages, summary.text, eligible, record_of)
    bands, rows = minhash.optimal_bands(parameters.threshold, parameters.num_perm)

    version = _memo_version(parameters)
    memo = dataset_memo("duplicates.minhash", version)
    # A re-run takes the summaries of unchanged examples from the row memos (dslint.rows):
    # only new and changed examples are joined, looked up in the text memo, or hashed.
    words, buckets, known = _remembered(dataset, record_of, kept_rows, bands, version)
    bits = dataset.cache["duplicates.kept_bits"]
    unknown = np.flatnonzero(~known)
    wanted = unknown if known.any() else None
    for first, texts, owner, count in _chunks(dataset, record_of, kept_rows, wanted):
        # Each example's word count and band hashes depend on its own texts only, so they
        # are remembered per example text; a re-run hashes only new and changed examples.
        local = unknown[np.searchsorted(unknown, first) : np.searchsorted(unknown, first + count)]
        examples = _example_texts(texts, owner, count)
        summaries = memo.map(
            [examples[i] for i in (local - first).tolist()],
            lambda missing: _summaries(missing, parameters, bands, rows),
            lambda value: _is_summary(value, bands),
        )
        words[local] = [int(n) for n, _ in summaries]
        band = np.frombuffer(
            bytes.fromhex("".join(str(hexed) for _, hexed in summaries)), dtype="<u8"
        ).astype(np.uint64).reshape(len(local), bands)  # fmt: skip
        buckets[local] = _bucket_keys(band)
    _keep(dataset, words, buckets, version)
    long_enough = words >= max(parameters.min_words, parameters.ngram)
    if not long_enough.any():
        return _empty(parameters)
    # A large bucket's members are paired as a star around its first member and a chain, in
    # the order they come in: content order (the examples' keys), so that which pairs are
    # candidates, and so the clusters, does not depend on the order of the lines.
    order = content_order(dataset)
    owner_of_band = order[long_enough[order]]
    all_bands = buckets[owner_of_band]
    del buckets
    give_back()

    left, right = _unique_pairs(all_bands, owner_of_band, len(records))
    del all_bands, owner_of_band  # not needed while the candidates' shingles are made
    # Exact copies (across files) belong to the exact-duplicate rules.
    differ = summary.exact[left] != summary.exact[right]
    left, right = left[differ], right[differ]
    if len(left) == 0:
        return _empty(parameters)

    similarity = _pair_similarity(dataset, record_of, kept_rows, bits, left, right, parameters,
                                  version)  # fmt: skip
    confirmed = similarity >= parameters.threshold
    give_back()
    return NearPairs(
        parameters, left[confirmed], right[confirmed], similarity[confirmed], kept_rows
    )


def _pair_keys(dataset: Dataset, bits: I64, left: I64, right: I64) -> list[str | None]:
    """A memo text per candidate pair naming what its similarity depends on: each example's
    content hash, format and which of its rows count (``bits``); None where an example has
    more rows than the bits tell apart (such a pair is always compared)."""
    records = dataset.records
    content = records["content_hash"].to_numpy()
    formats = records["format"].cat.codes.to_numpy()
    names = list(records["format"].cat.categories)
    keys: list[str | None] = []
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if bits[a] < 0 or bits[b] < 0:
            keys.append(None)
            continue
        keys.append(f"{content[a]}.{names[formats[a]]}.{bits[a]}/"
                    f"{content[b]}.{names[formats[b]]}.{bits[b]}")  # fmt: skip
    return keys


def _pair_similarity(
    dataset: Dataset,
    record_of: Rows,
    kept_rows: npt.NDArray[np.bool_],
    bits: I64,
    left: I64,
    right: I64,
    parameters: NearParameters,
    version: str,
) -> npt.NDArray[np.float64]:
    """The exact Jaccard similarity of each candidate pair (:func:`_confirm`), through the
    text memo ``duplicates.pairs``: a pair an earlier run compared (the same two examples'
    texts: the same content, format and counted rows) is not compared again.

    Most candidate pairs of a re-run after a small edit are pairs of unchanged examples;
    shingling both again for the exact Jaccard was a quarter of the duplicate rules' time on
    the re-run of the 100k benchmark file. The memo holds the two examples' content hashes
    (numbers, through the keyed memo hash) and the similarity, never text.
    """
    memo = dataset_memo("duplicates.pairs", version)
    keys = _pair_keys(dataset, bits, left, right) if memo.remembers else [None] * len(left)
    asked = [key for key in keys if key is not None]
    known = memo.lookup(asked, _is_similarity) if asked else {}  # none: the store is not read
    similarity = np.array([-1.0 if key is None else known.get(key, -1.0) for key in keys])
    unknown = np.flatnonzero(similarity < 0)
    if len(unknown):
        fresh = _confirm(dataset, record_of, kept_rows, left[unknown], right[unknown], parameters)
        similarity[unknown] = fresh
        memo.store({keys[position]: value
                    for position, value in zip(unknown.tolist(), fresh.tolist(), strict=True)
                    if keys[position] is not None})  # fmt: skip
    return similarity


def _is_similarity(value: object) -> bool:
    return type(value) is float and 0.0 <= value <= 1.0


def _confirm(
    dataset: Dataset,
    record_of: Rows,
    kept_rows: npt.NDArray[np.bool_],
    left: I64,
    right: I64,
    parameters: NearParameters,
) -> npt.NDArray[np.float64]:
    """The exact Jaccard similarity of each candidate pair (``left < right``).

    The shingle sets are made chunk by chunk in record order; a pair is compared once its
    right-hand example's set exists, and a set is dropped after its last pair. Holding every
    candidate's set at once took 0.3 GB at a million examples (the duplicate benchmark's peak).
    """
    similarity = np.zeros(len(left), dtype=np.float64)
    wanted = np.union1d(left, right)
    # The last pair (by its right-hand record) that needs each wanted example's set.
    needed_until = np.zeros(len(wanted), dtype=np.int64)
    np.maximum.at(needed_until, np.searchsorted(wanted, left), right)
    np.maximum.at(needed_until, np.searchsorted(wanted, right), right)
    release = np.argsort(needed_until, kind="stable")
    pair_order = np.argsort(right, kind="stable")
    done = released = 0
    sets: dict[int, U64] = {}
    for last, found in _shingle_chunks(dataset, record_of, kept_rows, wanted, parameters):
        sets.update(found)
        ready = int(np.searchsorted(right, last, sorter=pair_order))
        for pair in pair_order[done:ready].tolist():
            similarity[pair] = minhash.jaccard(sets[int(left[pair])], sets[int(right[pair])])
        done = ready
        gone = int(np.searchsorted(needed_until, last, sorter=release))
        for index in release[released:gone].tolist():
            sets.pop(int(wanted[index]), None)
        released = gone
    return similarity


#: Bump when what a memoised summary means changes (see _memo_version).
MEMO_VERSION = 1
# Joins an example's texts into one memo text. Whitespace, so the words (and n-grams) of the
# joined text are exactly those of its texts in order; a line feed composes with nothing
# under NFC, so normalising the joined text changes nothing across the joints.
_JOINT = "\n"
_HEX = re.compile("[0-9a-f]*")


def _memo_version(parameters: NearParameters) -> str:
    from dslint.cache import source_stamp

    bands, rows = minhash.optimal_bands(parameters.threshold, parameters.num_perm)
    modules = [f"dslint.rules.duplicates.{m}" for m in ("similar", "minhash", "hashing")]
    return (
        f"{MEMO_VERSION}/{parameters.ngram}/{parameters.num_perm}/{bands}x{rows}/"
        f"{source_stamp(modules)}"
    )


def _kept_bits(record_of: Rows, kept_rows: npt.NDArray[np.bool_], records: int) -> I64:
    """Which of each example's message rows count (a bit per row; -2 for an example with
    more than 62 rows, which is never taken from the row memo): an example's summary is
    that of the same rows' texts only if the same rows count (a system prompt may have
    become shared, or the example a copy)."""
    counts = np.bincount(record_of, minlength=records)
    first_row = np.cumsum(counts) - counts
    within = np.arange(len(record_of)) - first_row[record_of]
    per_row = np.where(kept_rows, np.left_shift(np.int64(1), np.minimum(within, 62)), 0)
    bits = np.zeros(records, dtype=np.int64)
    present = counts > 0
    if present.any():
        bits[present] = np.add.reduceat(per_row, first_row[present])  # distinct bits: an or
    bits[counts > 62] = -2
    return bits


def _remembered(
    dataset: Dataset, record_of: Rows, kept_rows: npt.NDArray[np.bool_], bands: int, version: str
) -> tuple[I64, U32, npt.NDArray[np.bool_]]:
    """Each example's word count and LSH buckets from the row memos, and which are known."""
    from dslint.rows import row_memo

    records = len(dataset.records)
    bits = _kept_bits(record_of, kept_rows, records)
    dataset.cache["duplicates.kept_bits"] = bits
    words_memo, bits_memo, buckets_memo = (
        row_memo(dataset, "records", f"duplicates.{name}", version)
        for name in ("words", "kept", "buckets")
    )
    words, known = words_memo.recall()
    old_bits, known_bits = bits_memo.recall(missing=-2)
    known &= known_bits & (old_bits == bits)
    buckets = np.zeros((records, bands), dtype=np.uint32)
    old_buckets = buckets_memo.old
    shaped = old_buckets is not None and old_buckets.ndim == 2 and old_buckets.dtype.kind in "iu"
    if not shaped or old_buckets.shape[1:] != (bands,):
        known[:] = False
    elif known.any():
        buckets[known] = old_buckets[buckets_memo.previous[known]]
    words[~known] = -1
    return words, buckets, known


def _keep(dataset: Dataset, words: I64, buckets: U32, version: str) -> None:
    from dslint.rows import row_memo

    bits = dataset.cache.pop("duplicates.kept_bits")
    for name, values in (("words", words), ("kept", bits), ("buckets", buckets)):
        row_memo(dataset, "records", f"duplicates.{name}", version).keep(values)


def _example_texts(texts: pa.Array, owner: I64, count: int) -> list[str]:
    """The text of each of ``count`` examples: its texts (grouped by ``owner``) joined."""
    values = texts.to_pylist()
    bounds = np.searchsorted(owner, np.arange(count + 1)).tolist()
    return [_JOINT.join(v or "" for v in values[bounds[i] : bounds[i + 1]]) for i in range(count)]


def _summaries(
    examples: list[str], parameters: NearParameters, bands: int, rows: int
) -> list[list[int | str]]:
    """[words, band hashes as little-endian hex] of each example text (numbers only)."""
    count = len(examples)
    owner = np.arange(count, dtype=np.int64)
    found = minhash.shingles(pa.array(examples, pa.string()), owner, count, parameters.ngram)
    signature = minhash.signatures(found, count, parameters.num_perm)
    band = minhash.band_hashes(signature, bands, rows).astype("<u8")
    return [[int(found.words[i]), band[i].tobytes().hex()] for i in range(count)]


def _is_summary(value: object, bands: int) -> bool:
    if not (isinstance(value, list) and len(value) == 2):
        return False
    words, hexed = value
    return (
        type(words) is int
        and words >= 0
        and isinstance(hexed, str)
        and len(hexed) == 16 * bands
        and _HEX.fullmatch(hexed) is not None
    )


def _empty(parameters: NearParameters) -> NearPairs:
    nothing = np.zeros(0, dtype=np.int64)
    return NearPairs(parameters, nothing, nothing.copy(), np.zeros(0, dtype=np.float64))


def _first_copies(records: pd.DataFrame, exact: U64) -> npt.NDArray[np.bool_]:
    """Objects that are the first copy of their content in their scope: the scope D001
    compares in (a split), so that its later copies, D001's findings, are left out whether
    they are in the same file or in another shard of a combined dataset (per file, a copy
    in the second shard joined the near-duplicates of the first copy's cluster)."""
    frame = pd.DataFrame({"scope": scope_codes(records), "exact": exact})
    first: npt.NDArray[np.bool_] = (~frame.duplicated(["scope", "exact"])).to_numpy() & (exact != 0)
    return first


def _kept_rows(
    messages: pd.DataFrame, text_hash: U64, eligible: npt.NDArray[np.bool_], record_of: Rows
) -> npt.NDArray[np.bool_]:
    """Message rows whose text counts: not a system prompt shared by several examples."""
    system = (messages["role"] == "system").to_numpy(dtype=bool, na_value=False)
    shared = np.zeros(len(messages), dtype=bool)
    if system.any():
        per_record = pd.DataFrame({"text": text_hash[system], "record": record_of[system]})
        examples = per_record.drop_duplicates().groupby("text")["record"].size()
        repeated = examples.index[examples.to_numpy() >= 2].to_numpy(dtype=np.uint64)
        shared[system] = np.isin(text_hash[system], repeated)
    # A single huge text (a pasted file, megabytes long) would need millions of shingles;
    # near-duplicate detection leaves such examples out (exact copies still count).
    huge = _longer_than(messages["text"], MAX_TEXT_CHARS)
    too_big = np.zeros(len(eligible), dtype=bool)
    too_big[record_of[huge]] = True
    kept: npt.NDArray[np.bool_] = ~shared & eligible[record_of] & ~too_big[record_of]
    return kept


def _longer_than(column: pd.Series, characters: int) -> npt.NDArray[np.bool_]:
    """Rows whose text is longer than ``characters``, a slice at a time in Arrow: pandas'
    ``str.len()`` made a nullable integer column and copied it (0.3 GB at a million examples)."""
    result = np.zeros(len(column), dtype=bool)
    for start in range(0, len(column), LENGTH_ROWS):
        lengths = pc.utf8_length(arrow(column.iloc[start : start + LENGTH_ROWS]))
        longer = pc.fill_null(pc.greater(lengths, characters), False)
        result[start : start + LENGTH_ROWS] = longer.to_numpy(zero_copy_only=False)
    return result


def _chunks(
    dataset: Dataset, record_of: Rows, kept_rows: npt.NDArray[np.bool_], only: I64 | None
) -> Iterator[tuple[int, pa.Array, I64, int]]:
    """(first record, texts, owner of each text relative to first, records) per chunk."""
    messages = dataset.messages
    total = len(dataset.records)
    for first in range(0, total, CHUNK_RECORDS):
        last = min(first + CHUNK_RECORDS, total)
        if only is not None and np.searchsorted(only, first) == np.searchsorted(only, last):
            continue  # none of the wanted examples (``only`` is sorted) is in this chunk
        start, stop = np.searchsorted(record_of, [first, last])
        selected = np.flatnonzero(kept_rows[start:stop]) + start
        if only is not None:
            selected = selected[np.isin(record_of[selected], only)]
        text = arrow(messages["text"].iloc[selected])
        calls = arrow(messages["tool_calls"].iloc[selected])
        texts = pc.binary_join_element_wise(
            text, calls, " ", null_handling="replace", null_replacement=""
        )
        texts = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
        yield first, texts, (record_of[selected] - first).astype(np.int64), last - first


def _bucket_keys(bands: U64) -> U32:
    """The LSH bucket of each band hash: 32 of its bits (it is a mixed hash, every bit as
    good as another). Two unrelated examples share a bucket of a band with probability
    2**-32: at a million examples some 120 chance pairs per band, each then rejected by the
    exact Jaccard. Half the memory of the bands (61 MB at a million examples), which are
    held whole while the candidates are paired."""
    keys: U32 = (bands ^ (bands >> np.uint64(32))).astype(np.uint32)
    return keys


def _unique_pairs(bands: U32, owner: I64, total: int) -> tuple[I64, I64]:
    lefts, rights = [], []
    for left, right in minhash.candidate_pairs(bands, BUCKET_CAP):
        lefts.append(owner[left])
        rights.append(owner[right])
    if not lefts:
        nothing = np.zeros(0, dtype=np.int64)
        return nothing, nothing.copy()
    first, second = np.concatenate(lefts), np.concatenate(rights)
    del lefts, rights
    # The lower row on the left (the bands' rows are in content order, not row order), one
    # number per pair; in place where it can be: millions of candidates at a million examples.
    low = np.minimum(first, second)
    np.maximum(first, second, out=second)
    del first
    low *= total
    low += second
    del second
    encoded = np.unique(low)
    return encoded // total, encoded % total


def _shingle_chunks(
    dataset: Dataset,
    record_of: Rows,
    kept_rows: npt.NDArray[np.bool_],
    wanted: I64,
    parameters: NearParameters,
) -> Iterator[tuple[int, dict[int, U64]]]:
    """(end of the chunk's records, {record: its sorted distinct shingle hashes}) for the
    chunks that hold some of the ``wanted`` (sorted) records, in record order."""
    for first, texts, owner, count in _chunks(dataset, record_of, kept_rows, wanted):
        sets: dict[int, U64] = {}
        if len(texts):
            found = minhash.shingles(texts, owner, count, parameters.ngram)
            order = np.lexsort((found.hashes, found.owner))
            hashes, owners = found.hashes[order], found.owner[order]
            distinct = np.r_[True, (hashes[1:] != hashes[:-1]) | (owners[1:] != owners[:-1])]
            hashes, owners = hashes[distinct], owners[distinct]
            bounds = np.searchsorted(owners, np.arange(count + 1))
            for local in np.unique(owners).tolist():
                # A copy, not a view: a view would keep the whole chunk's hashes alive.
                sets[first + local] = hashes[bounds[local] : bounds[local + 1]].copy()
        yield first + count, sets
