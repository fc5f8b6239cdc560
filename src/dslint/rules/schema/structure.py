"""Structure of examples and messages (S101-S111).

Most of these report what the structural schema (``rules/schemas/finetune.schema.json``)
finds, sorted by the rule code its nodes name; some add checks a schema cannot express.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from dslint import formats
from dslint.finding import Category, Hit, Severity
from dslint.loader import Record
from dslint.rule import RecordRule
from dslint.rules.schema._structure import iter_messages, problems
from dslint.textutil import excerpt


class StructureRule(RecordRule):
    """Base: reports the structural problems filed under this rule's code."""

    category = Category.SCHEMA
    severity = Severity.ERROR
    formats: ClassVar[frozenset[str] | None] = frozenset(formats.ACCEPTED)

    def check(self, record: Record) -> list[Hit]:
        # A list, not a generator: this runs for every record and most records are clean.
        found = problems(record)
        hits = [Hit(p.message, p.pointer) for p in found if p.code == self.code] if found else []
        if type(self).extra is not StructureRule.extra:
            hits.extend(self.extra(record))
        return hits

    def extra(self, record: Record) -> Iterator[Hit]:
        """Checks beyond the structural schema (relations, values); none by default."""
        return iter(())


class MissingMessages(StructureRule):
    """An example has no ``messages`` list, or an empty one.

    The API says "Example X is missing key 'messages'". For DPO the list is ``input.messages``.

    FAIL::

        {"messages": []}

    PASS::

        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}
    """

    code = "S101"
    name = "missing-messages"


class UnknownKey(StructureRule):
    """A key the format does not define, at the top level or in a message.

    The API rejects unknown keys in supervised and DPO data (RFT lines may carry any extra
    top-level keys for the grader). Typos such as ``"contents"`` or ``"tool_call"`` land here.

    FAIL::

        {"messages": [{"role": "user", "contents": "Hi"}, {"role": "assistant", "content": "Hello!"}]}
    """

    code = "S102"
    name = "unknown-key"


class InvalidRole(StructureRule):
    """A message has no role, or one the detected format does not allow.

    Supervised chat takes system, user, assistant, tool and function (deprecated); ``developer``
    is only for reinforcement fine-tuning, which has no ``system``.

    FAIL::

        {"messages": [{"role": "human", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}
    """

    code = "S103"
    name = "invalid-role"


class MissingContent(StructureRule):
    """A message lacks the content its role requires.

    system, user, tool and function messages need ``content``; an assistant message needs
    ``content`` unless it has ``tool_calls`` or ``function_call``.

    FAIL::

        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant"}]}

    PASS::

        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]}
    """

    code = "S104"
    name = "missing-content"

    def extra(self, record: Record) -> Iterator[Hit]:
        for ref in iter_messages(record):
            message = ref.message
            if ref.role != "assistant":
                continue
            if message.get("tool_calls") or message.get("function_call"):
                continue
            if message.get("content") is None:
                state = "null" if "content" in message else "missing"
                yield Hit(
                    f"{ref.label}: content is {state} and there are no tool_calls; "
                    "an assistant message needs one of them",
                    ref.pointer,
                )


class InvalidContent(StructureRule):
    """Content of the wrong type: not a string, an empty part list, or an unsupported part.

    Audio and file parts are not supported for fine-tuning; system and tool messages take
    text parts only.

    FAIL::

        {"messages": [{"role": "user", "content": 42}, {"role": "assistant", "content": "Hello!"}]}
    """

    code = "S105"
    name = "invalid-content"


class InvalidField(StructureRule):
    """Any other field of the wrong type or value (``name``, ``refusal``, ``parallel_tool_calls``...).

    FAIL::

        {"messages": [{"role": "user", "content": "Hi", "name": 7}, {"role": "assistant", "content": "Hello!"}]}
    """

    code = "S106"
    name = "invalid-field"


class InvalidWeight(StructureRule):
    """``weight`` is not the integer 0 or 1, or is not on an assistant message.

    ``weight`` says whether an assistant message is trained on. The API rejects it elsewhere
    ("Example 1 contains an extra 'weight'") and any value but 0 or 1 (``true`` and ``1.0``
    included).

    FAIL::

        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!", "weight": 0.5}]}

    PASS::

        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!", "weight": 1}]}
    """

    code = "S107"
    name = "invalid-weight"


