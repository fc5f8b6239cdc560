"""Structural validation of one record against the schemas in ``rules/schemas/``.

The structure lives in data (``finetune.schema.json``); this module only runs it, once per
record, and sorts each schema error into the rule code its schema node names (``x-dslint``).
Messages are validated one by one against the schema of their role, as the API does with its
``role`` discriminator, so an error says "message 3 (tool): ..." rather than "no oneOf matched".
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, NamedTuple

from dslint.formats import message_lists
from dslint.loader import Record
from dslint.locate import join_pointer
from dslint.packs import pack_path

LINE_SCHEMAS = {"chat": "chat_line", "rft": "rft_line", "dpo": "dpo_line", "legacy": "legacy_line"}

# Which roles each message list accepts, per format and section.
ROLES: dict[tuple[str, str], tuple[str, ...]] = {
    ("chat", "messages"): ("system", "user", "assistant", "tool", "function"),
    ("rft", "messages"): ("developer", "user", "assistant", "tool"),
    ("dpo", "input"): ("system", "user", "assistant", "tool", "function"),
    ("dpo", "preferred"): ("assistant",),
    ("dpo", "non_preferred"): ("assistant",),
}


DPO_RENAMES = {
    "preferred_completion": "preferred_output",
    "non_preferred_completion": "non_preferred_output",
}

_JSON_TYPES = {
    dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
    float: "a number", type(None): "null",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    pointer: str
    message: str


class MessageRef(NamedTuple):
    # A named tuple, not a frozen dataclass: one is made for every message of every record,
    # and a frozen dataclass's __init__ (a setattr per field) cost two and a half times as much.
    section: str
    position: int  # in its list (0-based, as in the pointer); not "index", a tuple method
    pointer: str
    message: dict[str, Any]

    @property
    def role(self) -> str | None:
        role = self.message.get("role")
        return role if isinstance(role, str) else None

    @property
    def label(self) -> str:
        """How messages are named in findings: 1-based, with the role."""
        where = "" if self.section == "messages" else f"{self.section} "
        role = f" ({self.role})" if self.role else ""
        return f"{where}message {self.position + 1}{role}"


@cache
def _schema() -> dict[str, Any]:
    with open(pack_path("schemas", "finetune.schema.json"), encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


@cache
def validator(definition: str) -> Any:
    from jsonschema import Draft202012Validator

    schema = {"$ref": f"#/$defs/{definition}", "$defs": _schema()["$defs"]}
    return Draft202012Validator(schema)


def normalised_value(record: Record) -> Any:
    """The record as validated: DPO's old key names read as the new ones (S301 reports them)."""
    value = record.value
    if record.format == "dpo" and isinstance(value, dict) and value.keys() & DPO_RENAMES.keys():
        value = {DPO_RENAMES.get(k, k): v for k, v in value.items()}
    return value


def iter_messages(record: Record) -> list[MessageRef]:
    """Every message object of a record, in order, with its section and pointer (cached)."""
    cached = record.cache.get("messages")
    if cached is None:
        cached = record.cache["messages"] = list(_messages(record))
    return cached


def _messages(record: Record) -> Iterator[MessageRef]:
    value = normalised_value(record)
    for section, base, container in message_lists(value, record.format):
        for index, message in enumerate(container):
            if isinstance(message, dict):
                yield MessageRef(section, index, f"{base}/{index}", message)


def problems(record: Record) -> list[Problem]:
    """All structural problems of a record, computed once and cached on it.

    Records of the same *shape* (the same keys, lists, types, roles and part types; string
    values other than those do not matter to the schema) have the same problems, so they are
    validated once per shape: a dataset of 100k examples usually has a few hundred shapes.
    """
    cached = record.cache.get("structure")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    try:
        key: Any = (record.format, _shape(record.value))
    except RecursionError:
        key = None
    found = _BY_SHAPE.get(key) if key is not None else None
    if found is None:
        memo = _ShapeMemo() if key is not None else None
        found = memo.get(key) if memo is not None else None
        if found is None:
            # jsonschema reports a missing key once per "required" error; keep each once.
            found = list(dict.fromkeys(_problems(record)))
            if memo is not None:
                memo.put(key, found)
        if key is not None:
            if len(_BY_SHAPE) >= _SHAPE_CACHE_SIZE:
                _BY_SHAPE.clear()
            _BY_SHAPE[key] = found
    record.cache["structure"] = found
    return found


class _ShapeMemo:
    """The problems of each shape, remembered across runs in the text memo (dslint.cache).

    A pre-commit run on a small file that changed validates the changed examples, whose
    shapes were nearly always seen before; importing jsonschema and building its validators
    for them cost about 0.1 s of a 0.6 s run. A shape's problems depend on the schema file,
    this module and jsonschema, which the memo's version names.
    """

    def __init__(self) -> None:
        from dslint.cache import dataset_memo

        self._memo = dataset_memo("schema.shapes", _memo_version())

    def get(self, key: Any) -> list[Problem] | None:
        text = self._text(key)
        if text is None:
            return None
        value = self._memo.lookup([text], _are_problems).get(text)
        return None if value is None else [Problem(*p) for p in value]

    def put(self, key: Any, found: list[Problem]) -> None:
        text = self._text(key)
        if text is not None:
            self._memo.store({text: [[p.code, p.pointer, p.message] for p in found]})

    def _text(self, key: Any) -> str | None:
        if not self._memo.remembers:
            return None
        try:
            return repr(key)
        except RecursionError:  # nested nearly as deep as _shape allows: not remembered
            return None


