"""The dataset as two pandas frames (Arrow-backed strings), built while the files stream in.

``records``: one row per physical line (blank and unparseable lines included, so a row
number is a stable record id): ``path``, ``split`` (``train`` or ``validation``), ``line``,
``offset``, ``format``, ``content_hash``,
``is_object``, ``tools`` (the JSON text of the example's tool or function definitions).

``messages``: one row per text-bearing piece of a message, so text rules run vectorised
over one column and every row knows its exact JSON pointer: ``record`` (row in
``records``), ``section`` (``messages``, ``input``, ``preferred``, ``non_preferred``,
``prompt``, ``completion``), ``message`` (index in its list), ``part`` (index of a content
part, -1 for plain string content), ``role``, ``name``, ``text``, ``pointer``, ``weight``
``tool_calls`` (their JSON text), ``images`` (the detail level of each image part) and
``image_key`` (a short hash of the image URLs). The last three are on a message's first row
only. ``text`` is Arrow strings; every other string column is a pandas category (a missing
role, name, tool call or image is a missing value): read one as Arrow strings with
:func:`arrow_strings`. A message with several text
parts has several rows; a message with no text (an assistant turn that only calls tools) has
one row with "".
"""

from __future__ import annotations

import json
import mmap
import os
import sys
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dslint.formats import message_lists
from dslint.locate import join_pointer
from dslint.memory import give_back

if TYPE_CHECKING:
    import pandas as pd

    from dslint.loader import FileInfo, Record
    from dslint.rows import RowStore


def __getattr__(name: str) -> Any:
    # pandas is imported when a frame is first built, not with this module, so a run whose
    # rules never look at the frames (``--select S``, pre-commit on schema rules) starts fast.
    if name == "TEXT":
        import pandas as pd

        return pd.StringDtype("pyarrow")
    raise AttributeError(name)


class Dataset:
    """The two frames and the files. A frame may be given as a function that builds it: it
    is then built on first use (and pandas imported then), so runs that never use it skip it.
    """

    def __init__(
        self,
        records: pd.DataFrame | Callable[[], pd.DataFrame],
        messages: pd.DataFrame | Callable[[], pd.DataFrame],
        files: list[FileInfo] | None = None,
        cache: dict[str, Any] | None = None,
    ) -> None:
        self._records = records
        self._messages = messages
        self.files: list[FileInfo] = files if files is not None else []
        # Derived data shared between rules and reporters (token counts, signatures...), so
        # that work done once is not done again; keys are owned by the module computing them.
        self.cache: dict[str, Any] = cache if cache is not None else {}
        # The last run's per-row values of this dataset (dslint.rows): set by the engine when
        # the cache is on; None elsewhere, and every row is computed.
        self.rows: RowStore | None = None

    @property
    def records(self) -> pd.DataFrame:
        if callable(self._records):
            self._records = self._records()
            give_back()  # what made it (see _frame), and with the second frame the builder
        return self._records

    @records.setter
    def records(self, frame: pd.DataFrame) -> None:
        self._records = frame

    @property
    def messages(self) -> pd.DataFrame:
        if callable(self._messages):
            self._messages = self._messages()
            give_back()  # what made it (see _frame), and with the second frame the builder
        return self._messages

    @messages.setter
    def messages(self, frame: pd.DataFrame) -> None:
        self._messages = frame

    def file(self, path: str) -> FileInfo | None:
        return next((f for f in self.files if f.path == path), None)


