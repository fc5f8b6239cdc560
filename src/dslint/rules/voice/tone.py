"""Tone outliers with no configuration: replies whose style is far from the dataset's own.

Each checked reply gets a few style features, computed column-wise. For each feature the
dataset's median and MAD (median absolute deviation) give a robust z-score,
``0.6745 * (x - median) / MAD``, which a handful of outliers cannot drag the way a mean and
standard deviation would. A reply is reported when a feature's |z| passes the threshold
*and* the difference is large in absolute terms (``floor``), so that a dataset whose replies
all look alike (MAD near zero) stays quiet instead of flagging tiny differences.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dslint.dataset import Dataset
from dslint.finding import Category, Hit, Severity
from dslint.rule import DatasetRule
from dslint.rules.voice._keys import COMPLETED, COUNTS, PROFILE, ROWS, TONE
from dslint.rules.voice._shared import checked_rows, profile_for, text_hit
from dslint.rules.voice._stats import exact_count
from dslint.rules.voice._text import count_by_block, remembered_count, row_text
from dslint.rules.voice.limits import counts

FIRST_SINGULAR = r"(?i)\b(?:I|me|my|mine|myself)\b|\bI'(?:m|ve|ll|d)\b"
FIRST_PLURAL = r"(?i)\b(?:we|us|our|ours|ourselves)\b|\bwe'(?:re|ve|ll|d)\b"
CONTRACTION = r"(?i)\b\w+(?:n't|'re|'ve|'ll|'m|'d)\b"
MARKDOWN = r"(?m)^\s*(?:#{1,6}\s|[-*+]\s|\d+[.)]\s|```|>\s)|\*\*|__|`"


@dataclass(frozen=True)
class Feature:
    label: str
    unit: str
    floor: float  # smallest absolute difference worth reporting


FEATURES = {
    "length": Feature("length", "words (log)", np.log(3.0)),
    "sentence": Feature("sentence length", "words per sentence", 8.0),
    "exclamation": Feature("exclamation rate", "per sentence", 0.5),
    "question": Feature("question rate", "per sentence", 0.5),
    "emoji": Feature("emoji", "per 100 words", 2.0),
    "capitals": Feature("capital letters", "share of letters", 0.15),
    "first_singular": Feature("first person singular", "per 100 words", 3.0),
    "first_plural": Feature("first person plural", "per 100 words", 3.0),
    "contractions": Feature("contractions", "per 100 words", 3.0),
    "markdown": Feature("markdown", "marks per 100 words", 5.0),
    "grade": Feature("reading grade", "grade", 5.0),
}


@dataclass(frozen=True)
class ToneOptions:
    threshold: float = 4.0  # robust z-score beyond which a feature is an outlier
    min_messages: int = 30  # below this the dataset's distribution means little
    min_words: int = 5  # very short replies are not scored
    # An outlier is rare by definition: when more scored replies than this share stand out,
    # the dataset's tone varies too widely for "far from the rest" to mean much, and one
    # summary finding replaces a finding per reply (a corpus of mixed tasks flagged 31%).
    max_share: float = 0.05


def style_features(dataset: Dataset, rows: pd.DataFrame, key: str) -> pd.DataFrame:
    """The style feature matrix of the checked rows (memoised)."""
    cache_key = TONE + key
    cached = dataset.cache.get(cache_key)
    if cached is not None:
        frame: pd.DataFrame = cached
        return frame
    text = row_text(rows)
    base = counts(dataset, rows, key)
    plain = base["plain"].to_numpy() > 0
    words = base["words"].to_numpy(dtype=float)
    per_words = 100.0 / np.maximum(words, 1.0)
    sentences = np.maximum(base["sentences"].to_numpy(dtype=float), 1.0)
    letters = np.maximum(base["letters"].to_numpy(dtype=float), 1.0)
    syllables = base["syllables"].to_numpy(dtype=float)

    def rate(pattern: str, literal: str | None = None) -> Any:
        """Matches of ``pattern`` per 100 words; ``literal``, when given, is in every match
        (a cheap byte test narrows the regex count to the rows that hold it)."""

        def count(selected: Any) -> Any:
            def in_block(chosen: pd.Series, rows: Any) -> Any:
                candidates = _contains(chosen, literal) if literal is not None else None
                return exact_count(chosen, pattern, plain[rows], candidates)

            return count_by_block(text, selected, in_block)

        found = remembered_count(dataset, rows, "voice.tone", pattern, count)
        return found.astype(float) * per_words

    frame = pd.DataFrame(
        {
            "length": np.log1p(words),
            "sentence": words / sentences,
            "exclamation": base["exclamations"].to_numpy(dtype=float) / sentences,
            "question": base["questions"].to_numpy(dtype=float) / sentences,
            "emoji": base["emoji"].to_numpy(dtype=float) * per_words,
            "capitals": base["capitals"].to_numpy(dtype=float) / letters,
            "first_singular": rate(FIRST_SINGULAR),
            "first_plural": rate(FIRST_PLURAL),
            "contractions": rate(CONTRACTION, "'"),
            "markdown": rate(MARKDOWN),
            # Flesch-Kincaid with vowel groups as syllables: rough, but the same for all rows.
            "grade": 0.39 * words / sentences + 11.8 * syllables / np.maximum(words, 1) - 15.59,
        },
        copy=False,  # the columns as made, not copied into one block (190 MB at 1M replies)
    )
    dataset.cache[cache_key] = frame
    return frame


def _contains(text: pd.Series, literal: str) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    column = pa.array(text.array, type=pa.large_string())
    return np.asarray(pc.match_substring(column, literal).to_numpy(zero_copy_only=False))


def _robust_outliers(
    columns: list[Any], eligible: Any, threshold: float, floors: list[float]
) -> tuple[Any, Any, Any]:
    """(median, spread, outlier) of each feature over the eligible rows: ``outlier[row,
    feature]`` where the robust z-score reaches ``threshold`` and the difference its floor.

    One feature at a time: the whole matrix at once made half a dozen temporary copies of
    it (differences, z-scores, their absolute values), some 0.6 GB at a million replies.
    """
    median = np.zeros(len(columns))
    spread = np.zeros(len(columns))
    outlier = np.zeros((len(eligible), len(columns)), dtype=bool)
    if not eligible.any():
        return median, spread, outlier
    for index, column in enumerate(columns):
        scored = column[eligible]
        middle = np.median(scored)
        deviation = np.abs(scored - middle)
        mad = np.median(deviation)
        # A feature where over half the replies share one value has MAD 0; fall back to the
        # mean absolute deviation so a rare departure can still be measured. (Summed in
        # order, as a mean over the rows of the whole matrix adds them: the same figure.)
        fallback = np.cumsum(deviation)[-1] / len(deviation) * 1.2533
        median[index] = middle
        spread[index] = mad / 0.6745 if mad > 0 else fallback
        distance = np.abs(column - middle)  # |d| / s is |d / s| exactly for s > 0
        if spread[index] > 0:
            far = distance / spread[index] >= threshold
        else:  # no spread: every z-score is 0
            far = np.full(len(column), threshold <= 0)
        outlier[:, index] = far & (distance >= floors[index]) & eligible
    return median, spread, outlier


class ToneOutlier(DatasetRule):
    """A reply's style is far from the rest of the dataset (no configuration needed).

    Features per reply: length, sentence length, exclamation and question rate, emoji,
    capital letters, first person singular and plural, contractions, markdown and reading
    grade. The message names the features that deviate, the reply's value, the dataset's
    median and the robust z-score. When more than ``max-share`` (5%) of the scored replies
    stand out, the dataset's tone varies too widely for outliers to mean much: one finding on
    the file says so and names the features involved, instead of one per reply. Options:
    ``threshold`` (4.0), ``min-messages`` (30), ``min-words`` (5), ``max-share`` (0.05).
    """

    code = "V011"
    shares = (PROFILE, ROWS, COUNTS, COMPLETED, TONE)
    name = "tone-outlier"
    category = Category.VOICE
    severity = Severity.INFO
    options_type = ToneOptions

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        profile = profile_for(self, dataset)
        rows = checked_rows(self, dataset)
        if len(rows) < self.options.min_messages:
            return
        features = style_features(dataset, rows, ",".join(profile.roles or ()))
        eligible = counts(dataset, rows, ",".join(profile.roles or ()))["words"].to_numpy()
        eligible = eligible >= self.options.min_words
        if eligible.sum() < self.options.min_messages:
            return
        names = list(features.columns)
        columns = [features[name].to_numpy(dtype=float) for name in names]
        median, spread, outlier = _robust_outliers(columns, eligible, self.options.threshold,
                                                   [FEATURES[name].floor for name in names])  # fmt: skip
        flagged = np.flatnonzero(outlier.any(axis=1))
        scored_count = int(eligible.sum())
        if len(flagged) > self.options.max_share * scored_count:
            yield self._too_varied(dataset, rows, outlier, names, len(flagged), scored_count)
            return
        # The flagged rows as Python numbers at once: numpy's scalars, one row and feature at
        # a time, took half as long again (0.155 s against 0.10 s for 21,000 flagged rows).
        shown_values = np.column_stack([column[flagged] for column in columns])
        with np.errstate(divide="ignore", invalid="ignore"):
            z_flagged = np.where(spread > 0, (shown_values - median) / spread, 0.0)
        middles = median.copy()
        if "length" in names:  # kept as log1p(words); shown in words
            length = names.index("length")
            shown_values[:, length] = np.expm1(shown_values[:, length])
            middles[length] = np.expm1(middles[length])
        shown_rows, z_rows = shown_values.tolist(), z_flagged.tolist()
        middle_of = middles.tolist()
        described = [(FEATURES[name].label, "words" if name == "length" else FEATURES[name].unit)
                     for name in names]  # fmt: skip
        rows_marked = zip(flagged.tolist(), outlier[flagged].tolist(), shown_rows, z_rows,
                          strict=True)  # fmt: skip
        for row, marks, shown, z_row in rows_marked:
            # The three strongest departures (a stable sort: ties keep the features' order).
            strongest = sorted((c for c, marked in enumerate(marks) if marked),
                               key=lambda c: -abs(z_row[c]))[:3]  # fmt: skip
            parts = [f"{described[c][0]} {shown[c]:.1f} vs median {middle_of[c]:.1f} "
                     f"{described[c][1]} (z={z_row[c]:+.1f})" for c in strongest]  # fmt: skip
            yield text_hit(rows, row,
                           "tone differs from the rest of the dataset: " + "; ".join(parts))  # fmt: skip

    def _too_varied(
        self,
        dataset: Dataset,
        rows: pd.DataFrame,
        outlier: Any,
        names: list[str],
        flagged: int,
        scored: int,
    ) -> Hit:
        """One finding for a dataset whose replies vary too much to single any out."""
        per_feature = outlier.sum(axis=0)
        top = [FEATURES[names[i]].label for i in np.argsort(-per_feature)[:3] if per_feature[i]]
        # On the training file holding most of the flagged replies (the dataset may span a
        # training and a validation file).
        records = rows["record"].to_numpy()[np.flatnonzero(outlier.any(axis=1))]
        paths = dataset.records["path"].to_numpy()[records]
        values, counted = np.unique(paths.astype(str), return_counts=True)
        return Hit(
            f"tone varies too widely across replies to single any out: {flagged:,} of "
            f"{scored:,} replies ({flagged / scored:.0%}) are beyond z={self.options.threshold:g} "
            f"on at least one feature (most often {', '.join(top)}); per-reply findings are "
            f"listed when at most {self.options.max_share:.0%} stand out (option 'max-share')",
            path=str(values[np.argmax(counted)]),
        )


RULES = [ToneOutlier]