def _are_problems(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(p, list) and len(p) == 3 and all(isinstance(f, str) for f in p) for p in value
    )


@cache
def _memo_version() -> str:
    from dslint.cache import source_stamp
    from dslint.installed import library_version

    schema = pack_path("schemas", "finetune.schema.json")
    try:
        stat = schema.stat()
        schema_stamp = f"{stat.st_mtime_ns}:{stat.st_size}"
    except OSError:
        schema_stamp = "?"
    validator_version = library_version("jsonschema")
    return f"1/{schema_stamp}/{validator_version}/{source_stamp([__name__])}"


_SHAPE_CACHE_SIZE = 20_000
_BY_SHAPE: dict[Any, list[Problem]] = {}
# String values the schema looks at (const/enum); every other string only matters as
# empty or not (minLength).
_MEANINGFUL_STRINGS = frozenset({"role", "type", "detail"})


def _shape(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        # A string member is the common case (a message's role and content): shaped here,
        # without a call per member; lists, not generators (4.7 -> 3.2 µs a chat line).
        return tuple([
            (k, (v if k in _MEANINGFUL_STRINGS else ("s" if v else "")))
            if type(v) is str
            else (k, _shape(v, k))
            for k, v in value.items()
        ])  # fmt: skip
    if isinstance(value, list):
        return ("[", *[_shape(v, key) for v in value])
    if isinstance(value, str):
        return value if key in _MEANINGFUL_STRINGS else ("s" if value else "")
    # Keep the type with the value: True == 1 in Python, but not in JSON Schema.
    return (type(value).__name__, value)


def _problems(record: Record) -> Iterator[Problem]:
    definition = LINE_SCHEMAS.get(record.format)
    if definition is None:
        return
    value = normalised_value(record)
    for error in validator(definition).iter_errors(value):
        yield from _classify(error, "", "")
    for section, base, container in message_lists(value, record.format):
        allowed = ROLES[(record.format, section)]
        for index, message in enumerate(container):
            pointer = f"{base}/{index}"
            if not isinstance(message, dict):
                yield Problem(
                    "S101",
                    pointer,
                    f"{section} item {index + 1} is {_json_type(message)}, not a message object",
                )
                continue
            ref = MessageRef(section, index, pointer, message)
            role = ref.role
            if role is None:
                yield Problem(
                    "S103",
                    pointer + ("/role" if "role" in message else ""),
                    f"{ref.label} has no 'role' string (expected one of {', '.join(allowed)})",
                )
                continue
            if role not in allowed:
                yield _role_problem(record.format, section, ref, allowed)
                continue
            for error in validator(f"{role}_message").iter_errors(message):
                yield from _classify(error, pointer, ref.label + ": ")


def _role_problem(fmt: str, section: str, ref: MessageRef, allowed: tuple[str, ...]) -> Problem:
    if fmt == "dpo" and section != "input":
        return Problem(
            "S302",
            ref.pointer + "/role",
            f"{ref.label}: {section}_output must hold one assistant message, not a {ref.role} message",
        )
    hint = ""
    if ref.role == "developer":
        hint = " ('developer' is for reinforcement fine-tuning; use 'system' here)"
    elif ref.role == "system" and fmt == "rft":
        hint = " (reinforcement fine-tuning uses 'developer' instead of 'system')"
    elif ref.role in ("human", "gpt", "bot", "model"):
        hint = " (ShareGPT-style role names: use 'user' or 'assistant')"
    return Problem(
        "S103",
        ref.pointer + "/role",
        f"{ref.label}: role '{ref.role}' is not allowed in {fmt} data "
        f"(allowed: {', '.join(allowed)}){hint}",
    )


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _path_text(path: list[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the line"


def _classify(error: Any, base: str, label: str) -> Iterator[Problem]:
    node = error.schema if isinstance(error.schema, dict) else {}
    path = list(error.absolute_path)
    pointer = base + join_pointer(*path)
    where = _path_text(path)
    keyword = error.validator
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        known = node.get("properties", {})
        for key in sorted(k for k in error.instance if k not in known):
            container = f" in {where}" if path else ""
            yield Problem("S102", f"{pointer}/{key}", f"{label}unknown key '{key}'{container}")
        return
    if keyword == "required" and isinstance(error.instance, dict):
        for key in error.validator_value:
            if key in error.instance:
                continue
            code = node.get("x-dslint-required", {}).get(key) or node.get("x-dslint", "S106")
            inside = f" in {where}" if path else ""
            yield Problem(code, pointer, f"{label}missing required key '{key}'{inside}")
        return
    code = node.get("x-dslint", "S106")
    template = node.get("x-dslint-message")
    if template:
        message = template.replace("{path}", f"'{where}'")
    elif keyword == "type":
        expected = error.validator_value
        expected = expected if isinstance(expected, list) else [expected]
        message = f"'{where}' must be {' or '.join(expected)}, not {_json_type(error.instance)}"
    elif keyword in ("const", "enum"):
        allowed = error.validator_value if keyword == "enum" else [error.validator_value]
        message = f"'{where}' must be {' or '.join(json.dumps(a) for a in allowed)}"
    elif keyword == "minItems":
        message = f"'{where}' must not be empty"
    elif keyword == "maxItems":
        message = f"'{where}' holds more than {error.validator_value} items"
    elif keyword == "minLength":
        message = f"'{where}' must not be empty"
    else:
        message = f"'{where}' is not valid here ({keyword})"
    yield Problem(code, pointer, label + message)
