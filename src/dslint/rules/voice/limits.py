"""Per-message limits of a voice profile: counts, readability, required elements.

Counts are computed column-wise (on the UTF-8 bytes of the checked rows, see ``_stats``),
once per run, and shared through ``dataset.cache['voice.features']`` with the tone-outlier
rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from dslint.dataset import Dataset
from dslint.finding import Category, Hit, Severity
from dslint.readability import GRADE_METRICS, TextStatistics
from dslint.rule import DatasetRule
from dslint.rules.voice._keys import COMPLETED, COUNTS, PROFILE, ROWS
from dslint.rules.voice._shared import checked_rows, profile_for, text_hit
from dslint.rules.voice._stats import message_counts, sparse_count
from dslint.rules.voice._text import count_by_block, remembered_count, row_text

# Emoji and pictographs (the main Unicode blocks), plus regional-indicator flags.
EMOJI = (
    "[\U0001f300-\U0001faff\U00002600-\U000027bf\U0001f000-\U0001f2ff"
    "\U0001f1e6-\U0001f1ff\U00002b50\U00002b55\U0000231a-\U0000231b\U000023e9-\U000023fa]"
)

METRIC_NAMES = {
    "flesch-kincaid": "Flesch-Kincaid",
    "coleman-liau": "Coleman-Liau",
    "automated-readability": "Automated Readability",
}


def grade_column(table: pd.DataFrame, metric_name: str) -> Any:
    """A reading grade per row from :func:`counts`, with the same statistics as
    :func:`dslint.readability.text_statistics` (syllables approximated by vowel groups):
    words ``[A-Za-z0-9'’]+``, sentences ``[.!?]+(?:\\s|$)``, letters ``[A-Za-z0-9]``."""
    words = np.maximum(table["tokens"].to_numpy(dtype=float), 1.0)
    sentences = np.maximum(table["sentences"].to_numpy(dtype=float), 1.0)
    letters = table["alnum"].to_numpy(dtype=float)
    syllables = np.maximum(table["syllables"].to_numpy(dtype=float), words)
    statistics = TextStatistics(words, sentences, syllables, 0, letters, 0, 0)  # type: ignore[arg-type]
    return GRADE_METRICS[metric_name](statistics)


def counts(dataset: Dataset, rows: pd.DataFrame, key: str) -> pd.DataFrame:
    """Per-row counts shared by V004, V005 and V011 (memoised in ``dataset.cache``).

    ``exclamations``, ``questions``, ``emoji`` (``EMOJI``), ``words`` (``\\S+``) and
    ``sentence_words`` (words of the longest sentence), plus the statistics of
    :func:`dslint.rules.voice._stats.byte_counts`. All were ``str.count`` calls (and a
    Python loop for the longest sentence); they are now read from the UTF-8 bytes, with the
    same values (tests/test_voice_stats.py compares them with the old definitions).
    """
    cache_key = COMPLETED + key
    cached = dataset.cache.get(cache_key)
    if cached is None:
        # A new frame over the same columns (no copy of them): only a column is added.
        cached = message_counts(dataset, rows, key).copy(deep=False)
        # Emoji are never ASCII: only rows with a non-ASCII character are counted.
        non_ascii = cached["non_ascii"].to_numpy() > 0
        text = row_text(rows)

        def emoji(selected: Any) -> Any:
            # Only the non-ASCII rows' text is read: the others hold no emoji.
            mask = non_ascii[selected]
            rows_with = np.arange(len(text))[selected][mask]
            result = np.zeros(len(mask), dtype=np.int64)
            result[mask] = count_by_block(text, rows_with,
                                          lambda block, _: sparse_count(block, EMOJI))  # fmt: skip
            return result

        cached["emoji"] = remembered_count(dataset, rows, "voice.emoji", EMOJI, emoji)
        dataset.cache[cache_key] = cached
    frame: pd.DataFrame = cached
    return frame


LIMITS = {
    # profile key: (column, is a maximum, what is counted)
    "max-exclamations": ("exclamations", True, "exclamation marks"),
    "max-emoji": ("emoji", True, "emoji"),
    "max-questions": ("questions", True, "questions"),
    "max-sentence-words": ("sentence_words", True, "words in its longest sentence"),
    "max-message-words": ("words", True, "words"),
    "min-message-words": ("words", False, "words"),
}


class MessageLimit(DatasetRule):
    """A reply exceeds a per-message limit of the voice profile.

    ``[limits]`` takes ``max-exclamations``, ``max-emoji``, ``max-questions``,
    ``max-sentence-words``, ``max-message-words`` and ``min-message-words``. The message
    says which limit, the value found and the limit.
    """

    code = "V004"
    shares = (PROFILE, ROWS, COUNTS, COMPLETED)
    name = "message-limit"
    category = Category.VOICE
    severity = Severity.WARNING

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        profile = profile_for(self, dataset)
        if not profile.limits:
            return
        rows = checked_rows(self, dataset)
        table = counts(dataset, rows, ",".join(profile.roles or ()))
        for key, limit in profile.limits.items():
            column, is_max, what = LIMITS[key]
            values = table[column].to_numpy()
            bad = np.flatnonzero(values > limit if is_max else values < limit)
            for row in bad:
                bound = "at most" if is_max else "at least"
                yield text_hit(rows, int(row),
                               f"{values[row]} {what}; the voice allows {bound} {limit} "
                               f"(profile '{profile.name}' [limits] {key})", key=key)  # fmt: skip


class Readability(DatasetRule):
    """A reply's reading grade is outside the profile's bounds.

    ``[readability] metric = "flesch-kincaid"`` (or ``coleman-liau``,
    ``automated-readability``), ``min-grade``, ``max-grade``; replies shorter than
    ``min-words`` (default 30) are not graded, since the formulas are noise on short text.
    """

    code = "V005"
    shares = (PROFILE, ROWS, COUNTS, COMPLETED)
    name = "readability"
    category = Category.VOICE
    severity = Severity.INFO

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        profile = profile_for(self, dataset)
        bounds = profile.readability
        if "min-grade" not in bounds and "max-grade" not in bounds:
            return
        rows = checked_rows(self, dataset)
        metric_name = METRIC_NAMES[bounds.get("metric", "flesch-kincaid")]
        table = counts(dataset, rows, ",".join(profile.roles or ()))
        grades = grade_column(table, metric_name)
        low, high = bounds.get("min-grade"), bounds.get("max-grade")
        long_enough = table["words"].to_numpy() >= bounds.get("min-words", 30)
        outside = np.zeros(len(rows), dtype=bool)
        if high is not None:
            outside |= grades > high
        if low is not None:
            outside |= grades < low
        for row in np.flatnonzero(outside & long_enough):
            yield text_hit(rows, int(row),
                           f"{metric_name} grade {grades[row]:.1f} is outside {low}-{high} "
                           f"(profile '{profile.name}' [readability])")  # fmt: skip


class MissingElement(DatasetRule):
    """A reply lacks an element the voice profile requires (a sign-off, a disclaimer).

    Each ``[[required]]`` table has a ``name``, a regular expression ``pattern`` that must
    be found in every checked reply, and an optional ``message``.
    """

    code = "V008"
    shares = (PROFILE, ROWS)
    name = "missing-element"
    category = Category.VOICE
    severity = Severity.WARNING

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        profile = profile_for(self, dataset)
        if not profile.required:
            return
        rows = checked_rows(self, dataset)
        texts = row_text(rows).tolist()
        for required in profile.required:
            search = required.pattern.search
            found = np.fromiter((search(t) is not None for t in texts),
                                dtype=bool, count=len(rows))  # fmt: skip
            for row in np.flatnonzero(~found):
                hint = f": {required.message}" if required.message else ""
                yield text_hit(rows, int(row),
                               f"missing required {required.name}{hint} "
                               f"(profile '{profile.name}' [[required]])", key=required.name)  # fmt: skip


RULES = [MessageLimit, Readability, MissingElement]
