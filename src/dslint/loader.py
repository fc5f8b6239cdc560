"""Find the input files and stream them line by line into :class:`Record` objects.

Every physical line becomes a record with its file, 1-based line number and byte offset,
even when it is not valid JSON: such a line carries a :class:`LoadProblem` that a rule turns
into a finding. Nothing here raises on bad *data*; only an unusable *path* raises
:class:`InputError` (exit 2).
"""

from __future__ import annotations

import glob
import gzip
import json
import math
import os
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


class InputError(Exception):
    """A path that cannot be read at all (missing, a folder with no data, permission)."""


@dataclass(frozen=True, slots=True)
class LoadProblem:
    """Something the loader noticed about one line; rules S001-S006 report these."""

    kind: str  # invalid-json | invalid-utf8 | not-object | duplicate-key | non-finite | blank | bom
    message: str
    column: int | None = None


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
    read_error: str | None = None  # e.g. a truncated gzip stream, with where it stopped
    ends_with_newline: bool = True
    target: Target | None = None  # the model this file is checked against (see dslint.models)


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
    """The path as users expect it in reports: relative to the cwd when below it, POSIX style."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # a different drive on Windows
        return path.as_posix()
    return Path(path if rel.startswith("..") else rel).as_posix()


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
                raise InputError(f"{given}: broken symbolic link")
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


def _walk(folder: Path) -> Iterator[Path]:
    # os.walk does not follow symlinked folders, so a symlink loop cannot trap it.
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            yield Path(root) / name


def _open_stream(path: Path) -> tuple[Any, bool]:
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == GZIP_MAGIC:
        return gzip.open(path, "rb"), True
    return open(path, "rb"), False


def read_file(
    path: Path, first_index: int = 0, split: str = "train"
) -> tuple[FileInfo, Iterator[Record]]:
    """Open one file; return its info (filled in while reading) and its records.

    Raises :class:`InputError` when the file cannot be opened at all.
    """
    info = FileInfo(path=display_path(path), real_path=path, split=split)
    try:
        info.size = path.stat().st_size
        stream, info.gzip = _open_stream(path)
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a data file") from None
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    return info, _records(stream, info, first_index)


def _records(stream: Any, info: FileInfo, index: int) -> Iterator[Record]:
    offset = 0
    number = 0
    with stream:
        try:
            for raw in stream:
                number += 1
                if number == 1 and raw.startswith(LFS_POINTER_PREFIX):
                    info.lfs_pointer = True
                    return
                record = parse_line(raw, info, number, offset, index)
                offset += len(raw)
                info.lines = number
                info.ends_with_newline = raw.endswith(b"\n")
                if not record.is_blank:
                    info.examples += 1
                if record.is_object:
                    info.objects += 1
                index += 1
                yield record
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            info.read_error = f"compressed stream is damaged after line {number}: {exc}"
        except OSError as exc:
            info.read_error = f"reading stopped after line {number}: {exc.strerror or exc}"


def parse_line(raw: bytes, info: FileInfo, number: int, offset: int, index: int) -> Record:
    """Decode and parse one physical line; never raises on bad content."""
    record = Record(index=index, file=info, line=number, offset=offset, raw="")
    body = raw[:-1] if raw.endswith(b"\n") else raw
    if body.endswith(b"\r"):
        body = body[:-1]
    record.content_hash = _hash64(body.strip())
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        column = len(body[: exc.start].decode("utf-8", errors="replace")) + 1
        record.problems.append(
            LoadProblem("invalid-utf8", f"byte 0x{body[exc.start]:02x} is not valid UTF-8", column)
        )
        return record
    if number == 1 and text.startswith(BOM):
        record.problems.append(LoadProblem("bom", "the file starts with a UTF-8 byte order mark"))
        text = text[1:]
    record.raw = text
    if not text.strip():
        record.problems.append(LoadProblem("blank", "blank line"))
        return record
    record.value = _parse_json(text, record.problems)
    if record.value is not None and not isinstance(record.value, dict):
        kind = type(record.value).__name__
        kind = {"list": "an array", "str": "a string", "bool": "a boolean"}.get(kind, "a " + kind)
        record.problems.append(LoadProblem("not-object", f"the line is {kind}, not a JSON object"))
    return record


def _hash64(data: bytes) -> int:
    import hashlib

    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big", signed=True)


def _parse_json(text: str, problems: list[LoadProblem]) -> Any:
    duplicates: list[str] = []
    non_finite: list[str] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen and key not in duplicates:
                    duplicates.append(key)
                seen.add(key)
        return obj

    def constant_hook(name: str) -> float:
        non_finite.append(name)
        return float(name.replace("Infinity", "inf"))

    def float_hook(literal: str) -> float:
        value = float(literal)
        if math.isinf(value):
            non_finite.append(literal)
        return value

    try:
        value = json.loads(
            text,
            object_pairs_hook=pairs_hook,
            parse_constant=constant_hook,
            parse_float=float_hook,
        )
    except json.JSONDecodeError as exc:
        problems.append(LoadProblem("invalid-json", f"invalid JSON: {exc.msg}", exc.colno))
        return None
    except RecursionError:
        problems.append(
            LoadProblem("invalid-json", "invalid JSON: nested too deeply to parse safely", 1)
        )
        return None
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
