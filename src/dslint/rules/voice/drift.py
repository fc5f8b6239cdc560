"""System prompt drift: the persona lives in the system prompt, so it should be one prompt.

Only distinct prompts are compared (a 100k-example dataset usually has a handful), so the
similarity work does not grow with the number of examples.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dslint.dataset import Dataset
from dslint.finding import Category, Hit, Severity
from dslint.fingerprint import text_digest
from dslint.rule import DatasetRule
from dslint.rules.voice._keys import PROMPTS
from dslint.textutil import excerpt


@dataclass(frozen=True)
class DriftOptions:
    #: A prompt at least this similar to the dominant one (but not equal) is a variant.
    similarity: float = 0.8
    #: The dominant prompt must be in at least this share of the examples that have one.
    dominant_share: float = 0.5
    #: Examples without a system prompt are reported when at least this share has one.
    missing_share: float = 0.8


@dataclass(frozen=True)
class SystemPrompts:
    frame: pd.DataFrame  # record, text, pointer of each example's first system message
    counts: pd.Series  # distinct prompt -> number of examples
    chat_records: np.ndarray  # records that have a message list


def system_prompts(dataset: Dataset) -> SystemPrompts:
    cached = dataset.cache.get(PROMPTS)
    if cached is None:
        messages = dataset.messages
        # Masks and positions, not filtered frames: a filtered copy of the messages frame
        # held all of its text again (1.2 GB at a million examples) for a moment, and the
        # system rows' copy 0.4 GB more.
        in_lists = messages["section"].isin(["messages", "input"]).to_numpy(dtype=bool)
        system = in_lists & messages["role"].isin(["system", "developer"]).to_numpy(dtype=bool)
        records = messages["record"].to_numpy()
        rows = np.flatnonzero(system)
        # Each record's first system row, in row order (as drop_duplicates keeps them).
        rows = rows[np.sort(np.unique(records[rows], return_index=True)[1])]
        first = messages[["record", "text", "pointer"]].iloc[rows].reset_index(drop=True)
        cached = SystemPrompts(
            frame=first,
            counts=first["text"].value_counts(),
            chat_records=np.unique(records[in_lists]),
        )
        dataset.cache[PROMPTS] = cached
    prompts: SystemPrompts = cached
    return prompts


def _first_difference(a: str, b: str) -> int:
    limit = min(len(a), len(b))
    for i in range(limit):
        if a[i] != b[i]:
            return i
    return limit


class SystemPromptVariant(DatasetRule):
    """An example's system prompt is a near-copy of the dataset's dominant one.

    A prompt that differs from the one most examples use by a few characters is usually an
    accidental edit (a typo fixed in some files only, a stray space, an old version) and
    teaches the model two personas. The finding points at the first character that differs
    and gives the similarity. The number of distinct system prompts is in the report notes.
    Options: ``similarity`` (0.8), ``dominant-share`` (0.5).
    """

    code = "V009"
    shares = (PROMPTS,)
    name = "system-prompt-variant"
    category = Category.VOICE
    severity = Severity.WARNING
    options_type = DriftOptions

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        prompts = system_prompts(dataset)
        if prompts.counts.empty:
            return
        distinct = len(prompts.counts)
        dominant, uses = str(prompts.counts.index[0]), int(prompts.counts.iloc[0])
        with_prompt = len(prompts.frame)
        if distinct > 1:  # one shared prompt is the normal case, not worth a note
            where = ", ".join(f.path for f in dataset.files if f.split == "train")
            self.context.notes.append(
                f"{where}: {distinct:,} distinct system prompts; the most used is in "
                f"{uses:,} of {with_prompt:,} examples that have one"
            )
        if distinct < 2 or uses / with_prompt < self.options.dominant_share:
            return
        variants: dict[str, float] = {}
        for text in prompts.counts.index[1:]:
            text = str(text)
            matcher = difflib.SequenceMatcher(None, dominant, text, autojunk=False)
            if matcher.real_quick_ratio() < self.options.similarity:
                continue
            if matcher.quick_ratio() < self.options.similarity:
                continue
            ratio = matcher.ratio()
            if ratio >= self.options.similarity:
                variants[text] = ratio
        if not variants:
            return
        frame = prompts.frame[prompts.frame["text"].isin(list(variants))]
        for record, text, pointer in frame.itertuples(index=False):
            position = _first_difference(dominant, text)
            end = min(len(text), position + 1) if position < len(text) else position
            yield Hit(
                f"system prompt is {variants[text]:.0%} like the one used by {uses:,} examples "
                f"but differs at character {position + 1} "
                f"(“{excerpt(text[position:position + 30], 30)}” instead of "
                f"“{excerpt(dominant[position:position + 30], 30)}”): use the same prompt",
                str(pointer), span=(position, end), record=int(record),
                key=_prompt_key(text),
            )  # fmt: skip


def _prompt_key(text: str) -> str:
    """The variant's key in the finding's fingerprint. A digest, not ``hash()``: Python's
    string hash changes with every process, and so did the fingerprint, which made a
    baselined V009 finding new again on the next run."""
    return text_digest(text, size=4)


class SystemPromptMissing(DatasetRule):
    """An example has no system prompt while most examples of the dataset do.

    Without it the model learns the persona's answers without the persona's instructions,
    and behaves differently when deployed with the prompt. Option: ``missing-share`` (0.8).
    """

    code = "V010"
    shares = (PROMPTS,)
    name = "system-prompt-missing"
    category = Category.VOICE
    severity = Severity.WARNING
    options_type = DriftOptions

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        prompts = system_prompts(dataset)
        total = len(prompts.chat_records)
        if total == 0 or prompts.counts.empty:
            return
        having = set(prompts.frame["record"].tolist())
        share = len(having) / total
        if share < self.options.missing_share or share >= 1:
            return
        for record in prompts.chat_records:
            if int(record) not in having:
                yield Hit(
                    f"no system prompt, but {share:.0%} of the examples have one: add it",
                    "/messages", record=int(record),
                )  # fmt: skip


RULES = [SystemPromptVariant, SystemPromptMissing]