#: The frames' columns and their types: "category" (a pandas Categorical, categories
#: sorted), "text" (Arrow large strings), "int64"/"int32"/"bool" (numpy), "int16" (numpy
#: int16 when every value fits, else int32: a message's place in a conversation of more
#: than 32,767 messages), "Int8" (nullable). Narrow types because every byte of a row is a
#: megabyte at a million examples (five million message rows).
RECORD_COLUMNS = {
    "path": "category", "split": "category", "line": "int64", "offset": "int64",
    "format": "category", "content_hash": "int64", "is_object": "bool", "tools": "category",
}  # fmt: skip
MESSAGE_COLUMNS = {
    "record": "int32", "section": "category", "message": "int16", "part": "int16",
    "role": "category", "name": "category", "text": "text", "pointer": "category",
    "weight": "Int8", "tool_calls": "category", "images": "category", "image_key": "category",
}  # fmt: skip
# Categories: few distinct values over millions of rows (a string column of pointers alone
# was 141 MB at a million examples; its codes are 11 MB), or mostly missing values (the JSON
# columns: as Arrow strings, their offsets alone took 8 bytes a row, 0.2 GB at a million
# examples, for values on one row in ten or none). A null is a missing code.
#: Records collected as Python lists before they become Arrow columns: Python objects for
#: every text of a large file would take several times the file's size (issues 4 and 10).
CHUNK_RECORDS = 16_384


class _Rows:
    """Records' rows as tuples, in the columns' order (RECORD_COLUMNS, MESSAGE_COLUMNS):
    appending a row's values to a list per column took three times as long."""

    def __init__(self) -> None:
        self.records: list[tuple[Any, ...]] = []
        self.messages: list[tuple[Any, ...]] = []
        # The last tool definitions encoded, and their JSON: the fast lane gives the records
        # of a file whose lines share one list of definitions the same object (lean.SharedTools).
        self._tools: tuple[Any, str | None] = (None, None)

    def add(self, record: Record) -> None:
        is_object = record.is_object
        self.records.append((
            record.path, record.file.split, record.line, record.offset, record.format,
            record.content_hash, is_object, self._tools_json(record.value) if is_object else None,
        ))  # fmt: skip
        if is_object:
            self._add_messages(record.index, record.format, record.value)

    def _tools_json(self, value: dict[str, Any]) -> str | None:
        tools = _tools_of(value)
        if not tools:
            return None
        if tools is not self._tools[0]:
            self._tools = (tools, _encode_sorted(tools))
        return self._tools[1]

    def _add_messages(self, index: int, fmt: str, value: dict[str, Any]) -> None:
        if fmt == "legacy":
            for section, role in (("prompt", "user"), ("completion", "assistant")):
                text = value.get(section)
                if isinstance(text, str):
                    self._row(index, section, 0, -1, role, None, text, join_pointer(section))
            return
        for section, base, container in message_lists(value, fmt):
            for position, message in enumerate(container):
                if isinstance(message, dict):
                    self._add_message(index, section, position, message, f"{base}/{position}")

    def _add_message(
        self, index: int, section: str, position: int, message: dict[str, Any], pointer: str
    ) -> None:
        role = message.get("role")
        role = role if isinstance(role, str) else None
        name = message.get("name") if isinstance(message.get("name"), str) else None
        weight = message.get("weight")
        # Only 0 and 1 are valid (schema rules report the rest); the range guard keeps an odd
        # value such as 128 or 2**70 from overflowing the Int8 column.
        valid = isinstance(weight, int) and not isinstance(weight, bool) and -128 <= weight < 128
        weight = weight if valid else None
        calls = message.get("tool_calls") or message.get("function_call")
        calls_json = _encode(calls) if calls else None
        content = message.get("content")
        images = _image_details(content)
        image_key = _image_key(content) if images else None
        if isinstance(content, str):
            self._row(index, section, position, -1, role, name, content, pointer + "/content",
                      weight, calls_json)  # fmt: skip
            return
        rows = 0
        if isinstance(content, list):
            for part_index, part in enumerate(content):
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    # Tool calls are counted once per message: on its first row only.
                    self._row(index, section, position, part_index, role, name, part["text"],
                              f"{pointer}/content/{part_index}/text", weight,
                              calls_json if rows == 0 else None,
                              images if rows == 0 else None,
                              image_key if rows == 0 else None)  # fmt: skip
                    rows += 1
        if rows == 0:
            self._row(index, section, position, -1, role, name, "", pointer, weight, calls_json,
                      images, image_key)  # fmt: skip

    def _row(
        self,
        index: int,
        section: str,
        position: int,
        part: int,
        role: str | None,
        name: str | None,
        text: str,
        pointer: str,
        weight: int | None = None,
        tool_calls: str | None = None,
        images: str | None = None,
        image_key: str | None = None,
    ) -> None:
        self.messages.append((index, section, position, part, role, name, text, pointer,
                              weight, tool_calls, images, image_key))  # fmt: skip


