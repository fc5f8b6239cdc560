"""Language consistency: replies in another language than the dataset is meant to teach.

Detection is offline with py3langid (its model ships inside the wheel; imported only when
this rule runs). Short texts and texts the model is unsure about (mixed languages, code,
names) are left alone: a wrong "this is Tagalog" finding costs more than a missed one.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from dslint.dataset import Dataset
from dslint.finding import Category, Hit, Severity
from dslint.rule import DatasetRule
from dslint.rules.voice._keys import LANGUAGE, PROFILE, ROWS
from dslint.rules.voice._langid import classify_many, load_identifier
from dslint.rules.voice._shared import checked_rows, text_hit, voice_settings
from dslint.rules.voice._stats import (
    LETTER,
    arrow_column,
    letter_counts,
    on_both_cores,
    python_values,
)
from dslint.rules.voice._text import blocks, columns_by_block, row_text

# How much of a message the detector reads: enough for a confident answer, and it keeps
# the cost per message flat on long replies.
SAMPLE_CHARS = 400
_CODE = r"```.*?(?:```|$)|`[^`\n]*`|https?://\S+"


@dataclass(frozen=True)
class LanguageOptions:
    min_letters: int = 40  # fewer letters than this: too short to tell
    min_confidence: float = 0.95  # normalised probability of the detected language
    dominant_share: float = (
        0.6  # without a configured language, the dominant one must hold this share
    )


SAMPLE_MESSAGES = 2000
_TOKEN = re.compile(r"[^\W\d_]{2,}")


@dataclass(frozen=True)
class _Vocabulary:
    """The sample's dominant language, its vocabulary pattern and the share of a message's
    words from it at which the message is that language."""

    language: str
    pattern: str
    threshold: float


Classify = Callable[[Sequence[str]], list[tuple[str, float]]]


def _classifier(model: Future[Any]) -> Classify:
    """``classify_many`` through the run's text memo (``.dslint_cache/``): a re-run after an
    edit classifies only the prose it has not seen (0.6 s of a 100k-example re-run before),
    and waits for the model only then."""
    from dslint.cache import dataset_memo

    memo = dataset_memo("voice.language", _memo_version())

    def compute(texts: list[str]) -> list[list[Any]]:
        return [
            [language, float(score)] for language, score in classify_many(model.result(), texts)
        ]

    def classify(texts: Sequence[str]) -> list[tuple[str, float]]:
        return [(language, score) for language, score in memo.map(texts, compute, _is_result)]

    return classify


def _is_result(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and type(value[1]) in (int, float)
    )


@cache
def _memo_version() -> str:
    """What a classification depends on besides the prose: the model and the code."""
    from dslint.cache import source_stamp
    from dslint.installed import library_version

    library = library_version("py3langid")
    return f"1/{library}/{source_stamp(['dslint.rules.voice._langid'])}"


def _vocabulary(
    text: pd.Series, words_in: Any, sample: Any, languages: Any, confidence: Any, classify: Classify
) -> _Vocabulary | None:
    """Classify the sample (:func:`_sample`), and learn from it how to settle the clear cases of a
    large dataset without the detector (None when the sample is sure of nothing).

    The 100 most frequent words of the sample's dominant language form its vocabulary; a
    message whose words are mostly from it (at least as much as 95% of the sample's messages
    in that language) is that language. Only the other messages go through the detector,
    which keeps a 100k-example dataset affordable without guessing: a message in another
    language shares few of those words.
    """
    prose = _prose(text.iloc[sample])
    sampled = python_values(prose, np.arange(len(sample)))
    results = classify(sampled)
    for row, (language, score) in zip(sample, results, strict=False):
        languages[row], confidence[row] = language, score
    sure = [
        (position, language, sure_text)
        for position, (sure_text, (language, score)) in enumerate(
            zip(sampled, results, strict=True)
        )
        if score >= 0.95
    ]
    if not sure:
        return None
    dominant = Counter(language for _, language, _ in sure).most_common(1)[0][0]
    words: Counter[str] = Counter()
    for _, language, sure_text in sure:
        if language == dominant:
            words.update(w.lower() for w in _TOKEN.findall(sure_text))
    # Sorted: the same words make the same pattern (the row memo's version, see _detect).
    # The order of the alternatives changes no count: each is a whole word of letters
    # between two word boundaries, so at most one of them matches at any position.
    # Equal counts are ranked by the word (most_common would keep the order words came in).
    vocabulary = sorted(w for w, _ in sorted(words.items(), key=lambda wn: (-wn[1], wn[0]))[:100])
    pattern = r"(?i)\b(?:" + "|".join(re.escape(w) for w in vocabulary) + r")\b"
    share = _count(prose, pattern) / np.maximum(words_in[sample].astype(float), 1.0)
    in_dominant = [position for position, language, _ in sure if language == dominant]
    return _Vocabulary(dominant, pattern, max(0.2, float(np.quantile(share[in_dominant], 0.05))))


def _count(prose: pd.Series, pattern: str) -> Any:
    """``prose.str.count(pattern)`` (Python's ``re``) for the vocabulary pattern: RE2 counts
    the ASCII rows, where ``\\b`` means the same in both engines, on both cores (see
    :func:`on_both_cores`); Python's ``re`` counts the others. One non-ASCII reply (a curly
    quote, an accent) used to send the whole column to Python: 4.9 s instead of 0.3 s for
    56,000 replies."""
    import pyarrow.compute as pc

    column = arrow_column(prose)
    is_ascii = pc.fill_null(pc.string_is_ascii(column), True).to_numpy(zero_copy_only=False)
    if is_ascii.all():
        counted = on_both_cores(pc.count_substring_regex, column, pattern)
        return counted.to_numpy(zero_copy_only=False).astype(np.int64)
    result = np.zeros(len(column), dtype=np.int64)
    if is_ascii.any():
        counted = on_both_cores(pc.count_substring_regex, column.filter(is_ascii), pattern)
        result[is_ascii] = counted.to_numpy(zero_copy_only=False)
    others = np.flatnonzero(~is_ascii)
    result[others] = _python_count(column.take(others), pattern)
    return result


def _python_count(column: Any, pattern: str) -> Any:
    """Python's ``re`` count of the pattern in each string of an Arrow column (no nulls)."""
    compiled = re.compile(pattern)
    return np.array([len(compiled.findall(v)) for v in column.to_pylist()], dtype=np.int64)


