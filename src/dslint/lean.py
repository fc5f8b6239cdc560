"""The fast lane of a re-run: lines an earlier run found clean are not checked again, and
the plain ones among them are not parsed in Python.

A re-run after a small edit of a large file spent most of its time reading: every line was
decoded and parsed, its format detected, its record hits looked up in the cache and its frame
rows made one Python tuple at a time (3.0 s of a 5.7 s re-run of the 100k benchmark file).

When the record-hit store (:class:`dslint.cache.RecordHits`) keeps the result of a chat line
with no load problem, no hits and no notes, it notes the line *clean*, with its content hash,
and whether it is *plain* (:func:`is_plain`): its messages are objects with a string content,
a string (or no) role and name and a small integer (or no) weight, and nothing else becomes a
frame row or column (no tools, tool calls or content parts). A plain line's rows follow from
those four fields alone, which Arrow's JSON reader extracts for a block of lines at once, in
C++ and on every core.

A re-run of a large chat file whose first lines are mostly known clean (:func:`open_lane`)
reads it in blocks (:func:`read_span`), keys each line from its bytes exactly as the engine
keys a record (no decoding, no parsing) and looks the key up:

* a plain clean line: no record rule (the key covers the rules, their options and code, the
  configuration and the date, so its hits are still none), its rows from Arrow's reader;
* a clean line that is not plain: parsed by ``json.loads`` alone for its rows (the loader's
  checks found no problem in these same bytes) and given to no record rule;
* any other line (new, edited, with findings, the first line): the engine's normal path.

Each block's rows become one chunk in line order. A large file's second part goes to the
helper process (dslint.shards), which reads it the same way. The frames are the same as
without the lane (``tests/test_lean.py`` compares them column by column, and the reports).
Anything unusual (a compressed, small or binary file, a file whose format is not chat, a
block Arrow cannot read) is read the normal way, whole or for that block.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import compress
from typing import TYPE_CHECKING, Any

from dslint import formats
from dslint.loader import (
    BINARY_SAMPLE,
    WHOLE,
    FileInfo,
    Record,
    Span,
    _change,
    display_path,
    parse_line,
    plain_text,
    tally,
)

if TYPE_CHECKING:
    from dslint.dataset import DatasetBuilder
    from dslint.engine import Engine
    from dslint.finding import Finding

#: Files smaller than this are read the normal way: the lane saves about 30 µs of CPU a line
#: (the 100k benchmark file), nothing a pre-commit run on a small file would notice.
MIN_BYTES = 4_000_000
#: Bytes read, keyed and handed to Arrow at a time: bounds the memory the fast lane adds
#: (the block, its plain lines joined, their parsed columns) whatever the file's size.
BLOCK_BYTES = 16 * 2**20
#: Arrow's own block size within one of ours: two or more per block keep both cores busy.
ARROW_BLOCK = 2 * 2**20
#: Below this share of known clean lines among its first SHARE_SAMPLE bytes, a file is read
#: the normal way: it is new or much changed.
MIN_SHARE = 0.5
SHARE_SAMPLE = 1 << 20
#: What the record store knows of a clean line (dslint.cache.RecordHits.clean_lines): its
#: content hash, and whether it is plain.
Known = tuple[int, bool]
#: A weight the frames keep (an Int8 column; schema rules report values other than 0 and 1).
_WEIGHTS = range(-128, 128)


def is_plain(value: Any) -> bool:
    """Whether a parsed chat line's frame rows follow from its messages' role, name, content
    and weight alone, as Arrow's reader gives them (see dslint.dataset.DatasetBuilder): one
    row per message, its text the string content. Keys other than these are ignored by the
    builder and by Arrow alike, except the ones that make rows or columns: tools, tool
    calls, content parts."""
    if not isinstance(value, dict):
        return False
    messages = value.get("messages")
    if not isinstance(messages, list) or value.get("tools") or value.get("functions"):
        return False
    for message in messages:
        if type(message) is not dict or type(message.get("content")) is not str:
            return False
        role, name, weight = message.get("role"), message.get("name"), message.get("weight")
        if not (role is None or type(role) is str) or not (name is None or type(name) is str):
            return False
        if weight is not None and not (type(weight) is int and weight in _WEIGHTS):
            return False
        if message.get("tool_calls") or message.get("function_call"):
            return False
    return True


def open_lane(engine: Engine, path: Any, split: str) -> FileInfo | None:
    """The file's info, its format and target decided, when its lines are to be read through
    the fast lane (:func:`read_span`); None when the file is not worth it or not suited (the
    normal path then reads it, and reports whatever is wrong with it)."""
    hits = engine.record_hits
    try:
        size = os.stat(path).st_size
        if hits is None or size < MIN_BYTES or not hits.has_entries():
            return None
        with open(path, "rb") as handle:
            head = handle.read(max(BINARY_SAMPLE, SHARE_SAMPLE))
    except OSError:
        return None
    if not plain_text(head):
        return None
    sample = engine._sample(path, split, WHOLE)
    if sample is None:
        return None
    info = FileInfo(path=display_path(path), real_path=path, split=split, size=size)
    engine._decide(info, sample)
    if info.format != "chat":
        return None
    # A new or much changed file is read the normal way (on two cores for a large file).
    lookup = hits.clean_lines(engine.context_prefix(info.path, "chat", info, first=False))
    lines = head[: head.rfind(b"\n") + 1].split(b"\n")[1:-1]  # whole lines after the first
    known = sum(lookup(line[:-1] if line.endswith(b"\r") else line) is not None for line in lines)
    return info if lines and known >= MIN_SHARE * len(lines) else None


def read_span(
    engine: Engine,
    info: FileInfo,
    span: Span,
    index: int,
    builder: DatasetBuilder,
    findings: list[Finding],
) -> int:
    """Read the lines of ``span`` (the whole file, or a part: dslint.shards) into ``builder``
    and ``findings`` as Engine._read would, known clean lines through the fast lane; count
    them in ``info``. Returns the next record's index."""
    assert engine.record_hits is not None
    prefix = engine.context_prefix(info.path, "chat", info, first=False)
    lookup = engine.record_hits.clean_lines(prefix)
    reader = _Reader(engine, info, index, builder, findings, lookup, span)
    try:
        handle = open(info.real_path, "rb")  # noqa: SIM115 (closed below)
    except OSError as exc:
        info.read_error = f"reading stopped: {exc.strerror or exc}"
        return index
    with handle:
        try:
            opened = os.fstat(handle.fileno())
            handle.seek(span.start)
            blocks = _blocks(handle, None if span.stop is None else span.stop - span.start)
            # Arrow reads one block's plain lines (in C++, the GIL released) while this
            # thread keys the next block's lines: the two overlap.
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dslint-lean") as pool:
                pending = None
                for block in blocks:
                    following = reader.submit(pool, block, *reader.classify(block))
                    if pending is not None:
                        reader.take(*pending)
                    pending = following
                if pending is not None:
                    reader.take(*pending)
        except OSError as exc:
            info.read_error = f"reading stopped after line {info.lines}: {exc.strerror or exc}"
            return reader.index
        if span.stop is None:  # read to the end: did the file change meanwhile?
            info.changed = _change(opened, handle, reader.offset, False)
    return reader.index