class DatasetBuilder:
    """Collects column values record by record and turns them into Arrow columns every
    CHUNK_RECORDS records; the frames are made once, from those chunks, when first used."""

    def __init__(self, text_file: int | None = None) -> None:
        """``text_file``: a memory file to gather the text in (see TextColumn)."""
        self._rows = _Rows()
        self.record_chunks: list[dict[str, Any]] = []  # column -> pyarrow array
        self.message_chunks: list[dict[str, Any]] = []  # every column but "text"
        # The messages' "text", gathered as the chunks are made.
        self.text = TextColumn(file=text_file)
        self.files: list[FileInfo] = []

    def flush(self) -> None:
        """Turn the records collected so far into Arrow chunks (done every CHUNK_RECORDS)."""
        rows = self._rows
        if rows.records:
            self.record_chunks.append(_arrow_chunk(rows.records, RECORD_COLUMNS))
            rows.records = []
        if rows.messages:
            chunk = _arrow_chunk(rows.messages, MESSAGE_COLUMNS)
            self.text.append(chunk.pop("text"))
            self.message_chunks.append(chunk)
            rows.messages = []

    def extend(
        self, record_chunks: list[dict[str, Any]], message_chunks: list[dict[str, Any]], text: Any
    ) -> None:
        """Append chunks built elsewhere (another process's part of a file, dslint.shards;
        a block read by dslint.lean), after the records added here so far; ``text`` is their
        text column (one array, or a :class:`SharedText` in a memory file, which is emptied
        as it is copied)."""
        self.flush()
        self.record_chunks.extend(record_chunks)
        self.message_chunks.extend(message_chunks)
        if isinstance(text, SharedText):
            self.text.take_file(text)
        elif isinstance(text, Interleaved):
            self.text.append_interleaved(text)
        else:
            self.text.append(text)

    def add(self, record: Record) -> None:
        if len(self._rows.records) >= CHUNK_RECORDS:
            self.flush()
        self._rows.add(record)

    def build(self) -> Dataset:
        """The dataset; its frames are made on first use (pandas is imported then)."""
        return Dataset(self._records_frame, self._messages_frame, self.files)

    def _records_frame(self) -> pd.DataFrame:
        self.flush()
        return _frame(self.record_chunks, RECORD_COLUMNS, index="record")

    def _messages_frame(self) -> pd.DataFrame:
        self.flush()
        return _frame(self.message_chunks, MESSAGE_COLUMNS, text=self.text.finish())


#: Where a memory map can grow in place (``mremap``). Elsewhere (macOS has no mremap,
#: Windows maps differently) the text chunks are kept and combined at the end.
GROWABLE_MAPS = sys.platform.startswith("linux")
#: Bytes moved at a time by TextColumn.take_file.
TAKE_BLOCK = 32 * 2**20
#: Finished text columns whose bytes live in a memory file (``memfd``) that a helper process
#: can map instead of receiving a copy: the address of the data -> (descriptor, bytes).
_SHARED: dict[int, tuple[int, int]] = {}


def memory_file(name: str) -> int | None:
    """A new, empty memory file (``memfd``, closed on exec unless passed on), or None where
    there is none: another system, or a sandbox that forbids them."""
    if not hasattr(os, "memfd_create"):
        return None
    try:
        return os.memfd_create(name, os.MFD_CLOEXEC)
    except OSError:
        return None


