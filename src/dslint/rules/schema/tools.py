"""Tool and function calling: definitions, calls, arguments and answers (S201-S207)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from dslint.finding import Hit
from dslint.loader import Record
from dslint.rules.schema._structure import MessageRef, iter_messages, normalised_value
from dslint.rules.schema.structure import StructureRule
from dslint.textutil import excerpt

FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _calls(ref: MessageRef) -> Iterator[tuple[str, dict[str, Any]]]:
    """(pointer, function object) of each call an assistant message makes."""
    calls = ref.message.get("tool_calls")
    if isinstance(calls, list):
        for index, call in enumerate(calls):
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                yield f"{ref.pointer}/tool_calls/{index}/function", call["function"]
    legacy = ref.message.get("function_call")
    if isinstance(legacy, dict):
        yield f"{ref.pointer}/function_call", legacy


def _definitions(record: Record) -> Iterator[tuple[str, Any]]:
    """(pointer, name) of every tool or function the example defines."""
    value = normalised_value(record)
    container = value.get("input") if record.format == "dpo" else value
    if not isinstance(container, dict):
        return
    tools = container.get("tools")
    if isinstance(tools, list):
        for index, tool in enumerate(tools):
            function = tool.get("function") if isinstance(tool, dict) else None
            if isinstance(function, dict) and "name" in function:
                yield f"/tools/{index}/function/name", function["name"]
    functions = container.get("functions")
    if isinstance(functions, list):
        for index, function in enumerate(functions):
            if isinstance(function, dict) and "name" in function:
                yield f"/functions/{index}/name", function["name"]


def _prefix(record: Record) -> str:
    return "/input" if record.format == "dpo" else ""


class InvalidToolCall(StructureRule):
    """A tool call is malformed (it needs ``id``, ``type`` and ``function``).

    Each entry of ``tool_calls`` is ``{"id": ..., "type": "function", "function": {"name": ...,
    "arguments": ...}}``, all required.

    FAIL::

        {"messages": [{"role": "user", "content": "Weather?"}, {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]}]}
    """

    code = "S201"
    name = "invalid-tool-call"
    triggers = ('"tool_calls"', '"function_call"')


class InvalidArguments(StructureRule):
    """Tool call ``arguments`` are not JSON text of an object.

    ``arguments`` is a *string* holding JSON, which should decode to an object. A real public
    dataset double-encodes it (a JSON string inside the string); the model then learns to emit
    escaped JSON.

    FAIL::

        {"messages": [{"role": "user", "content": "Weather?"}, {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "\\"{\\\\\\"city\\\\\\": \\\\\\"Oslo\\\\\\"}\\""}}]}]}

    PASS::

        {"messages": [{"role": "user", "content": "Weather?"}, {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Oslo\\"}"}}]}]}
    """

    code = "S202"
    name = "invalid-arguments"
    triggers = ('"arguments"',)

    def extra(self, record: Record) -> Iterator[Hit]:
        for ref in iter_messages(record):
            if ref.role != "assistant":
                continue
            for pointer, function in _calls(ref):
                arguments = function.get("arguments")
                if not isinstance(arguments, str):
                    continue  # the schema reports a non-string
                where = f"{ref.label}: arguments of '{excerpt(str(function.get('name')), 40)}'"
                try:
                    decoded = json.loads(arguments)
                except (json.JSONDecodeError, RecursionError) as exc:
                    message = getattr(exc, "msg", "nested too deeply")
                    yield Hit(f"{where} are not valid JSON ({message})", pointer + "/arguments")
                    continue
                if isinstance(decoded, str):
                    yield Hit(
                        f"{where} are double-encoded: a JSON string holding JSON; store the "
                        "object's JSON text once",
                        pointer + "/arguments",
                    )
                elif not isinstance(decoded, dict):
                    yield Hit(f"{where} must decode to a JSON object", pointer + "/arguments")


class UndefinedFunction(StructureRule):
    """A call names a function the example's ``tools`` or ``functions`` do not define.

    Checked only when the example defines tools: the model would learn to call functions that
    do not exist.

    FAIL::

        {"messages": [{"role": "user", "content": "Weather?"}, {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_wether", "arguments": "{}"}}]}], "tools": [{"type": "function", "function": {"name": "get_weather"}}]}
    """

    code = "S203"
    name = "undefined-function"
    triggers = ('"tool_calls"', '"function_call"')

    def extra(self, record: Record) -> Iterator[Hit]:
        defined = {name for _, name in _definitions(record) if isinstance(name, str)}
        if not defined:
            return
        for ref in iter_messages(record):
            if ref.role != "assistant":
                continue
            for pointer, function in _calls(ref):
                name = function.get("name")
                if isinstance(name, str) and name not in defined:
                    known = ", ".join(sorted(defined)[:5])
                    yield Hit(
                        f"{ref.label}: calls '{excerpt(name, 40)}', which the example's tools do "
                        f"not define (defined: {known})",
                        pointer + "/name",
                    )


class OrphanToolMessage(StructureRule):
    """A ``tool`` message whose ``tool_call_id`` answers no earlier assistant tool call.

    FAIL::

        {"messages": [{"role": "user", "content": "Weather?"}, {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]}, {"role": "tool", "tool_call_id": "c9", "content": "Sunny"}, {"role": "assistant", "content": "Sunny."}]}
    """

    code = "S204"
    name = "orphan-tool-message"
    triggers = ('"tool"',)

    def extra(self, record: Record) -> Iterator[Hit]:
        called: set[str] = set()
        for ref in iter_messages(record):
            calls = ref.message.get("tool_calls")
            if ref.role == "assistant" and isinstance(calls, list):
                called.update(
                    c["id"] for c in calls if isinstance(c, dict) and isinstance(c.get("id"), str)
                )
            elif ref.role == "tool":
                call_id = ref.message.get("tool_call_id")
                if isinstance(call_id, str) and call_id not in called:
                    yield Hit(
                        f"{ref.label}: tool_call_id '{excerpt(call_id, 40)}' answers no earlier "
                        "assistant tool call",
                        ref.pointer + "/tool_call_id",
                    )


class UnansweredToolCall(StructureRule):
    """An assistant tool call gets no ``tool`` answer before the next assistant turn.

    The API expects each call's result before the model speaks again. An example may end right
    after a call (the call itself is what is trained).

    FAIL::

        {"messages": [{"role": "user", "content": "Weather?"}, {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]}, {"role": "assistant", "content": "Sunny."}]}
    """

    code = "S205"
    name = "unanswered-tool-call"
    triggers = ('"tool_calls"',)

    def extra(self, record: Record) -> Iterator[Hit]:
        pending: dict[str, tuple[MessageRef, int]] = {}
        for ref in iter_messages(record):
            if ref.role == "assistant":
                yield from self._report(pending, ref)
                pending.clear()
                calls = ref.message.get("tool_calls")
                if isinstance(calls, list):
                    for index, call in enumerate(calls):
                        if isinstance(call, dict) and isinstance(call.get("id"), str):
                            pending[call["id"]] = (ref, index)
            elif ref.role == "tool":
                pending.pop(str(ref.message.get("tool_call_id")), None)

    @staticmethod
    def _report(pending: dict[str, tuple[MessageRef, int]], later: MessageRef) -> Iterator[Hit]:
        for call_id, (ref, index) in pending.items():
            yield Hit(
                f"{ref.label}: tool call '{excerpt(call_id, 40)}' has no tool answer before "
                f"{later.label}",
                f"{ref.pointer}/tool_calls/{index}/id",
            )


class InvalidFunctionName(StructureRule):
    """A function name breaks the API's rule: letters, digits, ``_`` and ``-``, at most 64.

    FAIL::

        {"messages": [{"role": "user", "content": "Weather?"}, {"role": "assistant", "content": "Sunny."}], "tools": [{"type": "function", "function": {"name": "get weather"}}]}
    """

    code = "S206"
    name = "invalid-function-name"
    triggers = ('"tools"', '"functions"', '"tool_calls"', '"function_call"')

    def extra(self, record: Record) -> Iterator[Hit]:
        prefix = _prefix(record)
        for pointer, name in _definitions(record):
            if isinstance(name, str) and not FUNCTION_NAME.match(name):
                yield Hit(self._why(name, "defined function"), prefix + pointer)
        for ref in iter_messages(record):
            if ref.role != "assistant":
                continue
            for pointer, function in _calls(ref):
                name = function.get("name")
                if isinstance(name, str) and not FUNCTION_NAME.match(name):
                    yield Hit(self._why(name, f"{ref.label}: called function"), pointer + "/name")

    @staticmethod
    def _why(name: str, what: str) -> str:
        reason = (
            "is longer than 64 characters"
            if len(name) > 64
            else ("is empty" if not name else "may use only letters, digits, '_' and '-'")
        )
        return f"{what} name '{excerpt(name, 40)}' {reason}"


class InvalidToolDefinition(StructureRule):
    """A ``tools`` or ``functions`` entry is malformed, or ``functions`` has not 1 to 128 items.

    Tools are ``{"type": "function", "function": {"name", "description"?, "parameters"?,
    "strict"?}}``; ``parameters`` is a JSON Schema object.

    FAIL::

        {"messages": [{"role": "user", "content": "Weather?"}, {"role": "assistant", "content": "Sunny."}], "tools": [{"name": "get_weather"}]}
    """

    code = "S207"
    name = "invalid-tool-definition"
    triggers = ('"tools"', '"functions"')


RULES = [InvalidToolCall, InvalidArguments, UndefinedFunction, OrphanToolMessage,
         UnansweredToolCall, InvalidFunctionName, InvalidToolDefinition]  # fmt: skip
