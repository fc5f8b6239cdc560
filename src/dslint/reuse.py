"""Reusing a whole check: when nothing a check depends on has changed, its findings are read
from ``.dslint_cache/`` instead of being worked out again.

The record hits and text memos (:mod:`dslint.cache`) make a re-run *after an edit* cheaper;
this makes a re-run *without one* nearly free. It happens more than one would think:
``pre-commit run --all-files`` over a repository whose other datasets did not change, the
hook after a ``dslint check`` by hand, a second run to get another format. A reused run reads
no dataset, builds no frame and imports no rule (nor pandas): one file is hashed and one
small JSON file is read.

The key is a keyed hash (the cache's secret, as every key in ``.dslint_cache/``) of all that a
check's findings depend on:

* the bytes of every input file, training and validation, and their paths as given
  (findings and ``per-file-ignores`` name them);
* the effective configuration (the config file after command-line overrides) and the bytes
  of the files and folders its values name (a voice profile, a Vale style);
* the date (some rules know when a model is retired);
* dslint's version, the size and time of every file of its code and data packs (an editable
  install changes without a version bump), Python's version and the name and version of every
  installed package (optional ones turn some rules on).

Never reused, because the key cannot cover what they depend on: runs that send data to a
service (remote moderation, LLM review), ``--changed-since`` (git's state), runs with rule
plugins (their code is not stamped). A reused report has no datasets, so callers that draw
figures (HTML) ask for a fresh run (``api.check(reuse=False)``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dslint
from dslint.finding import Category, Finding, Severity
from dslint.report import FileSummary

if TYPE_CHECKING:
    from dslint.cache import Cache
    from dslint.config import Config

# 2: files hashed by pieces (_file_digest); 3: findings keep Finding.pathless and .related
FORMAT = 3
# Runs kept, newest used first: enough for a repository's datasets under pre-commit.
KEEP_RUNS = 32
# What a config may name for its files to be part of the key; beyond, the run is not reused.
MAX_NAMED_FILES = 2_000
MAX_NAMED_BYTES = 64 << 20
# A file is hashed as the digests of its pieces of this size, two pieces at a time on two
# threads when it has several (hashlib lets go of the GIL while it hashes): the 145 MB
# benchmark file in 0.08 s instead of 0.17 s, before anything else of a re-run can start.
PIECE = 8 << 20


@dataclass(frozen=True)
class RunKey:
    """A run's key, and the files it hashed with their sizes and times then."""

    value: str
    paths: tuple[Path, ...]
    stamps: tuple[tuple[int, int], ...]

    def still_valid(self) -> bool:
        """Are the files as they were when hashed? A file edited while it was being checked
        gives findings of neither version: they are not kept."""
        return _stamps(self.paths) == self.stamps


def key(
    store: Cache,
    config: Config,
    files: Sequence[Path],
    validation: Sequence[Path],
    today: str,
) -> RunKey | None:
    """The key of a check of these files under this config, or None when it cannot be reused."""
    if not _offline(config):
        return None
    from dslint.registry import only_built_in_rules

    code = _code_stamp()
    if code is None or not only_built_in_rules():
        return None  # a rule plugin's code is not stamped
    named = _named_files(config)
    if named is None:
        return None
    hashed = (*files, *validation, *named)
    stamps = _stamps(hashed)
    parts: list[str | bytes] = ["run", str(FORMAT), dslint.__version__, code, repr(config), today]
    for role, paths in (("train", files), ("validation", validation), ("named", named)):
        for path in paths:
            content = _file_digest(path)
            if content is None:
                return None
            parts += [role, str(path), content]
    return RunKey(store.hash(*parts), hashed, stamps)


def dependencies(config: Config) -> list[str | bytes] | None:
    """What a check's results depend on besides its data files: dslint's code and data,
    Python and the installed packages, the config and the files it names (their content).
    None when some of it cannot be read (then nothing keyed by it is reused)."""
    code = _code_stamp()
    named = _named_files(config)
    if code is None or named is None:
        return None
    parts: list[str | bytes] = [dslint.__version__, code, repr(config)]
    for path in named:
        content = _file_digest(path)
        if content is None:
            return None
        parts += [str(path), content]
    return parts


def _stamps(paths: Iterable[Path]) -> tuple[tuple[int, int], ...]:
    stamps = []
    for path in paths:
        try:
            stat = path.stat()
            stamps.append((stat.st_size, stat.st_mtime_ns))
        except OSError:
            stamps.append((-1, -1))
    return tuple(stamps)


def _offline(config: Config) -> bool:
    """Does this run's outcome depend on nothing but local files and code?"""
    from dslint.review import settings as review_settings
    from dslint.rules.moderation import settings as moderation_settings

    try:
        remote = moderation_settings.parse(config).provider != "none"
        remote = remote or review_settings.parse(config).enabled
    except Exception:  # a bad section: the real run reports it
        return False
    return not remote


@cache
def _code_stamp() -> str | None:
    """dslint's code and data, Python and the installed packages, as one string; None for an
    installation this cannot read."""
    from dslint.packs import packs_dir

    try:
        roots = [Path(__file__).resolve().parent, packs_dir()]
    except Exception:  # an unusual installation: run the check instead
        return None
    parts = [sys.version, *_installed()]
    for root in dict.fromkeys(roots):
        for path in sorted(_walk(root)):
            try:
                stat = path.stat()
            except OSError:
                return None
            parts.append(f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}")
    return "\n".join(parts)