@dataclass(frozen=True)
class SharedText:
    """A finished text column as it travels to a helper process: its offsets are pickled,
    its bytes are not; the helper maps the same memory file (``descriptor``, sent with
    ``dslint.helper.Call(pass_fds=...)``), so the pages are shared, not copied
    (1.1 GB at a million examples)."""

    descriptor: int
    size: int
    rows: int
    offsets: Any  # numpy int64, rows + 1

    @staticmethod
    def of(array: Any) -> SharedText | None:
        """The shareable form of a column made by TextColumn, or None."""
        import numpy as np

        if array.offset != 0 or array.null_count:
            return None
        found = _SHARED.get(array.buffers()[2].address) if array.buffers()[2] else None
        if found is None:
            return None
        offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[: len(array) + 1]
        return SharedText(found[0], found[1], len(array), offsets)

    def array(self) -> Any:
        """The column, over a read-only map of the memory file (in the helper)."""
        import pyarrow as pa

        from dslint.helper import local

        descriptor = local(self.descriptor)  # the helper's number for the parent's file
        data = mmap.mmap(descriptor, self.size, prot=mmap.PROT_READ) if self.size else b""
        return pa.LargeStringArray.from_buffers(
            self.rows, pa.py_buffer(self.offsets), pa.py_buffer(data)
        )


@dataclass
class Interleaved:
    """A text column given as the rows of several string arrays in a mixed order: row ``i``
    is row ``order[i]`` of the arrays one after the other (see TextColumn.append_interleaved)."""

    sources: list[Any]
    order: Any


def _text_bytes(chunk: Any) -> tuple[Any, Any, memoryview]:
    """A string array (no nulls: every row has a text, maybe "") as large strings, the
    bounds of its rows in its data buffer (int64, one more than its rows) and that buffer."""
    import numpy as np
    import pyarrow as pa

    if not pa.types.is_large_string(chunk.type):
        chunk = chunk.cast(pa.large_string())
    if chunk.null_count:
        raise ValueError("a text column holds no nulls")
    bounds = np.frombuffer(chunk.buffers()[1], dtype=np.int64)
    data = chunk.buffers()[2]
    return (chunk, bounds[chunk.offset : chunk.offset + len(chunk) + 1],
            memoryview(data) if data is not None else memoryview(b""))  # fmt: skip


def _is_identity(order: Any, length: int) -> bool:
    import numpy as np

    return len(order) == length and bool((order == np.arange(length)).all())


