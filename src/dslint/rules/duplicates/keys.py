"""Content keys of each example: the whole example, its prompt and its answer.

A key is a 64-bit hash of the example's message pieces after normalising whitespace (runs
collapsed, ends trimmed) and Unicode (NFC), optionally lower-cased, together with each
piece's place, role, name, tool calls and weight, and the example's tool definitions. Two
examples with the same key train the model the same way, whatever their JSON spacing or key
order. Keys are computed column-wise over the messages frame, a chunk of rows at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dslint.dataset import Dataset
from dslint.formats import ACCEPTED
from dslint.rules.duplicates.hashing import GOLDEN, U64, arrow, hash_column, hash_strings, mix

CHUNK_ROWS = 200_000
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


def _compute(dataset: Dataset, casefold: bool) -> Keys:
    records, messages = dataset.records, dataset.messages
    count, rows = len(records), len(messages)
    record_of = messages["record"].to_numpy(dtype=np.int64)

    text_hash = np.zeros(rows, dtype=np.uint64)
    # Rows holding text other than whitespace, found in the same pass: a whole-column
    # ``str.strip()`` would copy every text at once (1.2 GB at a million examples).
    substantive = np.zeros(rows, dtype=bool)
    for start in range(0, rows, CHUNK_ROWS):
        chunk = arrow(messages["text"].iloc[start : start + CHUNK_ROWS])
        text_hash[start : start + CHUNK_ROWS] = hash_strings(normalise(chunk, casefold))
        stripped = pc.utf8_length(pc.utf8_trim_whitespace(chunk))
        substantive[start : start + CHUNK_ROWS] = pc.fill_null(
            pc.greater(stripped, 0), False
        ).to_numpy(zero_copy_only=False)
    # Per-row temporaries are released as soon as they are used: each is 44 MB at a million
    # examples, and this stage was the duplicate rules' memory peak.
    meta = _meta_hash(messages)
    meta += GOLDEN
    row_hash = mix(meta)
    del meta
    row_hash ^= text_hash
    row_hash = mix(row_hash)

    # A piece's place in its example (rows of one record are consecutive, in order).
    first_row = np.zeros(rows, dtype=np.int64)
    if rows:
        starts = np.flatnonzero(np.r_[True, record_of[1:] != record_of[:-1]])
        first_row[starts] = starts
        first_row = np.maximum.accumulate(first_row)
    ordinal = (np.arange(rows, dtype=np.int64) - first_row).view(np.uint64)
    del first_row
    ordinal *= GOLDEN
    ordinal += row_hash
    del row_hash
    placed = mix(ordinal)
    del ordinal

    tools = hash_strings(arrow(records["tools"]))
    exact = np.zeros(count, dtype=np.uint64)
    np.add.at(exact, record_of, placed)
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

    prompt, answer, answer_row, prompt_row = _prompt_and_answer(
        dataset, record_of, placed, tools, count, substantive
    )
    return Keys(exact, prompt, answer, answer_row, prompt_row, text_hash)


def _meta_hash(messages: pd.DataFrame) -> U64:
    """What besides the text makes two pieces different: section, role, name, calls, weight,
    and which images the message shows (the same question about two charts is two prompts)."""
    meta = np.zeros(len(messages), dtype=np.uint64)
    columns = ("section", "role", "name", "tool_calls", "weight", "image_key")
    for number, column in enumerate(columns):
        meta ^= mix(hash_column(messages[column]) + np.uint64(number + 1))
    return meta


def _prompt_and_answer(
    dataset: Dataset,
    record_of: npt.NDArray[np.int64],
    placed: U64,
    tools: U64,
    count: int,
    substantive: npt.NDArray[np.bool_],
) -> tuple[U64, U64, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    messages = dataset.messages
    # Boolean columns, not a Python string per row (0.3-0.8 GB each at a million examples).
    section = messages["section"]
    # Legacy examples keep the prompt and the completion in two sections, both "message 0".
    order = messages["message"].to_numpy(dtype=np.int64) + (
        (section == "completion").to_numpy(dtype=np.int64) << 20
    )
    answered = dataset.records["format"].isin(ANSWERED_FORMATS).to_numpy(dtype=bool)
    assistant = (messages["role"] == "assistant").to_numpy(dtype=bool, na_value=False)
    candidate = assistant & section.isin(_ANSWER_SECTIONS).to_numpy(dtype=bool)
    candidate &= answered[record_of]

    last = np.full(count, -1, dtype=np.int64)
    np.maximum.at(last, record_of[candidate], order[candidate])
    del candidate, assistant
    last_of_row = last[record_of]
    has_answer = last_of_row >= 0
    in_prompt = has_answer & (order < last_of_row)
    in_answer = has_answer & (order == last_of_row)
    del last_of_row, has_answer, order

    prompt = np.zeros(count, dtype=np.uint64)
    np.add.at(prompt, record_of[in_prompt], placed[in_prompt])
    answer = np.zeros(count, dtype=np.uint64)
    np.add.at(answer, record_of[in_answer], placed[in_answer])
    answer_row = np.full(count, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(answer_row, record_of[in_answer], np.flatnonzero(in_answer))
    answer_row[answer_row == np.iinfo(np.int64).max] = -1
    prompt_row = np.full(count, -1, dtype=np.int64)
    np.maximum.at(prompt_row, record_of[in_prompt], np.flatnonzero(in_prompt))

    # A prompt with no text and no image at all (a broken example, reported by the schema
    # rules) is not "the same prompt" as another broken one.
    substantive = substantive | messages["image_key"].notna().to_numpy(dtype=bool)
    has_content = np.zeros(count, dtype=bool)
    has_content[record_of[in_prompt & substantive]] = True
    valid = (prompt_row >= 0) & (answer_row >= 0) & has_content
    prompt = np.where(valid, mix(prompt ^ mix(tools + GOLDEN)) | np.uint64(1), 0)
    answer = np.where(valid, mix(answer) | np.uint64(1), 0)
    return prompt.astype(np.uint64), answer.astype(np.uint64), answer_row, prompt_row
