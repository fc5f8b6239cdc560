"""The examples behind findings, re-read from their files for reports that show them.

The run keeps no record text; the records frame keeps each line's byte offset, so the lines
with findings are read again (``dslint.rawlines``). Privacy findings are redacted before the
text goes anywhere: their span in the raw line when they have one, else the whole value at
their pointer, else the whole example.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dslint.finding import Category
from dslint.locate import join_pointer, split_pointer
from dslint.rawlines import read_lines_at

if TYPE_CHECKING:
    from collections.abc import Iterable

    from dslint.finding import Finding
    from dslint.report import Report

REDACTED = "[redacted]"
# Tool definitions are JSON schemas, whose properties may well be called "role".
SKIPPED_KEYS = frozenset({"tools", "functions"})
PREFERENCE_SECTIONS = {"preferred_output": "preferred", "non_preferred_output": "not preferred"}
MAX_TEXT = 4000  # characters shown per message; the rest is counted, not shown


@dataclass(frozen=True)
class Part:
    """One message (or prompt/completion) of an example, as shown."""

    pointer: str
    role: str
    text: str
    omitted: int = 0  # characters cut from the end


@dataclass(frozen=True)
class Example:
    path: str
    line: int
    parts: tuple[Part, ...]
    raw: str | None = None  # the (shortened) raw line when it is not a JSON object
    hidden: str | None = None  # why the whole example is not shown

    def value_at(self, pointer: str) -> str | None:
        """The shown part that holds ``pointer`` (a message or a piece of one)."""
        for part in self.parts:
            if pointer == part.pointer or pointer.startswith(part.pointer + "/"):
                return part.pointer
        return None


def _redact_spans(raw: str, findings: list[Finding]) -> str:
    spans = sorted(
        ((f.column, f.end_column) for f in findings if f.column and f.end_column),
        reverse=True,
    )
    for start, end in spans:
        raw = raw[: start - 1] + REDACTED + raw[end - 1 :]
    return raw


def _replace_at(value: Any, pointer: str) -> bool:
    parts = split_pointer(pointer)
    container = value
    for key in parts[:-1]:
        if isinstance(container, dict):
            container = container.get(key)
        elif isinstance(container, list) and key.isdigit() and int(key) < len(container):
            container = container[int(key)]
        else:
            return False
    last = parts[-1] if parts else None
    if isinstance(container, dict) and last in container:
        container[last] = REDACTED
        return True
    if isinstance(container, list) and last and last.isdigit() and int(last) < len(container):
        container[int(last)] = REDACTED
        return True
    return False


def _shorten(text: str) -> tuple[str, int]:
    if len(text) <= MAX_TEXT:
        return text, 0
    return text[:MAX_TEXT], len(text) - MAX_TEXT


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        pieces = []
        for piece in content:
            if isinstance(piece, dict) and isinstance(piece.get("text"), str):
                pieces.append(piece["text"])
            elif isinstance(piece, dict) and piece.get("type") == "image_url":
                pieces.append("[image]")
            else:
                pieces.append(json.dumps(piece, ensure_ascii=False)[:200])
        return "\n".join(pieces)
    return "" if content is None else json.dumps(content, ensure_ascii=False)


def _message_part(message: dict[str, Any], pointer: str) -> Part:
    role = message.get("role")
    label = role if isinstance(role, str) else "(no role)"
    if isinstance(message.get("name"), str):
        label += f" ({message['name']})"
    text = _content_text(message.get("content"))
    calls = message.get("tool_calls") or message.get("function_call")
    if calls:
        text += ("\n" if text else "") + "tool calls: " + json.dumps(calls, ensure_ascii=False)
    # Preference data: say which answer this is.
    section = pointer.split("/")[1] if pointer.count("/") > 1 else ""
    if section in PREFERENCE_SECTIONS:
        label += f" ({PREFERENCE_SECTIONS[section]})"
    if message.get("weight") == 0:
        label += ", weight 0"
    shown, omitted = _shorten(text)
    return Part(pointer, label, shown, omitted)


def parts_of(value: Any, pointer: str = "") -> list[Part]:
    """Every message-like object in the record, in document order, with its pointer."""
    if isinstance(value, dict):
        if "role" in value:
            return [_message_part(value, pointer)]
        if not pointer and isinstance(value.get("prompt"), str):
            found = []
            for key in ("prompt", "completion"):
                if isinstance(value.get(key), str):
                    shown, omitted = _shorten(value[key])
                    found.append(Part(join_pointer(key), key, shown, omitted))
            return found
        return [
            p
            for k, v in value.items()
            if k not in SKIPPED_KEYS
            for p in parts_of(v, f"{pointer}{join_pointer(k)}")
        ]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in parts_of(v, f"{pointer}/{i}")]
    return []


def build_example(path: str, line: int, raw: str, findings: list[Finding]) -> Example:
    private = [f for f in findings if f.category is Category.PRIVACY]
    raw = _redact_spans(raw, private)
    try:
        value = json.loads(raw)
    except ValueError:
        if private:
            return Example(path, line, (), hidden="it has a privacy finding")
        shown, omitted = _shorten(raw)
        return Example(path, line, (), raw=shown + (f"… ({omitted:,} more)" if omitted else ""))
    for finding in private:
        if finding.column and finding.end_column:
            continue
        if not finding.pointer or not _replace_at(value, finding.pointer):
            return Example(path, line, (), hidden=f"it has a privacy finding ({finding.code})")
    if not isinstance(value, dict):
        shown, omitted = _shorten(raw)
        return Example(path, line, (), raw=shown)
    return Example(path, line, tuple(parts_of(value)))


def load_examples(report: Report, wanted: Iterable[Finding]) -> dict[tuple[str, int], Example]:
    """The examples of these findings (record-level ones), keyed by (path, line)."""
    lines: dict[str, set[int]] = defaultdict(set)
    for finding in wanted:
        if finding.line is not None:
            lines[finding.path].add(finding.line)
    by_record: dict[tuple[str, int], list[Finding]] = defaultdict(list)
    for finding in report.findings:
        if finding.line is not None and finding.line in lines.get(finding.path, ()):
            by_record[(finding.path, finding.line)].append(finding)
    examples: dict[tuple[str, int], Example] = {}
    for dataset in report.datasets:
        records = dataset.records
        if records.empty:
            continue
        paths = records["path"].astype(str)
        for path, numbers in lines.items():
            info = dataset.file(path)
            rows = records[(paths == path) & records["line"].isin(sorted(numbers))]
            offsets = dict(zip(rows["offset"].astype(int), rows["line"].astype(int), strict=True))
            for offset, raw in read_lines_at(info, offsets).items():
                line = offsets[offset]
                examples[(path, line)] = build_example(path, line, raw, by_record[(path, line)])
    return examples