class NoTrainableMessage(StructureRule):
    """A supervised example with no assistant message to train on.

    Training learns only from assistant messages (those without ``weight: 0``); an example
    without one costs tokens and teaches nothing.

    FAIL::

        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]}
    """

    code = "S108"
    name = "no-trainable-message"
    formats = frozenset({"chat"})

    def extra(self, record: Record) -> Iterator[Hit]:
        assistants = [ref for ref in iter_messages(record) if ref.role == "assistant"]
        messages = record.value.get("messages")
        if not isinstance(messages, list) or not messages:
            return  # S101 reports it
        if not assistants:
            yield Hit("the example has no assistant message, so nothing in it is trained on",
                      "/messages")  # fmt: skip
        elif all(ref.message.get("weight") == 0 for ref in assistants):
            yield Hit("every assistant message has weight 0, so nothing in it is trained on",
                      "/messages")  # fmt: skip


_IMAGE_URL = re.compile(r"^(https?://\S+|data:image/(jpeg|jpg|png|webp);base64,)", re.I)


class InvalidImage(StructureRule):
    """An image part is malformed, in the wrong place, or not a URL the API can fetch.

    Images go in user messages only, as ``{"type": "image_url", "image_url": {"url": ...}}``
    with an http(s) URL or a base64 ``data:image/jpeg|png|webp`` URI; ``detail`` is ``auto``,
    ``low`` or ``high``.

    FAIL::

        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "file:///tmp/cat.png"}}]}, {"role": "assistant", "content": "A cat."}]}
    """

    code = "S109"
    name = "invalid-image"
    triggers = ('"image_url"',)

    def extra(self, record: Record) -> Iterator[Hit]:
        for ref in iter_messages(record):
            content = ref.message.get("content")
            if not isinstance(content, list):
                continue
            for index, part in enumerate(content):
                if not isinstance(part, dict) or part.get("type") != "image_url":
                    continue
                pointer = f"{ref.pointer}/content/{index}"
                if ref.role == "assistant":
                    yield Hit(f"{ref.label}: images are not allowed in assistant messages", pointer)
                    continue
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, dict) else None
                if isinstance(url, str) and url and not _IMAGE_URL.match(url):
                    yield Hit(
                        f"{ref.label}: image URL '{excerpt(url, 40)}' is neither http(s) nor a "
                        "base64 data:image/jpeg, png or webp URI",
                        pointer + "/image_url/url",
                    )


@dataclass(frozen=True)
class TooManyImagesOptions:
    maximum: int = 10


class TooManyImages(StructureRule):
    """More images in one example than vision fine-tuning accepts (10 on OpenAI).

    Azure documents 64; set ``maximum`` for your provider.
    """

    code = "S110"
    name = "too-many-images"
    triggers = ('"image_url"',)
    options_type = TooManyImagesOptions

    def extra(self, record: Record) -> Iterator[Hit]:
        count = 0
        for ref in iter_messages(record):
            content = ref.message.get("content")
            if isinstance(content, list):
                count += sum(
                    1 for p in content if isinstance(p, dict) and p.get("type") == "image_url"
                )
        if count > self.options.maximum:
            yield Hit(
                f"the example has {count} images; at most {self.options.maximum} are accepted"
            )


# Special tokens of OpenAI's and common chat templates: the API refuses them inside content
# ("Example 6174 message contains an invalid token: <|fim_suffix|>").
_SPECIAL_TOKEN = re.compile(r"<\|[A-Za-z][A-Za-z0-9_]*\|>")


class SpecialToken(StructureRule):
    """Content contains a special token such as ``<|endoftext|>``, ``<|fim_suffix|>`` or ``<|im_start|>``.

    The API rejects the example ("message contains an invalid token"). These usually leak in
    from a chat template applied twice; remove them.

    FAIL::

        {"messages": [{"role": "user", "content": "Hi<|endoftext|>"}, {"role": "assistant", "content": "Hello!"}]}
    """

    code = "S111"
    name = "special-token"
    triggers = ("<|",)

    def extra(self, record: Record) -> Iterator[Hit]:
        if "<|" not in record.raw:
            return
        for pointer, text in content_strings(record):
            for match in _SPECIAL_TOKEN.finditer(text):
                yield Hit(
                    f"content contains the special token {match.group()!r}, which the API rejects",
                    pointer,
                    span=match.span(),
                    key=str(match.start()),
                )


def content_strings(record: Record) -> Iterator[tuple[str, str]]:
    """(pointer, text) of every content string of a record."""
    if record.format == "legacy":
        for key in ("prompt", "completion"):
            if isinstance(record.value.get(key), str):
                yield f"/{key}", record.value[key]
        return
    for ref in iter_messages(record):
        content: Any = ref.message.get("content")
        if isinstance(content, str):
            yield ref.pointer + "/content", content
        elif isinstance(content, list):
            for index, part in enumerate(content):
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    yield f"{ref.pointer}/content/{index}/text", part["text"]


RULES = [MissingMessages, UnknownKey, InvalidRole, MissingContent, InvalidContent, InvalidField,
         InvalidWeight, NoTrainableMessage, InvalidImage, TooManyImages, SpecialToken]  # fmt: skip
