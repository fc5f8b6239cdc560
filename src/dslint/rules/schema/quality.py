"""Content that the API accepts but that weakens training (Q001)."""

from __future__ import annotations

from collections.abc import Iterator

from dslint import formats
from dslint.finding import Category, Hit, Severity
from dslint.loader import Record
from dslint.rule import RecordRule
from dslint.rules.schema._structure import iter_messages


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
    warning on assistant messages and as info elsewhere. ``dslint fix`` strips it.

    FAIL::

        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!\\n\\n"}]}

    PASS::

        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}
    """

    code = "Q002"
    name = "surrounding-whitespace"
    category = Category.QUALITY
    severity = Severity.WARNING
    # Not legacy data: prompt/completion pairs start completions with a space on purpose
    # (the old data-preparation tool added it, and those models were trained that way).
    formats = frozenset({"chat", "dpo", "rft"})

    def check(self, record: Record) -> Iterator[Hit]:
        from dslint.rules.schema.structure import content_strings

        roles = {ref.pointer: ref.role for ref in iter_messages(record)}
        for pointer, text in content_strings(record):
            if not text.strip() or text == text.strip():
                continue  # empty content is Q001's
            message_pointer = pointer.split("/content")[0]
            role = roles.get(message_pointer)
            where = "leading and trailing" if text != text.lstrip() and text != text.rstrip() else (
                "leading" if text != text.lstrip() else "trailing")  # fmt: skip
            yield Hit(
                f"{where} whitespace around the {role or 'text'} content; strip it",
                pointer,
                severity=None if role == "assistant" else Severity.INFO,
            )


RULES = [EmptyContent, SurroundingWhitespace]