_LOADING = threading.Lock()


def identifier() -> Any:
    """The language model (loaded once; a second caller waits for the first load)."""
    with _LOADING:
        return _load_identifier()


@cache
def _load_identifier() -> Any:
    return load_identifier()


identifier.cache_clear = _load_identifier.cache_clear  # type: ignore[attr-defined]


def detect(
    dataset: Dataset, rows: pd.DataFrame, key: str, options: LanguageOptions
) -> pd.DataFrame:
    """Language and confidence per row ("" when too short to tell); memoised."""
    cache_key = f"{LANGUAGE}{key}.{options.min_letters}"
    cached = dataset.cache.get(cache_key)
    if cached is not None:
        frame: pd.DataFrame = cached
        return frame
    # The model loads (on a first run mostly LZMA decompression, which releases the GIL)
    # while the column is prepared.
    with ThreadPoolExecutor(max_workers=1) as pool:
        model = pool.submit(identifier)
        frame = _detect(dataset, rows, options, model)
    dataset.cache[cache_key] = frame
    return frame


def _prose(text: pd.Series) -> pd.Series:
    """``text.str.replace(_CODE, " ", regex=True).str.slice(0, SAMPLE_CHARS)``, cheaply.

    Only rows holding a backtick or "http" can match ``_CODE``, so only those go through
    Python's ``re`` (pandas uses it too, because of ``\\S``); the column is cut to
    SAMPLE_CHARS first and those rows replaced in the cut column, so no full-length copy of
    the column and no Python string per row is made (each was about 1 GB at a million
    examples).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    column = arrow_column(text)
    maybe = pc.or_(pc.match_substring(column, "`"), pc.match_substring(column, "http"))
    mask = maybe.to_numpy(zero_copy_only=False)
    positions = np.flatnonzero(mask)
    cut = pc.utf8_slice_codeunits(column, 0, SAMPLE_CHARS)
    if len(positions):
        code = re.compile(_CODE)
        values = python_values(text, positions)
        replaced = pa.array([code.sub(" ", v) for v in values], type=pa.large_string())
        cut = pc.replace_with_mask(
            cut, pa.array(mask), pc.utf8_slice_codeunits(replaced, 0, SAMPLE_CHARS)
        )
    prose: pd.Series = pd.Series(pd.arrays.ArrowStringArray(cut), index=text.index)
    return prose


def _detect(
    dataset: Dataset, rows: pd.DataFrame, options: LanguageOptions, model: Future[Any]
) -> pd.DataFrame:
    """Language and confidence per row: letters and words first (which rows can be told, and
    the sample), then the vocabulary, then the detector on the rows still open. The prose is
    read a block of rows at a time; the per-row counts go through the row memos (a re-run
    reads the prose of new and edited rows only, and of those the detector must read)."""
    text = row_text(rows)
    counted = _row_counts(dataset, rows, ("letters", "words"), "", _letters_and_words)
    letters, words = counted["letters"], counted["words"]
    languages = np.full(len(rows), "", dtype=object)
    confidence = np.zeros(len(rows))
    candidates = np.flatnonzero(letters >= options.min_letters)
    classify = _classifier(model)
    if len(candidates) > SAMPLE_MESSAGES:
        picked = _sample(dataset, rows, candidates)
        sample = candidates[picked]
        vocabulary = _vocabulary(text, words, sample, languages, confidence, classify)
        # The others, by position (setdiff1d sorted both arrays again: 0.1 s at 100k).
        candidates = np.delete(candidates, picked)
        if vocabulary is not None:  # the clear cases, settled by the sample's vocabulary
            pattern = vocabulary.pattern
            in_vocabulary = _row_counts(
                dataset, rows, ("n",), pattern, lambda prose: {"n": _count(prose, pattern)}
            )["n"]
            share = in_vocabulary[candidates] / np.maximum(words[candidates].astype(float), 1.0)
            clear = candidates[share >= vocabulary.threshold]
            languages[clear], confidence[clear] = vocabulary.language, 1.0
            candidates = candidates[share < vocabulary.threshold]
    memo: dict[str, tuple[str, float]] = {}  # distinct prose -> result, across blocks
    # By blocks (_text.blocks): the 400-character prose of a whole column was the largest
    # copy of a check at a million examples (0.8 GB); a block's is a tenth of that.
    for block in blocks(len(candidates)):
        mine = candidates[block]
        values = python_values(_prose(text.iloc[mine]), np.arange(len(mine)))
        distinct = [v for v in dict.fromkeys(values) if v not in memo]
        memo.update(zip(distinct, classify(distinct), strict=True))
        for row, value in zip(mine, values, strict=True):
            languages[row], confidence[row] = memo[value]
    frame: pd.DataFrame = pd.DataFrame({"language": languages, "confidence": confidence})
    return frame


def _sample(dataset: Dataset, rows: pd.DataFrame, candidates: Any) -> Any:
    """SAMPLE_MESSAGES of the candidates (their indices), chosen and ordered by what their
    lines hold, not by where the lines are: a pseudo-random hash of each row's line content
    and pointer. A sample picked by position (evenly spread) was a new sample whenever a
    line was inserted, deleted or moved, so its vocabulary changed and the row memo of the
    vocabulary counts (versioned by its pattern) was useless: a re-run after moving one
    block of lines of a 40 MB file took 9 s instead of 2. Now only edited sample lines
    change the sample. Rows of identical lines have equal keys: which of them are taken is
    decided by the same arrays in every run, and they are ordered by position."""
    records = rows["record"].to_numpy()
    content = dataset.records["content_hash"].to_numpy(dtype=np.int64).view(np.uint64)
    pointers = rows["pointer"]
    pointer_hash = pd.util.hash_array(np.asarray(pointers.cat.categories, dtype=object))
    row_hash = (
        content[records[candidates]] ^ pointer_hash[pointers.cat.codes.to_numpy()[candidates]]
    )
    key = pd.util.hash_array(row_hash)  # spread the xor of two hashes again
    picked = np.argpartition(key, SAMPLE_MESSAGES - 1)[:SAMPLE_MESSAGES]
    ordered: Any = picked[np.lexsort((picked, key[picked]))]
    return ordered


def _letters_and_words(prose: pd.Series) -> dict[str, Any]:
    letters, words = letter_counts(prose)
    return {"letters": letters, "words": words}


def _row_counts(
    dataset: Dataset,
    rows: pd.DataFrame,
    columns: Sequence[str],
    version: str,
    count: Callable[[pd.Series], dict[str, Any]],
) -> dict[str, Any]:
    """Per-row counts of the rows' prose, ``count(prose)`` a block of rows at a time; through
    the row memos (namespace ``voice.language``) when the rows are the checked rows."""
    from dslint.rows import remembered
    from dslint.rules.voice._text import row_positions

    text = row_text(rows)

    def compute(selected: Any) -> dict[str, Any]:
        return columns_by_block(text, selected, columns, lambda block: count(_prose(block)))

    positions = row_positions(dataset, rows)
    if positions is None:
        return compute(slice(None))
    return remembered(dataset, "messages", "voice.language", version, columns, positions, compute)


class LanguageMismatch(DatasetRule):
    """A reply is written in another language than the dataset's.

    With ``[tool.dslint.voice] language = "pt"`` every checked reply confidently detected as
    another language is reported; without it, the dominant language of each role is the
    reference (when it holds at least ``dominant-share`` of the confident detections).
    Replies with fewer than ``min-letters`` letters, or detected with less than
    ``min-confidence``, are skipped. Code blocks and URLs are ignored. A reply longer than
    400 characters is reported only when its end is in the same language as its start, so a
    reply that quotes the sentence it was asked to translate and then explains is not. Like
    every voice rule, it leaves the non-preferred answer of DPO lines alone.
    """

    code = "V012"
    shares = (PROFILE, ROWS, LANGUAGE)
    name = "language-mismatch"
    category = Category.VOICE
    severity = Severity.WARNING
    options_type = LanguageOptions

    def warm_up(self) -> None:
        # Loading the model takes about 0.1 s from its unpacked copy (dslint.derived) and
        # 0.4-0.8 s the first time (LZMA): a large share of a small file's run, unless it
        # happens while the file is read.
        identifier()

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        settings = voice_settings(self)
        rows = checked_rows(self, dataset)
        if rows.empty:
            return
        detected = detect(dataset, rows, ",".join(settings.roles), self.options)
        confident = (detected["confidence"] >= self.options.min_confidence).to_numpy()
        roles = rows["role"].to_numpy()
        for role in pd.unique(roles):
            mine = confident & (roles == role)
            languages = detected["language"].to_numpy()[mine]
            if not len(languages):
                continue
            expected = settings.language
            source = "configured"
            if expected is None:
                tally = Counter(languages.tolist())
                expected, count = tally.most_common(1)[0]
                if count / len(languages) < self.options.dominant_share:
                    continue
                source = f"{count / len(languages):.0%} of the {role} messages"
            mismatched = np.flatnonzero(mine & (detected["language"].to_numpy() != expected))
            mismatched = self._whole_reply(rows, detected, mismatched)
            for row in (int(r) for r in mismatched):
                found = detected["language"].iat[row]
                yield text_hit(rows, int(row),
                               f"{role} message is in '{found}' "
                               f"({detected['confidence'].iat[row]:.0%} sure), "
                               f"but the dataset's language is '{expected}' ({source})")  # fmt: skip

    def _whole_reply(self, rows: pd.DataFrame, detected: pd.DataFrame, mismatched: Any) -> Any:
        """The mismatched rows whose end is in the same language as their start.

        Detection reads a reply's first SAMPLE_CHARS characters. A reply that starts by
        quoting the sentence it was asked to translate or check ("The Swedish sentence is:
        ...") and then explains in the dataset's language is not written in another
        language; its last SAMPLE_CHARS characters tell. Replies no longer than the sample
        were read whole; only the few mismatches are read again, so this costs nothing on
        a consistent dataset.
        """
        code = re.compile(_CODE)
        texts = [code.sub(" ", text) for text in row_text(rows).iloc[mismatched].tolist()]
        readable = [i for i, text in enumerate(texts) if len(text) > SAMPLE_CHARS
                    and len(LETTER.findall(text[-SAMPLE_CHARS:])) >= self.options.min_letters]  # fmt: skip
        keep = np.ones(len(mismatched), dtype=bool)
        found = classify_many(identifier(), [texts[i][-SAMPLE_CHARS:] for i in readable])
        for i, (language, score) in zip(readable, found, strict=True):
            start = detected["language"].iat[int(mismatched[i])]
            keep[i] = language == start and score >= self.options.min_confidence
        return mismatched[keep]


RULES = [LanguageMismatch]
