"""Map a JSON pointer (and a span inside a string) to a column in the raw line.

Rules speak in pointers and decoded-string offsets; people and editors want a column in the
file. This walks the raw text with the standard library's own JSON scanner, so escapes
(``\\n``, ``\\u00e9``, surrogate pairs) are accounted for exactly. It runs only for lines that
have findings, never on the hot path.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from json.decoder import scanstring  # type: ignore[attr-defined]

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def split_pointer(pointer: str) -> list[str]:
    if not pointer:
        return []
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


def join_pointer(*parts: str | int) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _skip(raw: str, i: int) -> int:
    match = _WHITESPACE.match(raw, i)
    return match.end() if match else i


def value_start(raw: str, pointer: str) -> int | None:
    """0-based index in ``raw`` where the value at ``pointer`` starts, or None if absent."""
    try:
        layout = _layout(raw)
        position: int | None = _skip(raw, 0)
        for token in split_pointer(pointer):
            i = position
            if i is None or i >= len(raw):
                return None
            if raw[i] == "{":
                position = layout.keys(i).get(token)
            elif raw[i] == "[":
                if not token.isdigit():
                    return None
                elements = layout.elements(i)
                position = elements[int(token)] if int(token) < len(elements) else None
            else:
                return None
        return position
    except (ValueError, IndexError, RecursionError):
        return None


@lru_cache(maxsize=4)
def _layout(raw: str) -> _Layout:
    return _Layout(raw)


class _Layout:
    """Where the members of each container of one raw line start, each container scanned
    once. Locating every finding of a line by walking it from the start again was quadratic:
    a conversation of 20,000 turns with a finding on each took 79 s."""

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self._keys: dict[int, dict[str, int]] = {}
        self._elements: dict[int, list[int]] = {}

    def keys(self, start: int) -> dict[str, int]:
        """Key -> where its value starts, for the object at ``start`` (the last of duplicate
        keys wins, as in ``json.loads``)."""
        found = self._keys.get(start)
        if found is None:
            found = self._keys[start] = {}
            raw, i = self.raw, _skip(self.raw, start + 1)
            try:
                while i < len(raw) and raw[i] != "}":
                    key, i = scanstring(raw, i + 1)
                    i = _skip(raw, _skip(raw, i) + 1)  # past ':'
                    found[key] = i
                    i = _skip(raw, _DECODER.raw_decode(raw, i)[1])
                    if i < len(raw) and raw[i] == ",":
                        i = _skip(raw, i + 1)
            except (ValueError, IndexError, RecursionError):
                pass  # a damaged line: the members before the damage
        return found

    def elements(self, start: int) -> list[int]:
        """Where each element of the array at ``start`` starts."""
        found = self._elements.get(start)
        if found is None:
            found = self._elements[start] = []
            raw, i = self.raw, _skip(self.raw, start + 1)
            try:
                while i < len(raw) and raw[i] != "]":
                    found.append(i)
                    i = _skip(raw, _DECODER.raw_decode(raw, i)[1])
                    if i < len(raw) and raw[i] == ",":
                        i = _skip(raw, i + 1)
            except (ValueError, IndexError, RecursionError):
                pass
        return found


def string_index(raw: str, start: int, decoded_offset: int) -> int:
    """Raw index of the ``decoded_offset``-th character of the JSON string at ``start``."""
    i = start + 1  # past the opening quote
    seen = 0
    while seen < decoded_offset and i < len(raw) and raw[i] != '"':
        if raw[i] == "\\":
            if raw[i + 1] == "u":
                code = int(raw[i + 2 : i + 6], 16)
                i += 6
                # A surrogate pair is one character once decoded.
                if 0xD800 <= code < 0xDC00 and raw[i : i + 2] == "\\u":
                    i += 6
            else:
                i += 2
        else:
            i += 1
        seen += 1
    return i


def columns(raw: str, pointer: str, span: tuple[int, int] | None) -> tuple[int | None, int | None]:
    """1-based (column, end column) in the raw line for a pointer and optional span."""
    start = value_start(raw, pointer)
    if start is None:
        return (1 if not pointer else None), None
    if span is None or start >= len(raw) or raw[start] != '"':
        return start + 1, None
    try:
        begin = string_index(raw, start, span[0])
        end = string_index(raw, start, span[1])
    except (ValueError, IndexError):
        return start + 1, None
    return begin + 1, end + 1
