"""MinHash signatures of word n-grams and LSH banding, vectorised with NumPy and Arrow.

The pipeline, one chunk of examples at a time so memory stays bounded:

1. words: NFC, split on whitespace, lower-cased and with surrounding punctuation stripped
   (Arrow kernels over the whole chunk; the per-word work is done once per distinct word);
2. shingles: each run of ``ngram`` consecutive words of one example hashed to 64 bits
   (a polynomial over the words' hashes, then a finaliser), all examples at once;
3. signature: one-permutation MinHash (Li, Owen and Zhang, 2012): a shingle's hash picks one
   of ``num_perm`` bins with its high bits and competes for that bin's minimum with its low
   bits, so every shingle is hashed once instead of ``num_perm`` times. Bins left empty by
   short texts borrow from another bin chosen by a fixed hash sequence ("optimal
   densification", Shrivastava, 2017), which keeps the collision probability equal to the
   Jaccard similarity;
4. bands: the signature cut into ``bands`` x ``rows``; each band hashed to 64 bits.
   Examples that share a band hash are candidate pairs, later confirmed with the exact
   Jaccard similarity of their shingle sets.

docs/duplicates.md gives the measurements behind this choice (against datasketch).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from dslint.rules.duplicates.hashing import GOLDEN, U64, hash_strings, mix

I64 = npt.NDArray[np.int64]
_PUNCTUATION = "".join(chr(c) for c in range(0x21, 0x7F) if not chr(c).isalnum()) + "«»“”‘’„…–—¿¡"
_EMPTY = np.uint32(0xFFFFFFFF)
_DENSIFY_ATTEMPTS = 2048  # (1 - 1/128) ** 2048 < 1e-6: no bin stays empty


@dataclass(frozen=True)
class Shingles:
    """The shingle hashes of some examples, flat, grouped by example."""

    owner: I64  # per shingle: the example's position in the input order
    hashes: U64
    words: I64  # per example: its number of words


def shingles(texts: pa.Array, owner_of_text: I64, examples: int, ngram: int) -> Shingles:
    """Word ``ngram`` shingles of the texts; texts with the same owner form one example.

    ``owner_of_text`` must be non-decreasing (an example's texts are consecutive).
    """
    split = pc.utf8_split_whitespace(pc.utf8_normalize(pc.fill_null(texts, ""), "NFC"))
    lengths = pc.list_value_length(split).to_numpy(zero_copy_only=False).astype(np.int64)
    # Lower-case and strip the punctuation around each *distinct* token (a vocabulary is far
    # smaller than the text), then drop tokens that were only punctuation.
    encoded = pc.dictionary_encode(pc.list_flatten(split))
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    vocabulary = pc.utf8_trim(pc.utf8_lower(encoded.dictionary), _PUNCTUATION)
    vocabulary_hash = hash_strings(vocabulary)
    is_word = pc.not_equal(vocabulary, "").to_numpy(zero_copy_only=False)
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    word_owner = np.repeat(owner_of_text, lengths)
    keep = is_word[codes] if len(codes) else np.zeros(0, dtype=bool)
    word_hash = vocabulary_hash[codes[keep]]
    word_owner = word_owner[keep]
    counts = np.bincount(word_owner, minlength=examples).astype(np.int64)

    total = len(word_hash)
    if total < ngram:
        empty = np.zeros(0, dtype=np.uint64)
        return Shingles(np.zeros(0, dtype=np.int64), empty, counts)
    span = total - ngram + 1
    combined = np.zeros(span, dtype=np.uint64)
    for offset in range(ngram):
        combined *= GOLDEN
        combined += word_hash[offset : offset + span]
    # An n-gram counts only when its first and last words belong to the same example.
    valid = word_owner[:span] == word_owner[ngram - 1 :]
    return Shingles(word_owner[:span][valid], mix(combined[valid]), counts)


def signatures(found: Shingles, examples: int, num_perm: int) -> npt.NDArray[np.uint32]:
    """One-permutation MinHash with densification: ``examples`` x ``num_perm`` uint32."""
    signature = np.full(examples * num_perm, _EMPTY, dtype=np.uint32)
    bins = ((found.hashes >> np.uint64(32)) % np.uint64(num_perm)).astype(np.int64)
    values = (found.hashes & np.uint64(0xFFFFFFFE)).astype(np.uint32)
    np.minimum.at(signature, found.owner * num_perm + bins, values)
    table = signature.reshape(examples, num_perm)
    return _densify(table, num_perm)


def _densify(table: npt.NDArray[np.uint32], num_perm: int) -> npt.NDArray[np.uint32]:
    filled = table != _EMPTY
    # Examples without any shingle keep an empty signature (they are never candidates).
    usable = filled.any(axis=1)
    rows, columns = np.nonzero(~filled & usable[:, None])
    result: npt.NDArray[np.uint32] = table.copy()
    sequence = _probe_sequence(num_perm)
    for attempt in range(_DENSIFY_ATTEMPTS):
        if len(rows) == 0:
            break
        source = sequence[attempt, columns]
        found = filled[rows, source]
        result[rows[found], columns[found]] = table[rows[found], source[found]]
        rows, columns = rows[~found], columns[~found]
    return result


@cache
def _probe_sequence(num_perm: int) -> npt.NDArray[np.int64]:
    """For each empty bin, the fixed order in which other bins are tried (same everywhere)."""
    attempts = np.arange(_DENSIFY_ATTEMPTS, dtype=np.uint64)[:, None]
    bins = np.arange(num_perm, dtype=np.uint64)[None, :]
    probes: npt.NDArray[np.int64] = (
        (mix(attempts * np.uint64(num_perm) + bins + GOLDEN) % np.uint64(num_perm))
        .astype(np.int64)
        .reshape(_DENSIFY_ATTEMPTS, num_perm)
    )
    return probes


def band_hashes(signature: npt.NDArray[np.uint32], bands: int, rows: int) -> U64:
    """One 64-bit hash per band: ``examples`` x ``bands``."""
    examples = signature.shape[0]
    result = np.zeros((examples, bands), dtype=np.uint64)
    for band in range(bands):
        combined = np.full(examples, np.uint64(band + 1), dtype=np.uint64)
        for row in range(rows):
            combined = mix(combined * GOLDEN + signature[:, band * rows + row].astype(np.uint64))
        result[:, band] = combined
    return result


@cache
def optimal_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """The (bands, rows) that best separate pairs above and below the threshold.

    Minimises the weighted area of missed pairs above the threshold and of extra candidates
    below it under the LSH S-curve ``1 - (1 - s**rows)**bands``. Missing a duplicate costs
    far more than an extra candidate (every candidate is confirmed exactly), hence the
    weights: at 128 hashes and 0.8 this gives 16 bands of 8 rows, which finds a pair of
    similarity 0.8 with probability 0.95 and one of 0.5 with probability 0.06. Every choice
    is scored at once (a loop over them was 10 ms of a 0.5 s pre-commit run); of equal
    scores the first in (bands, rows) order wins.
    """
    pairs = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    bands = np.array([b for b, _ in pairs], dtype=np.float64)[:, None]
    rows = np.array([r for _, r in pairs], dtype=np.float64)[:, None]
    below = np.linspace(0.0, threshold, 200)
    above = np.linspace(threshold, 1.0, 200)
    false_positive = _area(1 - (1 - below**rows) ** bands, below)
    false_negative = _area((1 - above**rows) ** bands, above)
    error = 0.05 * false_positive + 0.95 * false_negative
    return pairs[int(np.argmin(error))]


def _area(values: npt.NDArray[np.float64], points: npt.NDArray[np.float64]) -> Any:
    """The trapezoid rule along the last axis (numpy renamed its own between versions)."""
    return np.sum((values[..., 1:] + values[..., :-1]) * np.diff(points), axis=-1) / 2


def candidate_pairs(bands: npt.NDArray[np.unsignedinteger], cap: int) -> Iterator[tuple[I64, I64]]:
    """Pairs of rows of ``bands`` that share a band hash, as (left, right) with left < right.
    Each bucket's members are taken in row order.

    Every member of a bucket is paired with the bucket's first member and with its
    predecessor, so a bucket of m examples costs O(m) pairs, not O(m²), and templated data
    cannot blow up; buckets of at most ``cap`` examples are paired exhaustively.
    """
    examples = bands.shape[0]
    if examples < 2:
        return
    for band in range(bands.shape[1]):
        order = np.argsort(bands[:, band], kind="stable")
        ordered = bands[order, band]
        same = ordered[1:] == ordered[:-1]
        if not same.any():
            continue
        starts = np.r_[True, ~same]
        start_of = np.maximum.accumulate(np.where(starts, np.arange(examples), 0))
        following = np.flatnonzero(same) + 1
        yield order[following - 1], order[following]
        star = following[start_of[following] != following - 1]
        yield order[start_of[star]], order[star]
        sizes = np.diff(np.r_[np.flatnonzero(starts), examples])
        for first, size in zip(np.flatnonzero(starts)[sizes > 2], sizes[sizes > 2], strict=True):
            if size <= cap:
                members = order[first : first + size]
                left, right = np.triu_indices(int(size), k=2)
                yield members[left], members[right]


def jaccard(left: U64, right: U64) -> float:
    """Exact Jaccard similarity of two sorted arrays of distinct shingle hashes."""
    if len(left) == 0 and len(right) == 0:
        return 1.0
    common = len(np.intersect1d(left, right, assume_unique=True))
    return common / (len(left) + len(right) - common)
