"""Find PII and secrets in a dataset's text columns, once for all privacy rules.

What is scanned (``[tool.dslint.privacy] scan``, all three by default):

* ``messages``: every message text (content strings and text parts), legacy prompt and
  completion, DPO inputs and outputs: the ``text`` column of the messages frame;
* ``tool-calls``: every string inside an assistant's ``tool_calls`` / ``function_call``
  (arguments are where a model learns to pass an email or a key along);
* ``tools``: every string inside the tool and function definitions (descriptions and enum
  values sometimes carry a real address or a key).

How: RE2 (pyarrow) marks the strings in which any pattern of a pack can match, in one
vectorised pass per pack over the three columns side by side; Python's ``re`` then walks
only those strings with the same single alternation, and each candidate is validated
(checksums, ranges), checked against placeholders and the config's allow-lists, and scored
with its context words.

Nothing here keeps a matched value: a :class:`Detection` holds the kind, the span, the part
of the value a report may show (the vendor prefix of a key, never more) and a hash.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dslint.cache import dataset_memo
from dslint.dataset import message_label
from dslint.formats import MESSAGE_LISTS
from dslint.locate import join_pointer
from dslint.rules.privacy import packs as packs_module
from dslint.rules.privacy.packs import Pack, Pattern, Placeholders
from dslint.rules.privacy.settings import PrivacySettings, parse

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from dslint.config import Config
    from dslint.dataset import Dataset

CACHE_KEY = "privacy.detections"
# Bump when what a memoised match means changes (see memo_version).
MEMO_VERSION = 1
# The longest part of a value a report may show (a vendor prefix such as "sk-svcacct-").
MAX_SHOWN = 16
SECTION_KEYS = {
    section: keys for lists in MESSAGE_LISTS.values() for section, keys in lists
}  # fmt: skip


@dataclass(frozen=True)
class Detection:
    kind: str
    label: str
    record: int
    pointer: str
    span: tuple[int, int]
    shown: str  # the vendor prefix a report may quote, "" when nothing may be shown
    key: str  # a hash of the kind and value: stable across runs, never the value
    where: str  # "user message", "tool call", "tool definitions"


def detections(dataset: Dataset, config: Config) -> list[Detection]:
    """All detections of the dataset, computed on first use and shared by the rules."""
    cached: list[Detection] | None = dataset.cache.get(CACHE_KEY)
    if cached is None:
        cached = list(_scan(dataset, parse(config)))
        dataset.cache[CACHE_KEY] = cached
    return cached


def _scan(dataset: Dataset, settings: PrivacySettings) -> Iterator[Detection]:
    finder = _Finder(settings, memo_version())
    # (text, record, pointer, where) of every string that a pattern can match.
    found: list[tuple[str, int, str, str]] = []
    messages, records = dataset.messages, dataset.records
    # The three columns are searched in one RE2 pass per pack: each pass compiles the pack's
    # alternation (about 1.7 ms), which a small check paid six times.
    flags = _TextFlags(dataset, finder) if "messages" in settings.scan and len(messages) else None
    columns = {
        "text": flags.to_search if flags is not None else None,
        "tool_calls": messages["tool_calls"]
        if "tool-calls" in settings.scan and len(messages)
        else None,
        "tools": records["tools"] if "tools" in settings.scan and len(records) else None,
    }
    searched = {name: column for name, column in columns.items() if column is not None}
    candidates = dict(zip(searched, finder.candidates_in(list(searched.values())), strict=True))
    if flags is not None:
        rows = flags.rows(candidates["text"])
        if len(rows):
            picked = messages.iloc[rows]
            for text, record, pointer, role in zip(
                picked["text"], picked["record"], picked["pointer"], picked["role"], strict=True
            ):
                where = message_label(role)
                found.append((text, int(record), str(pointer), where))
    if "tool_calls" in candidates:
        rows = candidates["tool_calls"]
        if len(rows):
            picked = messages.iloc[rows]
            for calls, record, section, position in zip(
                picked["tool_calls"], picked["record"], picked["section"], picked["message"],
                strict=True,
            ):  # fmt: skip
                value = json.loads(calls)
                base = join_pointer(*SECTION_KEYS.get(str(section), (str(section),)), position)
                base += "/tool_calls" if isinstance(value, list) else "/function_call"
                for pointer, text in _strings(value, base):
                    found.append((text, int(record), pointer, "tool call"))
    if "tools" in candidates:
        rows = candidates["tools"]
        if len(rows):
            picked = records.iloc[rows]
            for record, tools, fmt in zip(picked.index, picked["tools"], picked["format"],
                                          strict=True):  # fmt: skip
                value = json.loads(tools)
                first = value[0] if isinstance(value, list) and value else {}
                key = "tools" if isinstance(first, dict) and "type" in first else "functions"
                base = ("/input/" if fmt == "dpo" else "/") + key
                for pointer, text in _strings(value, base):
                    found.append((text, int(record), pointer, "tool definitions"))
    if not found:
        return
    # The Python pass (exact spans, validators, placeholders, context) per distinct text,
    # remembered across runs: a re-run scans only the texts it has not seen.
    memo = dataset_memo("privacy.matches", finder.version)
    spans = memo.map([text for text, _, _, _ in found], finder.matches_of, finder.valid)
    for (text, record, pointer, where), matched in zip(found, spans, strict=True):
        yield from finder.detections(text, matched, record, pointer, where)


class _TextFlags:
    """Which rows of the messages' text some pattern can match. A re-run searches only the
    rows of new and edited lines (:attr:`to_search`): the others' flags come from the row
    memo (dslint.rows)."""

    def __init__(self, dataset: Dataset, finder: _Finder) -> None:
        import numpy as np

        from dslint.rows import row_memo

        text = dataset.messages["text"]
        self._memo = row_memo(dataset, "messages", "privacy.candidates", finder.version)
        flags, known = self._memo.recall()
        if not known.any():
            self._flags = np.zeros(len(text), dtype=np.int64)
            self._missing = None
            self.to_search = text
        else:
            self._flags, self._missing = flags, np.flatnonzero(~known)
            self._flags[self._missing] = 0
            self.to_search = text.iloc[self._missing]

    def rows(self, found: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """The rows to look at, given the positions in :attr:`to_search` that can match."""
        import numpy as np

        self._flags[found if self._missing is None else self._missing[found]] = 1
        self._memo.keep(self._flags)
        rows: np.ndarray[Any, Any] = np.flatnonzero(self._flags == 1)
        return rows


def memo_version() -> str:
    """What the memoised matches depend on besides the text: the packs and this code."""
    from dslint import packs as data
    from dslint.cache import source_stamp

    digest = hashlib.sha256()
    for name in (*packs_module.PACKS, "placeholders"):
        digest.update(data.pack_path("privacy", f"{name}.toml").read_bytes())
    modules = [f"dslint.rules.privacy.{m}" for m in ("scanner", "packs", "validators")]
    return f"{MEMO_VERSION}/{digest.hexdigest()[:32]}/{source_stamp(modules)}"


def _strings(value: Any, pointer: str) -> Iterator[tuple[str, str]]:
    """Every string leaf of a JSON value with its pointer."""
    if isinstance(value, str):
        yield pointer, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{pointer}/{index}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, pointer + join_pointer(key))


class _Finder:
    def __init__(self, settings: PrivacySettings, version: str = "") -> None:
        self.settings = settings
        self.version = version
        self.packs: list[Pack] = [packs_module.load(name) for name in packs_module.PACKS]
        self.placeholders: Placeholders = packs_module.placeholders()

    def candidates_in(self, columns: list[pd.Series[Any]]) -> list[np.ndarray[Any, Any]]:
        """Per column, the row positions whose string some pattern can match: one RE2 pass
        per pack over all the columns (their Arrow chunks side by side, nothing copied)."""
        import numpy as np
        import pandas as pd
        import pyarrow as pa
        import pyarrow.compute as pc

        # A categorical column is searched through its distinct values.
        searched = [
            pd.Series(c.cat.categories, dtype="string")
            if isinstance(c.dtype, pd.CategoricalDtype)
            else c
            for c in columns
        ]
        chunks = [
            chunk
            for column in searched
            for chunk in pa.chunked_array(column.array.__arrow_array__()).chunks
        ]
        sizes = [len(column) for column in searched]
        flags = np.zeros(sum(sizes), dtype=bool)
        if chunks and self.packs:
            # string and large_string columns side by side: the smaller ones take the type
            # of the largest (the messages' text on a first run), which is not copied.
            target = max(chunks, key=len).type
            chunks = [c if c.type == target else c.cast(target) for c in chunks]
            array = pa.chunked_array(chunks)
            mask = None
            for pack in self.packs:
                hit = pc.match_substring_regex(array, pack.re2)
                mask = hit if mask is None else pc.or_(mask, hit)
            flags = pc.fill_null(mask, False).to_numpy(zero_copy_only=False)
        found: list[np.ndarray[Any, Any]] = []
        for column, start, size in zip(columns, np.cumsum([0, *sizes]), sizes, strict=False):
            rows: np.ndarray[Any, Any] = np.flatnonzero(flags[start : start + size])
            if isinstance(column.dtype, pd.CategoricalDtype):
                # The rows that hold a found value.
                codes = column.cat.codes.to_numpy()
                rows = np.flatnonzero(np.isin(codes, rows) & (codes >= 0))
            found.append(rows)
        return found

    def matches_of(self, texts: list[str]) -> list[list[list[Any]]]:
        """Per text, its reportable matches before the allow-lists: [pack, group, start, end].

        Positions only: this is what the cache keeps, never a matched value. The allow-lists
        come from the config, so they are applied each run (:meth:`detections`).
        """
        return [list(self._matches(text)) for text in texts]

    def valid(self, value: Any) -> bool:
        """Is a remembered value shaped as :meth:`matches_of` makes it (else it is redone)?"""
        return isinstance(value, list) and all(
            isinstance(match, list)
            and len(match) == 4
            and type(match[0]) is int
            and 0 <= match[0] < len(self.packs)
            and match[1] in self.packs[match[0]].patterns
            and type(match[2]) is int
            and type(match[3]) is int
            and 0 <= match[2] <= match[3]
            for match in value
        )

    def _matches(self, text: str) -> Iterator[list[Any]]:
        for number, pack in enumerate(self.packs):
            for match in pack.regex.finditer(text):
                group = match.lastgroup
                if group is None:
                    continue
                pattern = pack.patterns[group]
                start, end = match.span(pattern.value_group or group)
                if self._judge(pack, pattern, text, start, end):
                    yield [number, group, start, end]

    def detections(
        self, text: str, matched: list[list[Any]], record: int, pointer: str, where: str
    ) -> Iterator[Detection]:
        """The detections of one string from its matches (as :meth:`matches_of` gives them)."""
        for number, group, start, end in matched:
            pattern = self.packs[number].patterns[group]
            value = text[start:end]
            if self.settings.allowed(pattern.kind, value):
                continue
            kept = pattern.keep.match(value) if pattern.keep else None
            yield Detection(
                kind=pattern.kind,
                label=pattern.label,
                record=record,
                pointer=pointer,
                span=(start, end),
                shown=kept.group()[:MAX_SHOWN] if kept else "",
                key=hashlib.sha256(f"{pattern.kind}\0{value}".encode()).hexdigest()[:20],
                where=where,
            )

    def _judge(self, pack: Pack, pattern: Pattern, text: str, start: int, end: int) -> bool:
        """Is this candidate reportable (the config's allow-lists aside)?"""
        value = text[start:end]
        kept = pattern.keep.match(value) if pattern.keep else None
        if self._placeholder(pack, value, len(kept.group()) if kept else 0):
            return False
        tables = self.placeholders.tables
        if pattern.validate is not None and not pattern.validate(value, text, start, end, tables):
            return False
        score = pattern.score
        if score < pack.threshold and pattern.context is not None:
            window = text[max(0, start - pack.window) : end + pack.window]
            if pattern.context.search(window):
                score += pack.boost
        return score >= pack.threshold

    def _placeholder(self, pack: Pack, value: str, kept: int) -> bool:
        known = self.placeholders
        if value in known.examples:
            return True
        lowered = value.lower()
        if any(marker in lowered for marker in known.markers):
            return True
        if pack.name == "secrets":
            body = re.sub(r"[\s_-]", "", value[kept:])
            return len(set(body)) < known.min_distinct
        return False
