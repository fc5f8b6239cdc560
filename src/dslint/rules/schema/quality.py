"""Content that the API accepts but that weakens training (Q001-Q003)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from dslint import formats
from dslint.finding import Category, Hit, Severity
from dslint.fingerprint import text_digest
from dslint.loader import Record
from dslint.rule import DatasetRule, RecordRule
from dslint.rules.schema._structure import iter_messages

if TYPE_CHECKING:
    from dslint.dataset import Dataset

#: Roles whose content is a prompt that many examples usually share (Q003, not Q002).
PROMPT_ROLES = frozenset({"system", "developer"})
# Not legacy data: prompt/completion pairs start completions with a space on purpose (the old
# data-preparation tool added it, and those models were trained that way).
WHITESPACE_FORMATS = frozenset({"chat", "dpo", "rft"})


class EmptyContent(RecordRule):
    """A message's content is empty or only whitespace.

    An empty user turn or answer teaches the model to reply to nothing, or to say nothing. An
    assistant message that only calls tools may leave its content empty.

    FAIL::

        {"messages": [{"role": "user", "content": "  "}, {"role": "assistant", "content": "Hello!"}]}

    PASS::

        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]}
    """

    code = "Q001"
    name = "empty-content"
    category = Category.QUALITY
    severity = Severity.WARNING
    formats = frozenset(formats.ACCEPTED)

    def check(self, record: Record) -> Iterator[Hit]:
        if record.format == "legacy":
            for key in ("prompt", "completion"):
                text = record.value.get(key)
                if isinstance(text, str) and not text.strip():
                    yield Hit(f"'{key}' is empty", f"/{key}")
            return
        for ref in iter_messages(record):
            message = ref.message
            if message.get("tool_calls") or message.get("function_call"):
                continue
            content = message.get("content")
            if isinstance(content, str) and not content.strip():
                state = "empty" if not content else "only whitespace"
                yield Hit(f"{ref.label}: content is {state}", ref.pointer + "/content")
            elif isinstance(content, list):
                for index, part in enumerate(content):
                    text = part.get("text") if isinstance(part, dict) else None
                    if isinstance(text, str) and not text.strip():
                        yield Hit(f"{ref.label}: text part {index + 1} is empty",
                                  f"{ref.pointer}/content/{index}/text")  # fmt: skip


class SurroundingWhitespace(RecordRule):
    """Content starts or ends with whitespace (spaces, tabs, newlines).

    The model learns assistant replies character by character, so leading or trailing
    whitespace in an assistant message becomes a habit (and costs tokens). Reported as a
    warning on assistant messages and as info on user and tool messages; system and developer
    prompts are Q003's, once per prompt. ``dslint fix`` strips it.

    FAIL::

        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!\\n\\n"}]}

    PASS::

        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}
    """

    code = "Q002"
    name = "surrounding-whitespace"
    category = Category.QUALITY
    severity = Severity.WARNING
    formats = WHITESPACE_FORMATS

    def check(self, record: Record) -> Iterator[Hit]:
        from dslint.rules.schema.structure import content_strings

        roles: dict[str, str | None] | None = None  # made for the first padded text only
        for pointer, text in content_strings(record):
            if not _padded(text):
                continue  # empty content is Q001's
            if roles is None:
                roles = {ref.pointer: ref.role for ref in iter_messages(record)}
            role = roles.get(pointer.split("/content")[0])
            if role in PROMPT_ROLES:
                continue  # prompts are Q003's
            yield Hit(
                f"{_where(text)} whitespace around the {role or 'text'} content; strip it",
                pointer,
                span=_blank(text),
                severity=None if role == "assistant" else Severity.INFO,
            )


class PromptWhitespace(DatasetRule):
    """A system or developer prompt starts or ends with whitespace: once per prompt.

    The same prompt usually opens every example of a dataset, so a stray space or newline at
    its end would otherwise be reported once per example (100,000 findings for a templated
    file). It is reported at the first example that has it, with the number of examples that
    share it. ``dslint fix`` strips it in all of them.

    FAIL::

        {"messages": [{"role": "system", "content": "You are Acme's assistant.\n"}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}

    PASS::

        {"messages": [{"role": "system", "content": "You are Acme's assistant."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}
    """

    code = "Q003"
    name = "prompt-whitespace"
    category = Category.QUALITY
    severity = Severity.INFO

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        import numpy as np

        padded = _padded_prompts(dataset)
        if not padded:
            return
        messages = dataset.messages
        record_of = messages["record"].to_numpy()
        firsts = [int(rows[0]) for rows in padded.values()]
        # One lookup of the first rows' roles and pointers, not one per prompt.
        roles = messages["role"].iloc[firsts].astype(str).tolist()
        pointers = messages["pointer"].iloc[firsts].astype(str).tolist()
        for (text, rows), first, role, pointer in zip(
            padded.items(), firsts, roles, pointers, strict=True
        ):
            # Rows are in order, so an example's rows are consecutive among them.
            examples = 1 + int(np.count_nonzero(np.diff(record_of[rows]))) if len(rows) > 1 else 1
            shared = (
                f", in all {examples:,} examples that share this prompt (this is the first)"
                if examples > 1
                else ""
            )
            yield Hit(
                f"{_where(text)} whitespace around the {role} content{shared}; strip it",
                pointer,
                span=_blank(text),
                record=int(record_of[first]),
                group=text_digest(text),  # whichever example comes first: the same finding
            )


# Rows of the text column read at a time (a slice of the Arrow array is not a copy; only the
# prompts of the slice are copied out, then encoded to their distinct values).
_SLICE_ROWS = 262_144


def _padded_prompts(dataset: Dataset) -> dict[str, Any]:
    """Each distinct prompt text with surrounding whitespace -> its message rows, in order.

    Python's ``str.strip`` decides, as in Q002, on the distinct prompts only: a dataset's
    prompts are few, and its texts are never all turned into Python strings.
    """
    import numpy as np
    import pyarrow as pa

    from dslint.dataset import arrow_strings

    messages = dataset.messages
    if messages.empty:
        return {}
    accepted = dataset.records["format"].isin(list(WHITESPACE_FORMATS)).to_numpy(dtype=bool)
    record_of = messages["record"].to_numpy()
    is_prompt = messages["role"].isin(list(PROMPT_ROLES)).to_numpy(dtype=bool)
    is_prompt = is_prompt & accepted[record_of]
    if not is_prompt.any():
        return {}
    column = arrow_strings(messages["text"])
    found: dict[str, list[Any]] = {}
    for start in range(0, len(messages), _SLICE_ROWS):
        mask = is_prompt[start : start + _SLICE_ROWS]
        if not mask.any():
            continue
        picked = column.slice(start, len(mask)).filter(pa.array(mask))
        encoded = picked.dictionary_encode()
        values = encoded.dictionary.to_pylist()
        flagged = np.array([_padded(v) for v in values] + [False], dtype=bool)
        indices = encoded.indices.fill_null(len(values)).to_numpy(zero_copy_only=False)
        hit = flagged[indices]
        if not hit.any():
            continue
        # The flagged rows grouped by prompt with one stable sort (rows stay in order within
        # a prompt): a pass per prompt was quadratic when every example has its own prompt.
        codes, rows = indices[hit], (np.flatnonzero(mask) + start)[hit]
        order = np.argsort(codes, kind="stable")
        codes, rows = codes[order], rows[order]
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        for begin, end in zip(starts.tolist(), [*starts[1:].tolist(), len(codes)], strict=True):
            found.setdefault(values[codes[begin]], []).append(rows[begin:end])
    return {text: np.concatenate(parts) for text, parts in found.items()}


def _padded(text: str) -> bool:
    """Content with text and with whitespace around it (empty content is Q001's)."""
    stripped = text.strip()
    return bool(stripped) and stripped != text


def _blank(text: str) -> tuple[int, int]:
    """Where the reported whitespace is in the text: its leading run, or else its trailing
    one (so the finding's column is the whitespace itself, not the content's start)."""
    leading = len(text) - len(text.lstrip())
    if leading:
        return 0, leading
    return len(text.rstrip()), len(text)


def _where(text: str) -> str:
    if text != text.lstrip() and text != text.rstrip():
        return "leading and trailing"
    return "leading" if text != text.lstrip() else "trailing"


RULES = [EmptyContent, SurroundingWhitespace, PromptWhitespace]
