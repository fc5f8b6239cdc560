"""Content keys of each example: the whole example, its prompt and its answer.

A key is a 64-bit hash of the example's message pieces after normalising whitespace (runs
collapsed, ends trimmed) and Unicode (NFC), optionally lower-cased, together with each
piece's place, role, name, tool calls and weight, and the example's tool definitions. Two
examples with the same key train the model the same way, whatever their JSON spacing or key
order. Keys are computed column-wise over the messages frame, a chunk of rows at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dslint.dataset import Dataset
from dslint.formats import ACCEPTED
from dslint.rules.duplicates.hashing import (
    GOLDEN,
    U64,
    arrow,
    category_hashes,
    hash_column,
    hash_strings,
    mix,
)

CHUNK_ROWS = 50_000
# Formats whose examples end in an answer to a prompt (DPO inputs have several answers by
# design; reinforcement examples have none).
ANSWERED_FORMATS = ("chat", "legacy")
_ANSWER_SECTIONS = ("messages", "completion")


@dataclass(frozen=True)
class Keys:
    """Per-record and per-message-row summaries (0 means "nothing to compare")."""

    exact: U64  # per record: the whole example
    prompt: U64  # per record: everything before the last assistant turn (with the tools)
    answer: U64  # per record: the last assistant turn
    answer_row: npt.NDArray[np.int64]  # per record: messages row of the answer (-1: none)
    prompt_row: npt.NDArray[np.int64]  # per record: messages row ending the prompt (-1: none)
    text: U64  # per messages row: its normalised text alone


# Whitespace, Unicode's included. The pattern matches only what must change (a run of two or
# more, or a single character other than the space): replacing every single space by itself
# made the kernel several times slower.
_OTHER_SPACE = (
    r"\t\n\f\r\x0b\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
)
_WHITESPACE_TO_COLLAPSE = f"[ {_OTHER_SPACE}]{{2,}}|[{_OTHER_SPACE}]"


def normalise(texts: pa.ChunkedArray | pa.Array, casefold: bool) -> pa.Array:
    """NFC, whitespace runs collapsed to one space, ends trimmed, optionally lower-cased."""
    result = pc.utf8_normalize(pc.fill_null(texts, ""), "NFC")
    result = pc.replace_substring_regex(result, _WHITESPACE_TO_COLLAPSE, " ")
    result = pc.utf8_trim_whitespace(result)
    return pc.utf8_lower(result) if casefold else result


def keys(dataset: Dataset, casefold: bool = False) -> Keys:
    """The keys of every record, memoised in ``dataset.cache``."""
    cache_key = f"duplicates.keys.casefold={casefold}"
    cached = dataset.cache.get(cache_key)
    if cached is None:
        cached = dataset.cache[cache_key] = _compute(dataset, casefold)
    assert isinstance(cached, Keys)
    return cached


def content_order(dataset: Dataset) -> npt.NDArray[np.int64]:
    """The records in the order of their exact keys (equal keys, copies in two splits, in row
    order), memoised in ``dataset.cache``. Where which of several examples comes first must
    not depend on the order of the lines (LSH's large buckets, D003's representatives), the
    duplicate rules take them in this order."""
    cached = dataset.cache.get("duplicates.content_order")
    if cached is None:
        exact = keys(dataset).exact
        cached = dataset.cache["duplicates.content_order"] = np.argsort(exact, kind="stable")
    assert isinstance(cached, np.ndarray)
    return cached


def _compute(dataset: Dataset, casefold: bool) -> Keys:
    records, messages = dataset.records, dataset.messages
    count, rows = len(records), len(messages)
    record_of = messages["record"].to_numpy()  # int32: a view, not a copy
    sections = _Sections(messages)
    answered = records["format"].isin(ANSWERED_FORMATS).to_numpy(dtype=bool)
    last = _last_answers(messages, sections, record_of, answered, count)
    meta = _MetaHash(messages)

    # One pass over the rows, CHUNK_ROWS at a time: every per-row value is made and used
    # within its chunk. Whole-column temporaries (44 MB each at a million examples, a dozen
    # alive at once) made this the duplicate rules' memory peak.
    text_hash = np.zeros(rows, dtype=np.uint64)
    exact = np.zeros(count, dtype=np.uint64)
    prompt = np.zeros(count, dtype=np.uint64)
    answer = np.zeros(count, dtype=np.uint64)
    answer_row = np.full(count, np.iinfo(np.int64).max, dtype=np.int64)
    prompt_row = np.full(count, -1, dtype=np.int64)
    has_content = np.zeros(count, dtype=bool)
    substantive_text = np.zeros(rows, dtype=bool)
    remembered = _RowValues(dataset, casefold)
    run_start = 0  # first row of the example that the previous chunk ended in
    for start in range(0, rows, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, rows)
        owner = record_of[start:stop]
        text, substantive_text[start:stop] = remembered.chunk(
            lambda selected: arrow(messages["text"].iloc[selected]), start, stop
        )
        text_hash[start:stop] = text
        row_hash = mix(mix(meta.chunk(start, stop) + GOLDEN) ^ text)

        # A piece's place in its example (rows of one record are consecutive, in order).
        first_row = np.zeros(stop - start, dtype=np.int64)
        changes = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        first_row[changes] = changes + start
        if start and record_of[start] == record_of[start - 1]:
            first_row[0] = run_start
        first_row = np.maximum.accumulate(first_row)
        run_start = int(first_row[-1])
        ordinal = (np.arange(start, stop, dtype=np.int64) - first_row).view(np.uint64)
        placed = mix(ordinal * GOLDEN + row_hash)
        np.add.at(exact, owner, placed)

        # The prompt (every piece before the example's last answer) and the answer.
        order = sections.order(start, stop)
        last_of_row = last[owner]
        has_answer = last_of_row >= 0
        in_prompt = has_answer & (order < last_of_row)
        in_answer = has_answer & (order == last_of_row)
        row = np.arange(start, stop, dtype=np.int64)
        np.add.at(prompt, owner[in_prompt], placed[in_prompt])
        np.add.at(answer, owner[in_answer], placed[in_answer])
        np.minimum.at(answer_row, owner[in_answer], row[in_answer])
        np.maximum.at(prompt_row, owner[in_prompt], row[in_prompt])
        # A prompt with no text and no image at all (a broken example, reported by the
        # schema rules) is not "the same prompt" as another broken one.
        substantive = substantive_text[start:stop] | (meta.image_codes[start:stop] >= 0)
        has_content[owner[in_prompt & substantive]] = True
    answer_row[answer_row == np.iinfo(np.int64).max] = -1
    remembered.keep(text_hash, substantive_text)

    tools = hash_column(records["tools"])
    has_rows = np.zeros(count, dtype=bool)
    has_rows[record_of] = True
    formats = hash_column(records["format"])
    exact = mix(exact ^ mix(tools ^ formats))
    # Objects without message pieces (unknown formats) still compare by their raw content.
    raw = records["content_hash"].to_numpy(dtype=np.int64).view(np.uint64)
    is_object = records["is_object"].to_numpy(dtype=bool)
    exact = np.where(has_rows, exact, np.where(is_object, mix(raw), 0)).astype(np.uint64)
    exact[exact == 0] = np.uint64(1)
    exact[~is_object] = 0
    # Lines of a format the APIs reject (ShareGPT, Alpaca, unknown) get one file-level
    # finding (S020/S022); copies among them would only flood the report.
    exact[~records["format"].isin(ACCEPTED).to_numpy(dtype=bool)] = 0

    valid = (prompt_row >= 0) & (answer_row >= 0) & has_content
    prompt = np.where(valid, mix(prompt ^ mix(tools + GOLDEN)) | np.uint64(1), 0)
    answer = np.where(valid, mix(answer) | np.uint64(1), 0)
    return Keys(
        exact, prompt.astype(np.uint64), answer.astype(np.uint64), answer_row, prompt_row,
        text_hash,
    )  # fmt: skip


class _RowValues:
    """Each row's normalised-text hash and whether its text is more than whitespace, from
    the row memos (dslint.rows) for rows of unchanged lines: a re-run normalises and hashes
    only the rows of new and edited lines."""

    def __init__(self, dataset: Dataset, casefold: bool) -> None:
        from dslint.rows import row_memo

        version = f"casefold={casefold}"
        self.texts = row_memo(dataset, "messages", "duplicates.text", version)
        self.substantive = row_memo(dataset, "messages", "duplicates.substantive", version)
        self.casefold = casefold
        known = self.texts.previous >= 0
        texts, substantive = self.texts.old, self.substantive.old
        if texts is None or substantive is None or texts.dtype != np.uint64:
            known[:] = False
        self.known = known

    def chunk(
        self, texts: Callable[[Any], pa.Array], start: int, stop: int
    ) -> tuple[U64, npt.NDArray[np.bool_]]:
        """The hashes and flags of rows ``start:stop``; ``texts(selection)`` reads texts."""
        known = self.known[start:stop]
        hashes = np.zeros(stop - start, dtype=np.uint64)
        substantive = np.zeros(stop - start, dtype=bool)
        if known.any():
            previous = self.texts.previous[start:stop][known]
            hashes[known] = self.texts.old[previous]
            substantive[known] = self.substantive.old[previous]
        if not known.all():
            missing = slice(start, stop) if not known.any() else np.flatnonzero(~known) + start
            chunk = texts(missing)
            new_hashes = hash_strings(normalise(chunk, self.casefold))
            # Whitespace is found here too: a whole-column ``str.strip()`` would copy every
            # text at once.
            stripped = pc.utf8_length(pc.utf8_trim_whitespace(chunk))
            new_substantive = pc.fill_null(pc.greater(stripped, 0), False).to_numpy(
                zero_copy_only=False
            )
            hashes[~known] = new_hashes
            substantive[~known] = new_substantive
        return hashes, substantive

    def keep(self, hashes: U64, substantive: npt.NDArray[np.bool_]) -> None:
        self.texts.keep(hashes)
        self.substantive.keep(substantive)


class _MetaHash:
    """What besides the text makes two pieces different: section, role, name, calls, weight,
    and which images the message shows (the same question about two charts is two prompts).
    Hashed for any slice of rows; a category's values are hashed once."""

    COLUMNS = ("section", "role", "name", "tool_calls", "weight", "image_key")

    def __init__(self, messages: pd.DataFrame) -> None:
        self.messages = messages
        self.tables: dict[str, tuple[U64, npt.NDArray[np.integer]]] = {}
        for column in self.COLUMNS:
            values = messages[column]
            if isinstance(values.dtype, pd.CategoricalDtype):
                self.tables[column] = (category_hashes(values), values.cat.codes.to_numpy())
        self.image_codes = self.tables["image_key"][1]

    def chunk(self, start: int, stop: int) -> U64:
        meta = np.zeros(stop - start, dtype=np.uint64)
        for number, column in enumerate(self.COLUMNS):
            if column in self.tables:
                table, codes = self.tables[column]
                hashed = table[codes[start:stop]]  # code -1 (missing) picks the "" hash
            else:
                hashed = hash_column(self.messages[column].iloc[start:stop])
            meta ^= mix(hashed + np.uint64(number + 1))
        return meta