def _installed() -> list[str]:
    """Every installed distribution, as its metadata folder names it (dslint.installed): one
    a rule uses indirectly included (an optional package turns some rules on)."""
    from dslint.installed import folder_names

    return folder_names()


def _walk(root: Path) -> Iterator[Path]:
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [s for s in subfolders if s != "__pycache__"]
        for name in names:
            if not name.endswith((".pyc", ".tmp")):
                yield Path(folder, name)


def _named_files(config: Config) -> list[Path] | None:
    """The files that the config's rule options and sections name (relative to the config's
    folder or the working directory), folders expanded; None when there are too many or
    they are too large to hash (then the check runs: cheaper than the key). A cache folder
    (``.dslint_cache/``, a moderation cache) is left out: it changes with every run."""
    from dslint.cache import CACHE_DIR

    found: dict[Path, None] = {}
    size = 0
    for text in _strings([config.rules, config.sections, config.models]):
        if not text or len(text) > 1024 or "\n" in text or "\0" in text:
            continue
        given = Path(text)
        candidates = [given] if given.is_absolute() else [config.root / given, Path(text)]
        for candidate in candidates:
            try:
                if candidate.is_file():
                    paths = [candidate]
                elif candidate.is_dir():
                    paths = sorted(_walk(candidate))
                else:
                    continue
                for path in paths:
                    if CACHE_DIR in path.parts or path in found:
                        continue
                    found[path] = None
                    size += path.stat().st_size
                    if len(found) > MAX_NAMED_FILES or size > MAX_NAMED_BYTES:
                        return None
            except OSError:
                continue
    return list(found)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _file_digest(path: Path) -> bytes | None:
    """A digest of a file's bytes (of its size and its pieces' digests, see PIECE); None when
    it cannot be read (the real run reports that)."""
    from dslint.helper import available

    try:
        with open(path, "rb") as stream:
            descriptor = stream.fileno()
            size = os.fstat(descriptor).st_size

            def piece(offset: int) -> bytes:
                return hashlib.blake2b(os.pread(descriptor, PIECE, offset), digest_size=32).digest()

            offsets = range(0, size, PIECE)
            # One thread on one core or with DSLINT_WORKERS=1 (helper.available).
            if len(offsets) < 2 or not available():
                pieces = [piece(offset) for offset in offsets]
            else:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(max_workers=2) as pool:
                    pieces = list(pool.map(piece, offsets))
    except OSError:
        return None
    return hashlib.blake2b(size.to_bytes(8, "big") + b"".join(pieces), digest_size=32).digest()


# -- storing and reading a run ---------------------------------------------------------------


def _path(store: Cache, run_key: RunKey) -> Path:
    return store.root / f"run-{run_key.value}.json"


def save(store: Cache, run_key: RunKey, findings: Sequence[Finding],
         files: Sequence[FileSummary], notes: Sequence[str]) -> None:  # fmt: skip
    """Keep a finished run's findings, file summaries and notes under its key, unless a file
    it hashed changed while the check ran."""
    from dslint.cache import write_json

    if not run_key.still_valid():
        return

    document = {
        "format": FORMAT,
        "findings": [_encode(f) for f in findings],
        "files": [[f.path, f.format, f.examples, f.model, f.size, f.split] for f in files],
        "notes": list(notes),
    }
    write_json(_path(store, run_key), document)
    _prune(store)


Saved = tuple[list[Finding], list[FileSummary], list[str]]


def load(store: Cache, run_key: RunKey) -> Saved | None:
    """A saved run's findings, file summaries and notes; None when there is none, or it is
    damaged (then the check runs, and nothing is lost but time)."""
    path = _path(store, run_key)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != FORMAT:
            return None
        findings = [_decode(row) for row in document["findings"]]
        files = [_summary(row) for row in document["files"]]
        notes = [str(n) for n in document["notes"]]
        os.utime(path)  # recently used: kept longest
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None
    return findings, files, notes


def _encode(f: Finding) -> list[Any]:
    return [f.code, f.name, f.category.value, f.severity.value, f.path, f.line, f.column,
            f.pointer, f.message, f.fingerprint, f.end_column, f.pathless,
            [list(place) for place in f.related]]  # fmt: skip


def _decode(row: list[Any]) -> Finding:
    (code, name, category, severity, path, line, column, pointer, message, fingerprint, end,
     pathless, named) = row  # fmt: skip
    texts = (code, name, path, pointer, message, fingerprint, pathless)
    if not all(isinstance(v, str) for v in texts):
        raise TypeError("a finding's text field is not a string")
    if not all(v is None or type(v) is int for v in (line, column, end)):
        raise TypeError("a finding's position is not a number")
    related = tuple((str(other), int(number)) for other, number in named)
    return Finding(code, name, Category(category), Severity(severity), path, line, column,
                   pointer, message, fingerprint, end, related, pathless)  # fmt: skip


def _summary(row: list[Any]) -> FileSummary:
    path, fmt, examples, model, size, split = row
    if not (isinstance(path, str) and isinstance(fmt, str) and isinstance(split, str)):
        raise TypeError("a file summary's text field is not a string")
    if type(examples) is not int or type(size) is not int or not isinstance(model, str | None):
        raise TypeError("a file summary's counts are not numbers")
    return FileSummary(path, fmt, examples, model, size, split)


def _prune(store: Cache) -> None:
    store.keep_newest("run-*.json", KEEP_RUNS)  # a reused run's file is touched: kept longest
