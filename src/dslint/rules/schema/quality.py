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


RULES = [EmptyContent]
