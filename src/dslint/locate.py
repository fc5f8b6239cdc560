"""Map a JSON pointer (and a span inside a string) to a column in the raw line.

Rules speak in pointers and decoded-string offsets; people and editors want a column in the
file. This walks the raw text with the standard library's own JSON scanner, so escapes
(``\\n``, ``\\u00e9``, surrogate pairs) are accounted for exactly. It runs only for lines that
have findings, never on the hot path.
"""

from __future__ import annotations

import json
import re
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
        position: int | None = _skip(raw, 0)
        for token in split_pointer(pointer):
            i = position
            if i is None or i >= len(raw):
                return None
            if raw[i] == "{":
                position = _find_key(raw, _skip(raw, i + 1), token)
            elif raw[i] == "[":
                if not token.isdigit():
                    return None
                position = _find_index(raw, _skip(raw, i + 1), int(token))
            else:
                return None
        return position
    except (ValueError, IndexError, RecursionError):
        return None


def _find_key(raw: str, i: int, wanted: str) -> int | None:
    found = None
    while i < len(raw) and raw[i] != "}":
        key, i = scanstring(raw, i + 1)
        i = _skip(raw, i)
        i = _skip(raw, i + 1)  # past ':'
        if key == wanted:
            found = i  # keep scanning: with duplicate keys the last one wins, as in json.loads
        _, i = _DECODER.raw_decode(raw, i)
        i = _skip(raw, i)
        if i < len(raw) and raw[i] == ",":
            i = _skip(raw, i + 1)
    return found


def _find_index(raw: str, i: int, wanted: int) -> int | None:
    index = 0
    while i < len(raw) and raw[i] != "]":
        if index == wanted:
            return i
        _, i = _DECODER.raw_decode(raw, i)
        i = _skip(raw, i)
        if i < len(raw) and raw[i] == ",":
            i = _skip(raw, i + 1)
        index += 1
    return None


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
