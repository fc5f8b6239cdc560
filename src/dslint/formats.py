"""Recognise which training format a record (and a file) is written in.

Formats the APIs accept: ``chat`` (supervised; tools, legacy functions and image parts are
part of it), ``dpo`` (preference), ``rft`` (reinforcement) and ``legacy`` (prompt/completion).
Look-alikes from other trainers that the APIs reject: ``sharegpt`` (ShareGPT / LLaMA-Factory
``conversations``) and ``alpaca`` (``instruction``/``output``). Anything else is ``unknown``.

Chat and RFT lines look alike (both have ``messages``). A record is RFT on its own only with
a ``developer`` message or with grader keys and no assistant reply; otherwise a whole file's
majority decides, and so does a target model that only takes RFT.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from dslint.locate import join_pointer

ACCEPTED = ("chat", "dpo", "rft", "legacy")
LOOKALIKES = ("sharegpt", "alpaca")
DETECTED = (*ACCEPTED, *LOOKALIKES, "unknown")  # what detect_record may say

CHAT_KEYS = frozenset({"messages", "tools", "parallel_tool_calls", "functions"})
DPO_KEYS = frozenset(
    {"input", "preferred_output", "non_preferred_output"}
    | {"preferred_completion", "non_preferred_completion"}
)

# Where each format keeps its message lists: (section name, path of keys to the list).
MESSAGE_LISTS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "chat": (("messages", ("messages",)),),
    "rft": (("messages", ("messages",)),),
    "dpo": (
        ("input", ("input", "messages")),
        ("preferred", ("preferred_output",)),
        ("non_preferred", ("non_preferred_output",)),
    ),
}


def message_lists(value: Any, fmt: str) -> Iterator[tuple[str, str, list[Any]]]:
    """Each message list of a parsed line of format ``fmt``: its section, its JSON pointer and
    the list. A list that is missing or is not a list is passed over (the schema rules report
    it), and so is everything of a format without message lists."""
    for section, keys in MESSAGE_LISTS.get(fmt, ()):
        container: Any = value
        for key in keys:
            container = container.get(key) if isinstance(container, dict) else None
        if isinstance(container, list):
            yield section, join_pointer(*keys), container


DESCRIPTIONS = {
    "chat": "supervised chat",
    "dpo": "preference (DPO)",
    "rft": "reinforcement (RFT)",
    "legacy": "legacy prompt/completion",
    "sharegpt": "ShareGPT / LLaMA-Factory 'conversations'",
    "alpaca": "Alpaca 'instruction'/'output'",
    "unknown": "unrecognised",
}

CONVERSION_HINTS = {
    "sharegpt": (
        "rename 'conversations' to 'messages', map each turn's 'from'/'value' (or 'role'/"
        "'content') to 'role'/'content' with roles system, user, assistant and tool "
        "('human' -> user, 'gpt' -> assistant, 'function_call' -> an assistant 'tool_calls' "
        "entry, 'observation' -> a 'tool' message), and move 'system' and 'tools' into the "
        "message list and a 'tools' array of objects"
    ),
    "alpaca": (
        "build 'messages' from each line: an optional system message, a user message with "
        "'instruction' (plus 'input' when present) and an assistant message with 'output'"
    ),
}


def detect_record(value: Any) -> str:
    """The format one parsed line is written in, judged from that line alone."""
    if not isinstance(value, dict):
        return "unknown"
    keys = value.keys()
    if "messages" in value:
        messages = value["messages"]
        if isinstance(messages, list) and messages and _looks_sharegpt_turns(messages):
            return "sharegpt"
        if _is_rft(value, messages):
            return "rft"
        return "chat"
    if "conversations" in value:
        return "sharegpt"
    if "instruction" in value and ("output" in value or "response" in value):
        return "alpaca"
    if keys & DPO_KEYS:
        return "dpo"
    if "prompt" in value or "completion" in value:
        return "legacy"
    return "unknown"


def _looks_sharegpt_turns(messages: list[Any]) -> bool:
    first = messages[0]
    return isinstance(first, dict) and "from" in first and "value" in first and "role" not in first


def _is_rft(value: dict[str, Any], messages: Any) -> bool:
    if not isinstance(messages, list):
        return False
    roles = [m.get("role") for m in messages if isinstance(m, dict)]
    if "developer" in roles:
        return True
    has_grader_keys = bool(value.keys() - CHAT_KEYS)
    return has_grader_keys and "assistant" not in roles


def dominant(counts: Counter[str]) -> str:
    """A file's format: its most common record format, accepted formats winning ties."""
    if not counts:
        return "unknown"
    order = {name: i for i, name in enumerate((*ACCEPTED, *LOOKALIKES, "unknown"))}
    return max(counts, key=lambda name: (counts[name], -order.get(name, 99)))


def effective(record_format: str, file_format: str, target_formats: frozenset[str]) -> str:
    """The format a record is validated against, given its file and the target model."""
    if record_format == "unknown" and file_format in ACCEPTED:
        # A line with none of the format's keys is checked as the file's format, so it gets
        # the API's own complaint ("missing key 'messages'") instead of a vague one.
        return file_format
    if record_format in ("chat", "rft"):
        if "rft" in target_formats and "chat" not in target_formats:
            return "rft"
        if file_format in ("chat", "rft"):
            return file_format
    return record_format


def has_images(value: Any) -> bool:
    """Does any message of this record carry an image part?"""
    lists = []
    if isinstance(value, dict):
        lists.append(value.get("messages"))
        if isinstance(value.get("input"), dict):
            lists.append(value["input"].get("messages"))
    for messages in lists:
        if not isinstance(messages, list):
            continue
        for message in messages:
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, list) and any(
                isinstance(p, dict) and p.get("type") == "image_url" for p in content
            ):
                return True
    return False