class TextColumn:
    """The messages' text column, gathered into one growing memory map.

    Each chunk's bytes are copied in as the chunk is made, and the chunk is dropped; the map
    grows with ``mremap`` (no copy) and the finished column is an Arrow array over the map
    itself. Combining the chunks at the end instead held the chunks and their combined copy
    at once, twice the text: 1.1 GB more at a million examples, and Arrow's allocator
    (mimalloc) kept that memory for the rest of the run. The map is of a memory file
    (``memfd``) where there is one, so a helper process can map the same pages instead of
    receiving a copy (:class:`SharedText`); otherwise it is private anonymous memory.
    """

    def __init__(self, growable: bool | None = None, file: int | None = None) -> None:
        """``file``: an empty memory file to gather the text in, instead of a new one (a
        helper writes its half of a file's text where its parent can read it: take_file)."""
        self._growable = GROWABLE_MAPS if growable is None else growable
        self._map: mmap.mmap | None = None
        self._given = file if self._growable else None
        self._file: int | None = None  # the memory file behind the map, when there is one
        self._used = 0
        self._rows = 0
        self._offsets: list[Any] = []  # numpy int64 arrays: each chunk's end offsets
        self._chunks: list[Any] = []  # where maps cannot grow: the chunks themselves

    def __len__(self) -> int:
        return self._rows

    def append(self, chunk: Any) -> None:
        """Copy a string array (no nulls: every row has a text, maybe "") in."""

        chunk, bounds, data = _text_bytes(chunk)
        self._rows += len(chunk)
        if not self._growable:
            self._chunks.append(chunk)
            return
        start, end = (int(bounds[0]), int(bounds[-1])) if len(bounds) else (0, 0)
        self._reserve(end - start)
        if end > start:
            assert self._map is not None
            self._map[self._used : self._used + end - start] = data[start:end]
        self._offsets.append(bounds[1:] - start + self._used)
        self._used += end - start

    def append_interleaved(self, interleaved: Interleaved) -> None:
        """Copy in the rows of several string arrays (no nulls) in a mixed order: the rows
        ``interleaved.order`` picks from the arrays one after the other. A run of rows that
        are consecutive in one array is one copy of its bytes: a fast-lane block (dslint.lean)
        is long runs of plain lines between a few others, and concatenating its two sources
        and taking the order (two copies of every text) was half the time of merging them
        (0.22 s of 0.45 s in this process, a re-run of the 100k benchmark file, cProfile)."""
        import numpy as np
        import pyarrow as pa

        sources, order = interleaved.sources, np.asarray(interleaved.order, dtype=np.int64)
        if not self._growable or len(sources) == 1:
            wide = [source.cast(pa.large_string()) for source in sources]
            merged = wide[0] if len(wide) == 1 else pa.concat_arrays(wide)
            self.append(merged if _is_identity(order, len(merged)) else merged.take(order))
            return
        starts: list[Any] = []
        ends: list[Any] = []
        owners: list[Any] = []
        views: list[memoryview] = []
        for number, source in enumerate(sources):
            _, bounds, data = _text_bytes(source)  # widened without copying the text
            starts.append(bounds[:-1])
            ends.append(bounds[1:])
            owners.append(np.full(len(source), number, dtype=np.int8))
            views.append(data)
        begin: Any = np.concatenate(starts)[order]
        finish: Any = np.concatenate(ends)[order]
        owner: Any = np.concatenate(owners)[order]
        lengths = finish - begin
        rows = len(order)
        # Where a new run starts: another array, or bytes that do not follow the last row's.
        fresh = np.ones(rows, dtype=bool)
        fresh[1:] = (owner[1:] != owner[:-1]) | (begin[1:] != finish[:-1])
        firsts = np.flatnonzero(fresh)
        lasts = np.append(firsts[1:], rows) - 1
        ends_here = np.cumsum(lengths)
        self._reserve(int(ends_here[-1]) if rows else 0)
        if rows:
            assert self._map is not None
            target = self._map
            at = (ends_here - lengths)[firsts] + self._used
            for where, source, low, high in zip(at.tolist(), owner[firsts].tolist(),
                                                begin[firsts].tolist(), finish[lasts].tolist(),
                                                strict=True):  # fmt: skip
                if high > low:
                    target[where : where + high - low] = views[source][low:high]
        self._rows += rows
        self._offsets.append(ends_here + self._used)
        self._used += int(ends_here[-1]) if rows else 0

    def _reserve(self, size: int) -> None:
        needed = self._used + size
        try:
            if self._map is None:
                self._map = self._new_map(max(needed, 1 << 24))
            elif needed > len(self._map):
                # A quarter more each time: few remaps, and little address space reserved
                # beyond the text (what a RLIMIT_AS budget counts).
                self._map.resize(max(needed, len(self._map) + len(self._map) // 4))
        except OSError as exc:  # ENOMEM from mmap or mremap: out of memory, said as such
            raise MemoryError(str(exc)) from None

    def _new_map(self, size: int) -> mmap.mmap:
        if self._given is not None:
            # Its owner (dslint.shards) closes it: the map keeps the memory alive meanwhile.
            os.ftruncate(self._given, size)
            self._file = self._given
            return mmap.mmap(self._given, size)
        # A memory file: a helper process can map the same pages (SharedText). Growing the
        # map grows the file first, so every page of it exists. Without one (a sandbox that
        # forbids them, another system) the map is private memory, below.
        descriptor = memory_file("dslint-text")
        if descriptor is not None:
            try:
                os.ftruncate(descriptor, size)
                made = mmap.mmap(descriptor, size)
            except OSError:
                os.close(descriptor)
                raise
            # The descriptor lives as long as the map (and so the column made over it).
            weakref.finalize(made, os.close, descriptor)
            self._file = descriptor
            return made
        # Private: Python's default for an anonymous map is shared memory, whose pages past
        # the first size fault (SIGBUS) once the map has grown.
        return mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)

    def take_file(self, shared: SharedText) -> None:
        """Move a column that another process gathered in a memory file to the end of this
        one: copied from the file's end backwards, a block at a time, the file cut short
        behind each block, so the text is not held twice (0.55 GB at a million examples,
        when a helper's half arrived as a pickle). Leaves the file empty."""
        import numpy as np

        if not self._growable:
            self.append(shared.array())  # the chunks keep a map of the file
            return
        offsets = np.asarray(shared.offsets, dtype=np.int64)
        start, end = int(offsets[0]), int(offsets[-1])
        self._reserve(end - start)
        if end > start:
            assert self._map is not None
            target = memoryview(self._map)
            try:
                position = end
                while position > start:
                    block = max(start, position - TAKE_BLOCK)
                    into = target[self._used + block - start : self._used + position - start]
                    if os.preadv(shared.descriptor, [into], block) != position - block:
                        raise OSError(f"short read from the text of a helper at {block}")
                    os.ftruncate(shared.descriptor, block)
                    position = block
            finally:
                target.release()
        self._offsets.append(offsets[1:] - start + self._used)
        self._used += end - start
        self._rows += shared.rows

    def finish(self) -> Any:
        """The column as one Arrow large-string array (then nothing more can be appended)."""
        import numpy as np
        import pyarrow as pa

        if not self._growable:
            chunks, self._chunks = self._chunks, []
            return pa.chunked_array(chunks, type=pa.large_string()).combine_chunks()
        offsets = np.concatenate([np.zeros(1, dtype=np.int64), *self._offsets])
        self._offsets = [offsets[1:]]
        # The text's bytes only, not the map's spare room: pickling an array (to send it to
        # or from a helper) writes its whole buffers.
        whole = pa.py_buffer(self._map) if self._map is not None else pa.py_buffer(b"")
        data = whole.slice(0, self._used)
        array = pa.LargeStringArray.from_buffers(self._rows, pa.py_buffer(offsets), data)
        if self._file is not None and self._map is not None:
            _SHARED[data.address] = (self._file, self._used)
            weakref.finalize(self._map, _SHARED.pop, data.address, None)
        return array


def _image_details(content: Any) -> str | None:
    """The detail level of each image part of a content list ("low,auto"), or None."""
    if not isinstance(content, list):
        return None
    details = []
    for part in content:
        if isinstance(part, dict) and part.get("type") == "image_url":
            image = part.get("image_url")
            detail = image.get("detail") if isinstance(image, dict) else None
            details.append(detail if isinstance(detail, str) else "auto")
    return ",".join(details) if details else None


def _image_key(content: Any) -> str:
    """A short hash of a message's image URLs: which images, without keeping (base64) data."""
    from dslint.fingerprint import text_digest

    urls = [
        str(part["image_url"].get("url"))
        for part in content
        if isinstance(part, dict) and isinstance(part.get("image_url"), dict)
    ]
    return text_digest("\n".join(urls))


def _tools_of(value: dict[str, Any]) -> Any:
    """A record's tool definitions (``tools``, or the older ``functions``), if any."""
    inner = value.get("input")
    container: dict[str, Any] = inner if isinstance(inner, dict) else value
    return container.get("tools") or container.get("functions")


# Made once: json.dumps with options makes a new encoder for each call (half the time of
# encoding a message's tool calls).
_encode = json.JSONEncoder(ensure_ascii=False).encode
_encode_sorted = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


_ARROW_TYPES = {"category": "string", "text": "large_string", "int64": "int64",
                "int32": "int32", "int16": "int32", "bool": "bool_", "Int8": "int8"}  # fmt: skip


def _arrow_chunk(rows: list[tuple[Any, ...]], kinds: dict[str, str]) -> dict[str, Any]:
    """One chunk's Arrow arrays from rows whose values are in the order of ``kinds``; a
    category column is dictionary-encoded at once, so the chunks of a large file do not
    hold a string per row until the frame is built."""
    import pyarrow as pa

    chunk = {}
    columns = zip(*rows, strict=True) if rows else ([] for _ in kinds)  # no rows: empty
    for (name, kind), values in zip(kinds.items(), columns, strict=True):
        array = pa.array(values, type=_arrow_type(kind))
        chunk[name] = array.dictionary_encode() if kind == "category" else array
    return chunk


def merged_chunks(
    plain: tuple[dict[str, Any], dict[str, Any], Any, Any] | None, records: list[Record]
) -> tuple[dict[str, Any], dict[str, Any], Interleaved]:
    """One chunk of each frame, and its text, from two sources of one block's lines:
    ``plain``, the columns of plain lines that Arrow read (dslint.lean: records chunk,
    messages chunk, text, and each record's index; category columns dictionary-encoded, as
    here), and ``records`` read in Python. The two are put together and sorted by record
    index (stably: each source keeps its rows' order)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = _Rows()
    for record in records:
        rows.add(record)
    own = (_arrow_chunk(rows.records, RECORD_COLUMNS),
           _arrow_chunk(rows.messages, MESSAGE_COLUMNS))  # fmt: skip
    own_text = own[1].pop("text")
    own_index = np.fromiter((r.index for r in records), dtype=np.int64, count=len(records))
    if plain is None:
        parts = [(own[0], own[1], own_text, own_index)]
    else:
        parts = [plain, (own[0], own[1], own_text, own_index)]
    record_order = np.argsort(np.concatenate([p[3] for p in parts]), kind="stable")
    message_records = np.concatenate([p[1]["record"].to_numpy() for p in parts])
    message_order = np.argsort(message_records, kind="stable")

    def combine(pieces: list[Any], kind: str, order: Any) -> Any:
        if kind != "category":
            return pa.concat_arrays([p.cast(_arrow_type(kind)) for p in pieces]).take(order)
        # The pieces' dictionaries one after the other, each piece's codes moved past the
        # ones before: no string is touched (a value in both dictionaries is two entries,
        # merged when the frame is made: _categorical).
        codes, entries, before = [], [], 0
        for piece in pieces:
            codes.append(pc.add(piece.indices.cast(pa.int32()), before))
            entries.append(piece.dictionary.cast(pa.string()))
            before += len(piece.dictionary)
        return pa.DictionaryArray.from_arrays(
            pa.concat_arrays(codes).take(order), pa.concat_arrays(entries)
        )

    record_chunk = {name: combine([p[0][name] for p in parts], kind, record_order)
                    for name, kind in RECORD_COLUMNS.items()}  # fmt: skip
    message_chunk = {name: combine([p[1][name] for p in parts], kind, message_order)
                     for name, kind in MESSAGE_COLUMNS.items() if name != "text"}  # fmt: skip
    # The text is copied once, run by run, where the builder gathers it (TextColumn).
    return record_chunk, message_chunk, Interleaved([p[2] for p in parts], message_order)


def _arrow_type(kind: str) -> Any:
    import pyarrow as pa

    return getattr(pa, _ARROW_TYPES[kind])()


def _frame(
    chunks: list[dict[str, Any]],
    kinds: dict[str, str],
    index: str | None = None,
    text: Any | None = None,
) -> pd.DataFrame:
    """One frame from Arrow chunks; ``text``, when given, is the whole "text" column."""
    import pandas as pd
    import pyarrow as pa

    data = {}
    for name, kind in kinds.items():
        if name == "text" and text is not None:
            data[name] = _pandas_column(text, kind)
            continue
        pieces = [c.pop(name) for c in chunks]  # the chunks are released column by column
        if kind == "category":
            data[name] = _categorical(pieces, FIXED_CATEGORIES.get(name))
            continue
        # One contiguous array per column: Arrow's take, filters and string kernels on a
        # chunked column concatenate it first, each time (a filter of the text column was
        # 13x slower on 8 chunks than on one).
        column = pa.chunked_array(pieces, type=_arrow_type(kind))
        del pieces
        data[name] = _pandas_column(column.combine_chunks(), kind)
        del column
        give_back()  # the column's chunks: the next column's copy can reuse their memory
    # copy=False: the columns become the frame's blocks as they are. By default pandas copies
    # the numeric columns into one 2-D block per type, holding them twice for a moment.
    frame: pd.DataFrame = pd.DataFrame(data, copy=False)
    del data
    if index is not None:
        frame.index.name = index
    # The chunks, now combined into the frame's columns. The caller gives back again once
    # this function's locals are gone (80 MB more at a million examples).
    give_back()
    return frame


#: Category columns whose categories are fixed whatever the data holds.
FIXED_CATEGORIES = {"split": ["train", "validation"]}


def _categorical(pieces: list[Any], categories: list[str] | None = None) -> Any:
    """A pandas Categorical of Arrow string chunks, as ``pd.Categorical(values)`` would make
    it (categories sorted, nulls missing), without a Python object per row or per distinct
    value: Arrow encodes each chunk, merges and sorts the chunks' dictionaries (byte order
    of UTF-8 is code point order, as Python sorts), and the codes are remapped chunk by
    chunk (no combined copy of the strings). A column of mostly distinct values (tool calls
    in a tool-heavy file) costs Arrow strings, never Python ones."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = [p if pa.types.is_dictionary(p.type) else p.dictionary_encode() for p in pieces]
    # Every chunk's dictionary, one after the other, encoded once: ``found`` numbers each
    # entry by its distinct value (in order of first appearance).
    entries = pa.chunked_array(
        [chunk.dictionary.cast(pa.large_string()) for chunk in encoded], pa.large_string()
    ).combine_chunks()
    if categories is not None:
        wanted = pa.array(categories, pa.large_string())
        position = pc.index_in(entries, value_set=wanted).fill_null(-1)
    else:
        found = pc.dictionary_encode(entries)
        order = pc.sort_indices(found.dictionary).to_numpy()
        wanted = found.dictionary.take(order)
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        position = rank[found.indices.to_numpy(zero_copy_only=False)]
    positions = np.asarray(position, dtype=np.int64)
    dtype = pd.CategoricalDtype(pd.Index(pd.array(wanted, dtype="str")))
    codes = np.empty(sum(len(piece) for piece in pieces), dtype=_code_type(len(wanted)))
    start = first_entry = 0
    for chunk in encoded:
        entry_count = len(chunk.dictionary)
        # The last entry, -1, is where a null's index (filled with -1) lands.
        remap = np.append(positions[first_entry : first_entry + entry_count], -1)
        first_entry += entry_count
        indices = chunk.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        codes[start : start + len(chunk)] = remap.astype(codes.dtype)[indices]
        start += len(chunk)
    return pd.Categorical.from_codes(codes, dtype=dtype)