def _blocks(handle: Any, limit: int | None) -> Iterator[bytes]:
    """The file from where ``handle`` stands, ``limit`` bytes or to its end, in blocks of
    whole lines (the last may lack its line end)."""
    rest = b""
    while True:
        want = BLOCK_BYTES if limit is None else min(BLOCK_BYTES, limit)
        data = handle.read(want) if want > 0 else b""
        if limit is not None:
            limit -= len(data)
        if not data:
            if rest:
                yield rest
            return
        data = rest + data if rest else data
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            rest = data  # one line longer than a block: keep reading
            continue
        rest = data[cut:]
        yield data[:cut] if rest else data


class _Reader:
    """Reads a span's blocks in file order: plain clean lines through Arrow, other clean
    lines through ``json.loads``, the rest the normal way."""

    def __init__(
        self,
        engine: Engine,
        info: FileInfo,
        index: int,
        builder: DatasetBuilder,
        findings: list[Finding],
        lookup: Callable[[bytes], Known | None],
        span: Span,
    ) -> None:
        self.engine = engine
        self.info = info
        self.index = index  # the next record's index in the dataset
        self.builder = builder
        self.findings = findings
        self.lookup = lookup
        self.number = span.first_line - 1  # the last line read
        self.offset = span.start  # the next line's byte offset
        # The file's first line is keyed in another context (first=True): never in the lane.
        self.first_pending = span.first_line == 1
        self.tools = SharedTools()

    def classify(self, block: bytes) -> tuple[list[bytes], list[Known | None]]:
        """The block's lines (without their line ends), and per line what the cache knows of
        it when it is clean (else None)."""
        lines = block.split(b"\n")
        if block.endswith(b"\n"):
            lines.pop()
        lookup = self.lookup
        start = 0
        found: list[Known | None] = []
        if self.first_pending and lines:
            found.append(None)
            self.first_pending = False
            start = 1
        # One comprehension over the block: a loop with appends cost twice as much a line.
        if b"\r" in block:
            found += [lookup(line[:-1] if line.endswith(b"\r") else line) for line in lines[start:]]
        else:
            found += [lookup(line) for line in lines[start:]]
        return lines, found

    def submit(
        self, pool: ThreadPoolExecutor, block: bytes, lines: list[bytes], found: list[Known | None]
    ) -> tuple[list[bytes], list[Known | None], list[bool], bool, Future[_Parsed | None]]:
        """Start Arrow on the block's plain lines; :meth:`take` the result in order. The mask
        of plain clean lines goes along: take uses it again."""
        plain = [known is not None and known[1] for known in found]
        parsing = pool.submit(self._parse, list(compress(lines, plain)))
        return lines, found, plain, block.endswith(b"\n"), parsing

    def take(
        self,
        lines: list[bytes],
        found: list[Known | None],
        plain: list[bool],
        ends_with_newline: bool,
        parsing: Future[_Parsed | None],
    ) -> None:
        """Add a block's records in order: plain lines' rows from Arrow, other clean lines
        parsed without the record rules, the rest the normal way; as one chunk (thousands of
        small chunks, one per run of plain lines between two others, made building the
        frames slower than reading). The line numbers, offsets and record indices of the
        block's lines are computed at once (numpy); only the lines that Arrow does not read
        are visited one by one."""
        import numpy as np

        from dslint.dataset import merged_chunks

        parsed = parsing.result()
        info = self.info
        frames = self.engine.builds_frames
        count = len(lines)
        first_number, first_index = self.number + 1, self.index
        progress = self.engine.context.progress
        for number in range(-(-first_number // 10_000) * 10_000, first_number + count, 10_000):
            progress(f"reading {info.path}: {number:,} lines")
        # Each line's offset: every line ends with a line feed but maybe the block's last.
        lengths = np.fromiter(map(len, lines), dtype=np.int64, count=count) + 1
        if count and not ends_with_newline:
            lengths[-1] -= 1
        ends = np.cumsum(lengths) + self.offset
        offsets = ends - lengths
        # Plain clean lines: their rows from Arrow; or, when no frame is built, no rows at
        # all (only counted) unless images are to be counted.
        if parsed is not None:
            lane = plain
        elif not frames:
            lane = [known is not None and b'"image_url"' not in line
                    for line, known in zip(lines, found, strict=True)]  # fmt: skip
        else:
            lane = [False] * count
        others: list[Record] = []
        clean = 0  # clean lines read here: counted at the end
        # A record filter (--changed-since: dslint.changes) is asked about every record in
        # file order, as the normal path asks it: which copy of a repeated line is new
        # depends on that order, and a new line's dataset findings are kept by it.
        asks = self.engine.record_filter
        visit = range(count) if asks else [p for p, fast in enumerate(lane) if not fast]
        for position in visit:
            self.number = first_number + position
            self.offset = int(offsets[position])
            self.index = first_index + position
            line, known = lines[position], found[position]
            if lane[position]:  # a known clean line (only visited for the filter)
                assert asks is not None and known is not None
                asks(self._known(known[0]))
                continue
            raw = line + b"\n" if position < count - 1 or ends_with_newline else line
            if known is None:
                others.append(self._record(raw))  # the filter is asked by check_record
            else:  # clean but not plain, or Arrow could not read the block
                record = self._clean(line, known[0])
                clean += record is not None
                if record is None:
                    record = self._record(raw)
                elif asks is not None:
                    asks(record)
                others.append(record)
        fast = np.fromiter(lane, dtype=bool, count=count)
        taken = int(fast.sum())
        clean += taken
        self.number = first_number + count - 1
        self.offset = int(ends[-1]) if count else self.offset
        self.index = first_index + count
        info.examples += clean  # a clean line is a chat example: not blank, an object
        info.objects += clean
        info.formats["chat"] += clean
        info.lines = self.number
        info.ends_with_newline = ends_with_newline
        if frames and (taken or others):
            columns = None
            if taken:
                assert parsed is not None
                where = np.flatnonzero(fast)
                plain_found = compress(found, plain)  # every one is known: plain
                hashes = np.fromiter((known[0] for known in plain_found if known is not None),
                                     dtype=np.int64, count=taken)  # fmt: skip
                columns = parsed.chunks(where + first_number, offsets[where], hashes,
                                        where + first_index, info.path, info.split)  # fmt: skip
            records, messages, text = merged_chunks(columns, others)
            self.builder.extend([records], [messages], text)

    def _known(self, content_hash: int) -> Record:
        """The record of a known clean line, unparsed: what a record filter asks about."""
        return Record(index=self.index, file=self.info, line=self.number, offset=self.offset,
                      raw="", format="chat", content_hash=content_hash)  # fmt: skip

    def _clean(self, line: bytes, content_hash: int) -> Record | None:
        """A line the cache knows clean (no load problem, no hits, no notes, format chat)
        but not plain: parsed for its rows by ``json.loads`` without the loader's hooks,
        which only look for problems it does not have, and given to no record rule. None if
        it does not parse after all (the normal path then reads it)."""
        info = self.info
        try:
            value = self.tools.parse(line)
        except (ValueError, RecursionError):
            return None
        if not isinstance(value, dict):
            return None
        record = Record(index=self.index, file=info, line=self.number, offset=self.offset,
                        raw="", value=value, format="chat", content_hash=content_hash)  # fmt: skip
        if b'"image_url"' in line and formats.has_images(value):
            info.image_examples += 1
        return record

    def _record(self, raw: bytes) -> Record:
        """One line the normal way (as dslint.loader and Engine._read handle it), its
        findings collected; returned for its rows."""
        engine, info = self.engine, self.info
        record = parse_line(raw, info, self.number, self.offset, self.index)
        tally(info, record)
        if record.is_object:
            record.format = formats.detect_record(record.value)
        engine._settle(record, info)
        self.findings.extend(engine.check_record(record))
        return record

    def _parse(self, lines: list[bytes]) -> _Parsed | None:
        """The messages of plain lines as Arrow columns, or None when Arrow cannot read them
        or no frame is built."""
        if not lines or not self.engine.builds_frames:
            return None
        import pyarrow as pa
        import pyarrow.json as pj

        fields = [("role", pa.string()), ("content", pa.string()), ("name", pa.string()),
                  ("weight", pa.int64())]  # fmt: skip
        schema = pa.schema([("messages", pa.list_(pa.struct(fields)))])
        longest = max(map(len, lines))
        try:
            table = pj.read_json(
                pa.py_buffer(b"\n".join(lines)),
                read_options=pj.ReadOptions(block_size=max(ARROW_BLOCK, longest + 2)),
                parse_options=pj.ParseOptions(
                    explicit_schema=schema, unexpected_field_behavior="ignore"
                ),
            )
        except (pa.ArrowException, ValueError):
            return None
        if table.num_rows != len(lines):
            return None
        return _Parsed(table.column("messages").combine_chunks())


class SharedTools:
    """``json.loads`` for clean lines that end with the same tool definitions.

    The lines of a dataset with tools usually repeat one list of tool definitions, last:
    ``{"messages": [...], "tools": [...]}``. On the 100k benchmark file those definitions are
    a third of such a line's bytes; parsing them for every line, and encoding them again for
    the frames' ``tools`` column, was half the time the fast lane spent on lines that are not
    plain (7,000 such lines: 0.42-0.60 s, now 0.09-0.24 s). So the bytes that end a line
    from the comma before its top-level ``"tools"`` member (the *suffix*) are learnt from a
    line whose parse shows that member last; a later line that ends with the same bytes has
    only the rest parsed (its head, closed with ``}``), and the tools value of the learnt
    line is put in, the same object each time (nothing changes these values: clean lines go
    to no record rule).

    Why the result is ``json.loads(line)``: the line is valid JSON (it is clean). If its head
    closed with ``}`` parses as an object without a ``tools`` key, the head ended between two
    top-level members, so the suffix is one more top-level member, ``"tools"`` with the same
    bytes, hence the same value, as in the learnt line. Anything else parses the whole line.
    """

    #: Suffixes remembered at a time (the most recent first).
    KEEP = 4

    #: Lines learnt from at most: a file whose tools cannot be split off this way (or that
    #: has many different definitions) is not parsed three times a line.
    ATTEMPTS = 16

    def __init__(self) -> None:
        self._known: list[tuple[bytes, Any]] = []
        self._attempts = 0

    def parse(self, line: bytes) -> Any:
        for suffix, tools in self._known:
            if line.endswith(suffix):
                try:
                    head = json.loads(line[: len(line) - len(suffix)] + b"}")
                except ValueError:
                    break
                if type(head) is dict and "tools" not in head:
                    head["tools"] = tools
                    return head
                break
        value = json.loads(line)
        if (
            self._attempts < self.ATTEMPTS
            and type(value) is dict
            and next(reversed(value), None) == "tools"
        ):
            self._attempts += 1
            self._learn(line, value)
        return value

    def _learn(self, line: bytes, value: dict[str, Any]) -> None:
        """Remember where this line's top-level ``tools`` member starts, once verified (the
        definitions may hold a key "tools" too: a few places are tried, from the end)."""
        start = len(line)
        for _ in range(3):
            start = line.rfind(b'"tools"', 0, start)
            comma = line.rfind(b",", 0, start) if start > 0 else -1
            if comma < 0:
                return
            if line[comma + 1 : start].strip(b" \t\r\n"):
                continue
            suffix = line[comma:]
            if any(suffix == known for known, _ in self._known):
                return  # known, but this line's head is not an object without tools
            try:
                head = json.loads(line[:comma] + b"}")
            except ValueError:
                continue  # a "tools" inside the definitions: the head is cut mid-value
            if type(head) is dict and "tools" not in head:  # the member is top-level: learnt
                self._known.insert(0, (suffix, value["tools"]))
                del self._known[self.KEEP :]
            return


class _Parsed:
    """One block's plain lines as Arrow gave them, made the builder's columns."""

    def __init__(self, messages: Any) -> None:
        import numpy as np
        import pyarrow.compute as pc

        self.bounds = np.asarray(messages.offsets, dtype=np.int64)
        fields = pc.list_flatten(messages).flatten()
        self.role, self.content, self.name, self.weight = fields
        counts = np.diff(self.bounds)
        # Each row's place in its conversation ("message").
        starts = np.repeat(self.bounds[:-1] - self.bounds[0], counts)
        self.position = (np.arange(len(starts)) - starts).astype(np.int32)
        self.counts = counts

    def chunks(
        self,
        numbers: Any,
        offsets: Any,
        hashes: Any,
        indices: Any,
        path: str,
        split: str,
    ) -> tuple[dict[str, Any], dict[str, Any], Any, Any]:
        """The records chunk, messages chunk and text of the block's plain lines, in the
        builder's columns (dslint.dataset), and their record indices (numpy); ``numbers``,
        ``offsets``, ``hashes`` and ``indices`` are numpy arrays, one value per line."""
        import numpy as np
        import pyarrow as pa

        count = len(numbers)
        rows = len(self.position)

        def same(value: str, length: int) -> Any:  # one value on every row
            return pa.DictionaryArray.from_arrays(np.zeros(length, np.int32), pa.array([value]))

        def missing(length: int) -> Any:  # no value on any row
            return pa.DictionaryArray.from_arrays(
                pa.nulls(length, pa.int32()), pa.array([], pa.string())
            )

        records = {
            "path": same(path, count),
            "split": same(split, count),
            "line": pa.array(numbers, pa.int64()),
            "offset": pa.array(offsets, pa.int64()),
            "format": same("chat", count),
            "content_hash": pa.array(hashes, pa.int64()),
            "is_object": pa.array(np.ones(count, dtype=bool)),
            "tools": missing(count),
        }
        record_of_row = np.repeat(np.asarray(indices, dtype=np.int32), self.counts)
        position = pa.array(self.position)
        top = int(self.position.max()) + 1 if rows else 0
        pointers = pa.array([f"/messages/{i}/content" for i in range(top)], pa.string())
        messages = {
            "record": pa.array(record_of_row),
            "section": same("messages", rows),
            "message": position,
            "part": pa.array(np.full(rows, -1, dtype=np.int32)),
            "role": self.role.dictionary_encode(),
            "name": self.name.dictionary_encode(),
            "pointer": pa.DictionaryArray.from_arrays(position, pointers),
            "weight": self.weight.cast(pa.int8()),
            "tool_calls": missing(rows),
            "images": missing(rows),
            "image_key": missing(rows),
        }
        return records, messages, self.content, np.asarray(indices, dtype=np.int64)
