"""Find the input files and stream them line by line into :class:`Record` objects.

Every physical line becomes a record with its file, 1-based line number and byte offset,
even when it is not valid JSON: such a line carries a :class:`LoadProblem` that a rule turns
into a finding. Nothing here raises on bad *data*; only an unusable *path* raises
:class:`InputError` (exit 2).
"""

from __future__ import annotations

import errno
import glob
import gzip
import hashlib
import json
import math
import os
import re
import stat
import threading
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dslint.models import Target

DATA_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
GZIP_MAGIC = b"\x1f\x8b"
LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/v1"
BOM = "\ufeff"
# Deeper nesting than this is refused before any rule walks the value. Real examples nest
# a dozen levels at most (tool parameter schemas); serde_json's default recursion limit is
# 128, and Python's own recursion limit would otherwise surface as a crash inside a rule.
MAX_DEPTH = 128
# How much of a file's start is sampled to tell binary data from text.
BINARY_SAMPLE = 8192
# Share of control or non-UTF-8 bytes in that sample above which a file is called binary.
BINARY_RATIO = 0.10
# Bytes that occur in JSONL text; every other byte below 0x80 is a control byte.
_TEXT_BYTES = bytes([9, 10, 12, 13, *range(0x20, 0x7F), *range(0x80, 0x100)])
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
# Lines longer than this are viewed, not copied, to drop their line end.
_LONG_LINE = 1 << 20
# File signatures worth naming when a binary file is given instead of JSONL.
_SIGNATURES = (
    (b"\xff\xfe", "text in UTF-16 or UTF-32 (little-endian), not UTF-8: save it as UTF-8"),
    (b"\xfe\xff", "text in UTF-16 (big-endian), not UTF-8: save it as UTF-8"),
    (b"PAR1", "a Parquet file"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\xfd7zXZ\x00", "an xz-compressed file (decompress it first)"),
    (b"\x28\xb5\x2f\xfd", "a zstd-compressed file (decompress it first)"),
    (b"BZh", "a bzip2-compressed file (decompress it first)"),
    (b"ARROW1", "an Arrow file"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x93NUMPY", "a NumPy array file"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"%PDF-", "a PDF document"),
)


class InputError(Exception):
    """A path that cannot be read at all (missing, a folder with no data, permission)."""


@dataclass(frozen=True, slots=True)
class LoadProblem:
    """Something the loader noticed about one line; rules S001-S006 report these."""

    # invalid-json | invalid-utf8 | not-object | duplicate-key | non-finite | blank | bom
    # | bare-cr | lone-surrogate
    kind: str
    message: str
    column: int | None = None
    pointer: str = ""  # where in the record, when the problem is inside a parsed value


@dataclass
class FileInfo:
    """What is known about one input file once it has been read."""

    path: str  # as shown in reports: relative to the working directory where possible
    real_path: Path
    split: str = "train"  # "train", or "validation" for files given with --validation
    size: int = 0
    gzip: bool = False
    lfs_pointer: bool = False
    lines: int = 0
    examples: int = 0  # non-blank lines, as the API counts them
    objects: int = 0  # lines that parsed to a JSON object
    formats: Counter[str] = field(default_factory=Counter)
    image_examples: int = 0  # examples with at least one image part
    format: str = "unknown"  # the file's dominant format (see dslint.formats)
    # The first lines (up to ODD_LINES_KEPT) whose format is another one: S021 names them.
    odd_lines: list[int] = field(default_factory=list)
    read_error: str | None = None  # e.g. a truncated gzip stream, with where it stopped
    binary: str | None = None  # why the file was judged binary (then no line is read)
    changed: str | None = None  # how the file changed while it was being read
    ends_with_newline: bool = True
    target: Target | None = None  # the model this file is checked against (see dslint.models)


#: How many lines in a format other than their file's are remembered to be named.
ODD_LINES_KEPT = 5


@dataclass(slots=True)
class Record:
    """One line of an input file, parsed if it could be."""

    index: int  # row in the dataset's records frame, unique across files
    file: FileInfo
    line: int
    offset: int  # byte offset of the line's start (in the decompressed stream for .gz)
    raw: str  # the decoded line without its line ending ("" if it is not UTF-8)
    value: Any = None
    problems: list[LoadProblem] = field(default_factory=list)
    format: str = "unknown"
    content_hash: int = 0  # 64-bit hash of the line's content, for fingerprints
    cache: dict[str, Any] = field(default_factory=dict)  # per-record work shared by rules

    @property
    def path(self) -> str:
        return self.file.path

    @property
    def is_object(self) -> bool:
        return isinstance(self.value, dict)

    @property
    def is_blank(self) -> bool:
        return any(p.kind == "blank" for p in self.problems)


def display_path(path: Path) -> str:
    """The path as users expect it in reports: relative to the cwd when below it, POSIX style.

    A file name that is not UTF-8 arrives with surrogate escapes, which no UTF-8 report can
    hold; its odd bytes are shown as ``\\xNN`` instead.
    """
    try:
        rel = os.path.relpath(path)
    except ValueError:  # a different drive on Windows
        rel = path.as_posix()
    text = Path(path if rel.startswith("..") else rel).as_posix()
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def resolve_paths(paths: Sequence[str]) -> list[Path]:
    """Expand files, folders (recursively, data suffixes only) and globs, in a stable order."""
    found: list[Path] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        key = p.resolve() if p.exists() else p
        if key not in seen:
            seen.add(key)
            found.append(p)

    for given in paths:
        p = Path(given)
        if p.is_dir():
            children = sorted(c for c in _walk(p) if c.name.endswith(DATA_SUFFIXES) and c.is_file())
            if not children:
                raise InputError(f"{given}: folder holds no .jsonl, .jsonl.gz or .ndjson file")
            for child in children:
                add(child)
        elif p.exists() or p.is_symlink():
            if p.is_symlink() and not p.exists():
                raise InputError(f"{given}: {_dangling(p)}")
            if not os.access(p, os.R_OK):
                raise InputError(f"{given}: permission denied")
            add(p)
        elif glob.has_magic(given):
            matches = sorted(glob.glob(given, recursive=True))
            files = [Path(m) for m in matches if Path(m).is_file()]
            if not files:
                raise InputError(f"{given}: no file matches this pattern")
            for m in files:
                add(m)
        else:
            raise InputError(f"{given}: no such file or folder")
    return found


def _dangling(link: Path) -> str:
    try:
        os.stat(link)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop (the link points back to itself)"
    return "broken symbolic link"


def _walk(folder: Path) -> Iterator[Path]:
    # os.walk does not follow symlinked folders, so a symlink loop cannot trap it.
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            yield Path(root) / name


@dataclass(frozen=True)
class Span:
    """A part of a plain (uncompressed) file: the bytes from ``start`` (a line start) up to
    ``stop`` (a line start, or None for the end), whose first line is number ``first_line``.
    dslint.shards reads one large file as two spans, one per core."""

    start: int = 0
    stop: int | None = None
    first_line: int = 1


WHOLE = Span()


def read_file(
    path: Path, first_index: int = 0, split: str = "train", span: Span = WHOLE
) -> tuple[FileInfo, Iterator[Record]]:
    """Open one file; return its info (filled in while reading) and its records.

    With a ``span`` (plain files only), only that part's lines are read; ``info`` then
    counts that part's lines and examples.

    Raises :class:`InputError` when the file cannot be opened at all.
    """
    info = FileInfo(path=display_path(path), real_path=path, split=split)
    shown = display_path(path)
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed by _records)
    except IsADirectoryError:
        raise InputError(f"{shown}: is a folder, not a data file") from None
    except OSError as exc:
        raise InputError(f"{shown}: {exc.strerror or exc}") from None
    try:
        status = os.fstat(handle.fileno())
        info.size = status.st_size
        info.gzip = handle.read(2) == GZIP_MAGIC
        handle.seek(0)
    except OSError as exc:
        handle.close()
        raise InputError(f"{shown}: {exc.strerror or exc}") from None
    if span is not WHOLE and (info.gzip or span.start):
        if info.gzip:
            handle.close()
            raise ValueError("a span of a compressed file cannot be read on its own")
        handle.seek(span.start)
    return info, _records(handle, status, info, first_index, span)


def _records(
    handle: Any, opened: os.stat_result, info: FileInfo, index: int, span: Span = WHOLE
) -> Iterator[Record]:
    offset = span.start
    number = span.first_line - 1
    stop = span.stop
    stream: Any = gzip.GzipFile(fileobj=handle, mode="rb") if info.gzip else handle
    with handle, stream:
        try:
            if span.start == 0:
                info.binary = binary_kind(stream.peek(BINARY_SAMPLE)[:BINARY_SAMPLE])
                if info.binary:
                    return
            for raw in stream:
                if stop is not None and offset >= stop:
                    return  # the next span's first line
                number += 1
                if number == 1 and raw.startswith(LFS_POINTER_PREFIX):
                    info.lfs_pointer = True
                    return
                record = parse_line(raw, info, number, offset, index)
                offset += len(raw)
                info.lines = number
                info.ends_with_newline = raw.endswith(b"\n")
                tally(info, record)
                index += 1
                yield record
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            info.read_error = f"compressed stream is damaged after line {number}: {exc}"
            return
        except OSError as exc:
            info.read_error = f"reading stopped after line {number}: {exc.strerror or exc}"
            return
        info.changed = _change(opened, handle, offset, info.gzip)


def tally(info: FileInfo, record: Record) -> None:
    """Count a line read into its file's examples (every line but a blank one) and objects."""
    if not (record.problems and record.is_blank):
        info.examples += 1
    if record.is_object:
        info.objects += 1


def _change(opened: os.stat_result, handle: Any, read: int, compressed: bool) -> str | None:
    """How the file changed between opening and the end of reading, if it did."""
    try:
        now = os.fstat(handle.fileno())
    except OSError:
        return None
    if not stat.S_ISREG(opened.st_mode):
        return None  # a pipe or a device has no size to compare
    grew = not compressed and read != opened.st_size
    if now.st_size != opened.st_size or now.st_mtime_ns != opened.st_mtime_ns or grew:
        end = now.st_size if now.st_size != opened.st_size else read
        return (
            f"the file changed while it was read ({opened.st_size:,} bytes when opened, "
            f"{end:,} at the end): check it again once whatever writes it has finished"
        )
    return None


def binary_kind(sample: bytes) -> str | None:
    """Why ``sample`` (the start of a file) is not JSONL text, or None when it looks like text."""
    for signature, description in _SIGNATURES:
        if sample.startswith(signature):
            return description if ":" in description else f"this is {description}, not JSONL text"
    if not sample:
        return None
    even, odd = sample[::2].strip(b"\x00"), sample[1::2].strip(b"\x00")
    if len(sample) >= 4 and bool(even) != bool(odd):  # one half all zero, the other not
        return "this is text in UTF-16 (every other byte is zero), not UTF-8: save it as UTF-8"
    controls = len(sample.translate(None, _TEXT_BYTES))
    decoded = sample.decode("utf-8", errors="replace")
    invalid = decoded.count("\ufffd") - sample.count("\ufffd".encode())
    # A multi-byte character cut by the sample's end is not evidence of binary data.
    invalid -= 1 if decoded.endswith("\ufffd") else 0
    share = (controls + max(invalid, 0)) / len(sample)
    if share > BINARY_RATIO:
        return (
            f"the file looks binary, not JSONL text ({share:.0%} of its first "
            f"{len(sample):,} bytes are control bytes or not UTF-8)"
        )
    return None


def parse_line(raw: bytes, info: FileInfo, number: int, offset: int, index: int) -> Record:
    """Decode and parse one physical line; never raises on bad content."""
    record = Record(index=index, file=info, line=number, offset=offset, raw="")
    body = _body(raw)
    record.content_hash = _body_hash(body)
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else str(body, "utf-8")
    except UnicodeDecodeError as exc:
        column = len(bytes(body[: exc.start]).decode("utf-8", errors="replace")) + 1
        record.problems.append(
            LoadProblem("invalid-utf8", f"byte 0x{body[exc.start]:02x} is not valid UTF-8", column)
        )
        return record
    del body
    if text.startswith(BOM):
        if number == 1:
            record.problems.append(
                LoadProblem("bom", "the file starts with a UTF-8 byte order mark")
            )
            text = text[1:]
        else:
            record.raw = text
            record.problems.append(
                LoadProblem(
                    "invalid-json",
                    "the line starts with a byte order mark (U+FEFF), which JSON parsers reject; "
                    "files were probably joined together: remove it",
                    1,
                )
            )
            return record
    record.raw = text
    if not text.strip():
        record.problems.append(LoadProblem("blank", "blank line"))
        return record
    value = _parse_json(text, record.problems)
    if value is _UNPARSED:
        _explain_failure(text, record.problems)
        return record
    record.value = value
    if not isinstance(value, dict):
        kind = type(value).__name__
        kind = {"list": "an array", "str": "a string", "bool": "a boolean", "NoneType": "null"}.get(
            kind, "a " + kind
        )
        record.problems.append(LoadProblem("not-object", f"the line is {kind}, not a JSON object"))
    return record


_WHITESPACE_BYTES = b" \t\n\r\x0b\x0c"


def _body(raw: bytes) -> bytes | memoryview:
    """A physical line without its line end (``\n`` or ``\r\n``)."""
    end = len(raw) - 1 if raw.endswith(b"\n") else len(raw)
    if end and raw[end - 1] == 0x0D:
        end -= 1
    # A view, not a slice, of a long line: a 100 MB line is not copied once more.
    return memoryview(raw)[:end] if len(raw) > _LONG_LINE else raw[:end]


def content_hash(raw: bytes) -> int:
    """The record content hash of a physical line (``Record.content_hash``): its body without
    the line end and surrounding whitespace. ``--changed-since`` compares lines by it."""
    return _body_hash(_body(raw))


def _body_hash(body: bytes | memoryview) -> int:
    return _hash64(_strip(body) if isinstance(body, memoryview) else body.strip())


def plain_text(head: bytes) -> bool:
    """Whether a file that starts with ``head`` is JSONL text as it is: not compressed, not a
    Git LFS pointer, not binary (the loader reports those, line by line or as a file)."""
    return not (
        head.startswith(GZIP_MAGIC)
        or head.startswith(LFS_POINTER_PREFIX)
        or binary_kind(head[:BINARY_SAMPLE]) is not None
    )


def _strip(body: memoryview) -> memoryview:
    """``bytes.strip()`` without copying the line."""
    start, end = 0, len(body)
    while start < end and body[start] in _WHITESPACE_BYTES:
        start += 1
    while end > start and body[end - 1] in _WHITESPACE_BYTES:
        end -= 1
    return body[start:end]


def _explain_failure(text: str, problems: list[LoadProblem]) -> None:
    """Replace the parser's message where the real cause is a line-level accident."""
    last = problems[-1]
    if last.kind != "invalid-json":
        return
    if "\r" in text:
        # A raw CR cannot be inside a JSON string, so it separates values: the lines of this
        # file end in bare CRs (classic Mac OS), and every LF-based reader sees one line.
        pieces = text.count("\r") + 1
        problems[-1] = LoadProblem(
            "bare-cr",
            f"lines end in a bare carriage return (CR) instead of LF, so {pieces:,} lines read "
            "as one invalid line: convert the line ends to LF ('dslint fix' does)",
            text.index("\r") + 1,
        )
    elif "\x00" in text:
        problems[-1] = LoadProblem(
            "invalid-json",
            "invalid JSON: the line holds a NUL byte (0x00); the file may be damaged or padded",
            text.index("\x00") + 1,
        )


def _hash64(data: bytes | memoryview) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big", signed=True)


_UNPARSED: Any = object()  # _parse_json's result for a line that is not JSON (null is JSON)


class _Decoder(threading.local):
    """A JSON decoder whose hooks note duplicate keys and non-finite numbers, one per thread
    and reused for every line: ``json.loads`` with hooks builds a new decoder and scanner on
    each call: about 2 µs of the 16 µs that parsing a line of chat took."""

    def __init__(self) -> None:
        self.duplicates: list[str] = []
        self.non_finite: list[str] = []
        self.decode = json.JSONDecoder(
            object_pairs_hook=self._pairs,
            parse_constant=self._constant,
            parse_float=self._float,
        ).decode

    def _pairs(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen and key not in self.duplicates:
                    self.duplicates.append(key)
                seen.add(key)
        return obj

    def _constant(self, name: str) -> float:
        self.non_finite.append(name)
        return float(name.replace("Infinity", "inf"))

    def _float(self, literal: str) -> float:
        value = float(literal)
        if math.isinf(value):
            self.non_finite.append(literal)
        return value


_DECODER = _Decoder()


def _parse_json(text: str, problems: list[LoadProblem]) -> Any:
    decoder = _DECODER
    duplicates: list[str] = []
    non_finite: list[str] = []
    decoder.duplicates = duplicates  # this line's own lists: a failed parse leaves nothing
    decoder.non_finite = non_finite
    try:
        value = decoder.decode(text)
    except json.JSONDecodeError as exc:
        problems.append(LoadProblem("invalid-json", f"invalid JSON: {exc.msg}", exc.colno))
        return _UNPARSED
    except RecursionError:
        problems.append(_too_deep())
        return _UNPARSED
    except ValueError:  # an integer longer than Python's int/str conversion limit (4,300 digits)
        problems.append(
            LoadProblem("invalid-json", "invalid JSON: a number has too many digits to read", 1)
        )
        return _UNPARSED
    # Cheap guard first: a line with few brackets cannot nest deeply.
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth_exceeds(value, MAX_DEPTH):
        problems.append(_too_deep())
        return _UNPARSED
    # One regex search: four times cheaper than looking for "\\ud" and "\\uD" in a line
    # full of escaped line breaks.
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate_escape(text):
        value = _replace_lone_surrogates(value, "", problems)
    for key in duplicates:
        problems.append(
            LoadProblem("duplicate-key", f"key {key!r} appears more than once in one object")
        )
    for literal in dict.fromkeys(non_finite):
        problems.append(
            LoadProblem(
                "non-finite",
                f"number {literal} is not valid JSON (NaN and Infinity are rejected by the API)",
            )
        )
    return value


def _too_deep() -> LoadProblem:
    return LoadProblem(
        "invalid-json",
        f"invalid JSON: nested too deeply to check safely (more than {MAX_DEPTH} levels)",
        1,
    )


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Is any container nested deeper than ``limit``? (Iterative: no recursion to overflow.)"""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, (dict, list)))
    return False


def _has_lone_surrogate_escape(text: str) -> bool:
    """Is there a high-surrogate escape not followed by a low one, or a low one alone?

    A well-formed pair (an emoji written with ``ensure_ascii``) is not; an escaped backslash
    before ``u`` may give a false alarm, which only costs a walk over the value.
    """
    low_expected_at = -1
    for match in _SURROGATE_ESCAPE.finditer(text):
        if match.group()[3] in "cdefCDEF":
            if match.start() != low_expected_at:
                return True
            low_expected_at = -1
        elif low_expected_at != -1:
            return True
        else:
            low_expected_at = match.end()
    return low_expected_at != -1


def _has_lone_surrogate(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _clean(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text)


def _replace_lone_surrogates(value: Any, pointer: str, problems: list[LoadProblem]) -> Any:
    """Report each string that holds a lone surrogate and replace it by U+FFFD.

    ``json.loads`` accepts ``"\\ud800"``, but such a string cannot be encoded as UTF-8: the API
    rejects the line, and pyarrow, reporters and tokenizers would fail on it downstream.
    Depth is bounded by :data:`MAX_DEPTH` before this runs, so recursion is safe here.
    """
    from dslint.locate import join_pointer

    if isinstance(value, str):
        if _has_lone_surrogate(value):
            problems.append(
                LoadProblem(
                    "lone-surrogate",
                    "a \\u escape encodes half of a surrogate pair, which is not valid Unicode "
                    "text and cannot be encoded as UTF-8; fix or remove the escape",
                    None,
                    pointer,
                )
            )
            return _clean(value)
        return value
    if isinstance(value, list):
        return [
            _replace_lone_surrogates(item, pointer + f"/{position}", problems)
            for position, item in enumerate(value)
        ]
    if isinstance(value, dict):
        cleaned: dict[str, Any] = {}
        for key, item in value.items():
            inner = pointer + join_pointer(key)
            if _has_lone_surrogate(key):
                problems.append(
                    LoadProblem(
                        "lone-surrogate",
                        "a key holds half of a surrogate pair (a lone \\u escape), which is not "
                        "valid Unicode text; fix or remove the escape",
                        None,
                        pointer,
                    )
                )
                key = _clean(key)
                inner = pointer + join_pointer(key)
            cleaned[key] = _replace_lone_surrogates(item, inner, problems)
        return cleaned
    return value
