"""Tokens of an example's tool (function) definitions.

The formula of OpenAI's cookbook ("How to count tokens with tiktoken", checked against the API
there): per function ``func_init`` + tokens of ``"name:description"`` (a trailing period
dropped); when it has properties ``prop_init``, then per property ``prop_key`` + tokens of
``"key:type:description"``; an enum adds ``enum_init`` and ``enum_item`` + tokens per item;
finally ``func_end`` once. The constants are per encoding in ``rules/models.toml``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any


def definitions(tools_json: str) -> list[dict[str, Any]]:
    """The function objects of a ``tools`` (or legacy ``functions``) list; odd items skipped."""
    try:
        items = json.loads(tools_json)
    except ValueError:
        return []
    found = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        function = item.get("function") if "function" in item else item
        if isinstance(function, dict):
            found.append(function)
    return found


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False)


def _pieces(function: Mapping[str, Any], constants: Mapping[str, int]) -> Iterator[str | int]:
    """The strings to encode and the constant token counts of one function, in order."""
    yield constants["func_init"]
    description = _text(function.get("description")).removesuffix(".")
    yield f"{_text(function.get('name'))}:{description}"
    parameters = function.get("parameters")
    properties = parameters.get("properties") if isinstance(parameters, dict) else None
    if not isinstance(properties, dict) or not properties:
        return
    yield constants["prop_init"]
    for key, spec in properties.items():
        spec = spec if isinstance(spec, dict) else {}
        yield constants["prop_key"]
        enum = spec.get("enum")
        if isinstance(enum, list):
            yield constants["enum_init"]
            for item in enum:
                yield constants["enum_item"]
                yield _text(item)
        description = _text(spec.get("description")).removesuffix(".")
        yield f"{key}:{_text(spec.get('type'))}:{description}"


def tool_tokens(tools_json: str, constants: Mapping[str, int], length: Callable[[str], int]) -> int:
    """Tokens of a JSON list of tool definitions; ``length`` counts one string's tokens."""
    functions = definitions(tools_json)
    if not functions:
        return 0
    total = 0
    for function in functions:
        for piece in _pieces(function, constants):
            total += piece if isinstance(piece, int) else length(piece)
    return total + constants["func_end"]