class _Sections:
    """Each row's turn order within its example, and whether it can hold an answer."""

    def __init__(self, messages: pd.DataFrame) -> None:
        section = messages["section"]
        self.message = messages["message"].to_numpy()
        # Legacy examples keep the prompt and the completion in two sections, both
        # "message 0": the completion comes after.
        self.completion = (section == "completion").to_numpy(dtype=bool)
        assistant = (messages["role"] == "assistant").to_numpy(dtype=bool, na_value=False)
        self.answers = assistant & section.isin(_ANSWER_SECTIONS).to_numpy(dtype=bool)

    def order(self, start: int, stop: int) -> npt.NDArray[np.int64]:
        order: npt.NDArray[np.int64] = self.message[start:stop].astype(np.int64)
        order += self.completion[start:stop].astype(np.int64) << 20
        return order


def _last_answers(
    messages: pd.DataFrame,
    sections: _Sections,
    record_of: npt.NDArray[np.integer[Any]],
    answered: npt.NDArray[np.bool_],
    count: int,
) -> npt.NDArray[np.int64]:
    """Per record, the turn order of its last assistant answer (-1: none)."""
    last = np.full(count, -1, dtype=np.int64)
    for start in range(0, len(messages), CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, len(messages))
        owner = record_of[start:stop]
        candidate = sections.answers[start:stop] & answered[owner]
        np.maximum.at(last, owner[candidate], sections.order(start, stop)[candidate])
    return last