def _code_type(categories: int) -> Any:
    import numpy as np

    for candidate in (np.int8, np.int16, np.int32):
        if categories < np.iinfo(candidate).max:
            return candidate
    return np.int64


def _pandas_column(column: Any, kind: str) -> Any:
    """The pandas array of one contiguous Arrow array (not a category: see _categorical)."""
    import numpy as np
    import pandas as pd

    if kind == "text":
        return pd.arrays.ArrowStringArray(column)
    if kind == "Int8":
        values = column.fill_null(0).to_numpy(zero_copy_only=False)
        mask = column.is_null().to_numpy(zero_copy_only=False)
        return pd.arrays.IntegerArray(values.astype(np.int8), mask)
    values = column.to_numpy(zero_copy_only=False)
    if kind == "int16" and (not len(values) or -(2**15) <= values.min() <= values.max() < 2**15):
        return values.astype(np.int16)
    return values if kind != "bool" else values.astype(bool)


def arrow_strings(column: pd.Series) -> Any:
    """A string column's values as one Arrow ``large_string`` array (nulls where missing),
    whether the frame keeps it as Arrow strings (``text``) or as a category."""
    import pandas as pd
    import pyarrow as pa

    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        categories = pa.array(column.cat.categories.array, pa.large_string())
        return categories.take(pa.array(codes, mask=codes < 0))
    if not len(column):
        return pa.array([], pa.large_string())
    array = pa.array(column.array, pa.large_string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    return array


def message_label(role: object) -> str:
    """How a finding names a messages row: "user message", or "message" when the row has no
    role (a missing category value)."""
    return f"{role} message" if isinstance(role, str) else "message"


def iter_text(dataset: Dataset, roles: Iterable[str] | None = None) -> pd.DataFrame:
    """The message rows with text, optionally only for some roles (a helper for text rules)."""
    frame = dataset.messages
    if roles is not None:
        frame = frame[frame["role"].isin(list(roles))]
    selected: pd.DataFrame = frame[frame["text"].str.len() > 0]
    return selected
