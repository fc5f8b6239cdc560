"""What is installed, read from the distributions' metadata folders as importlib.metadata
reads them, without importing it.

importlib.metadata imports the ``email`` package (it parses METADATA files as mail headers)
and took about 0.02 s of a pre-commit run on a small file, for two things: the entry points
that declare rules and reporters, and the versions of three libraries that name the memos
(dslint.cache). Both are in plain files of each ``*.dist-info`` folder on ``sys.path``. This
module finds those folders in importlib.metadata's order (``sys.path`` order, then the order
of a folder's listing, the first distribution of a name winning) and reads
``entry_points.txt`` with importlib.metadata's rules.

It is also where the run key's list of installed distributions comes from
(:func:`folder_names`, dslint.reuse): each folder is listed once per process for both.

Where the environment holds something this module does not read (a zip file or an egg on
``sys.path``, an import hook that finds distributions of its own, a folder name without a
version), the functions return None and the caller asks importlib.metadata.
``tests/test_installed.py`` compares the results with importlib.metadata's.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import reduce
from typing import Any

_SUFFIXES = (".dist-info", ".egg-info")
# importlib.metadata.EntryPoint.pattern
_VALUE = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$")


@dataclass(frozen=True)
class Distribution:
    name: str  # as its folder spells it (``acme_rules``), not as METADATA does


@dataclass(frozen=True)
class EntryPoint:
    """What dslint reads of an entry point; :meth:`load` as importlib.metadata's."""

    name: str
    value: str
    group: str
    dist: Distribution

    @property
    def module(self) -> str:
        match = _VALUE.match(self.value)
        return match.group("module") if match else self.value

    def load(self) -> Any:
        match = _VALUE.match(self.value)
        if match is None:
            raise ValueError(f"entry point {self.name!r}: cannot read {self.value!r}")
        module = importlib.import_module(match.group("module"))
        attributes = filter(None, (match.group("attr") or "").split("."))
        return reduce(getattr, attributes, module)


class _Unusual(Exception):
    """Something only importlib.metadata reads."""


_LOCK = threading.Lock()
_FOUND: dict[tuple[str, ...], list[str] | None] = {}
_LISTED: dict[str, list[str] | None] = {}
_DECLARED: dict[tuple[str, ...], dict[str, list[EntryPoint]] | None] = {}


def _children(root: str) -> list[str] | None:
    """The names in a folder (listed once per process); None when it cannot be listed."""
    if root not in _LISTED:
        try:
            _LISTED[root] = os.listdir(root)
        except OSError:
            _LISTED[root] = None
    return _LISTED[root]


def folder_names() -> list[str]:
    """Every installed distribution as its metadata folder names it (``pandas-2.2.3.dist-info``),
    sorted, from the package folders on ``sys.path`` (``site-packages``, ``dist-packages``):
    installing, upgrading or removing any package changes the list. One directory listing
    per package folder: a millisecond, where asking importlib.metadata for the version of
    each package dslint requires took about 25."""
    names = []
    for entry in dict.fromkeys(sys.path):
        if not entry.endswith(("site-packages", "dist-packages")):
            continue  # the standard library is Python's version; the cwd is the user's
        names += [name for name in _children(entry) or () if name.endswith(_SUFFIXES)]
    return sorted(names)


def _folders() -> list[str] | None:
    """The metadata folders of the distributions importlib.metadata would find, in its
    order, the first of each name; None when the environment is unusual. Found once per
    ``sys.path``."""
    with _LOCK:
        return _folders_unlocked()


def _folders_unlocked() -> list[str] | None:
    key = tuple(sys.path)
    if key not in _FOUND:
        try:
            _FOUND[key] = list(_search(key))
        except _Unusual:
            _FOUND[key] = None
    return _FOUND[key]


def _search(path: tuple[str, ...]) -> Iterator[str]:
    from importlib.machinery import PathFinder

    for finder in sys.meta_path:
        if getattr(finder, "find_distributions", None) is not None and finder is not PathFinder:
            raise _Unusual  # another finder adds distributions of its own
    seen: set[str] = set()
    for entry in path:
        root = entry or "."
        if os.path.basename(root).lower().endswith(".egg") or os.path.isfile(root):
            raise _Unusual  # an egg or a zip file: read inside by importlib.metadata
        children = _children(root)
        if children is None:
            continue
        by_name: dict[str, list[str]] = {}
        for child in children:
            low = child.lower()
            if low.endswith(_SUFFIXES):
                if not child.endswith(_SUFFIXES):
                    raise _Unusual  # named from METADATA by importlib.metadata, not the folder
                name = low.rpartition(".")[0].partition("-")[0]
                by_name.setdefault(_normalise(name), []).append(os.path.join(root, child))
        for name, folders in by_name.items():
            for folder in folders:
                if name not in seen:
                    seen.add(name)
                    yield folder


def _normalise(name: str) -> str:
    """importlib.metadata's ``Prepared.normalize``."""
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def entry_points(group: str) -> list[EntryPoint] | None:
    """The entry points of a group, as ``importlib.metadata.entry_points(group=group)``
    lists them; None when only importlib.metadata can tell."""
    key = tuple(sys.path)
    with _LOCK:
        if key not in _DECLARED:
            _DECLARED[key] = _declared()
        found = _DECLARED[key]
    return None if found is None else list(found.get(group, ()))


def _declared() -> dict[str, list[EntryPoint]] | None:
    """Every group's entry points, each ``entry_points.txt`` read once."""
    folders = _folders_unlocked()
    if folders is None:
        return None
    found: dict[str, list[EntryPoint]] = {}
    for folder in folders:
        try:
            with open(os.path.join(folder, "entry_points.txt"), encoding="utf-8") as handle:
                text = handle.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
            continue
        except (OSError, UnicodeDecodeError):
            return None  # importlib.metadata would fail or differ: let it decide
        distribution = Distribution(os.path.basename(folder).partition("-")[0])
        for section, name, value in _pairs(text):
            found.setdefault(section, []).append(EntryPoint(name, value, section, distribution))
    return found


def _pairs(text: str) -> Iterator[tuple[str, str, str]]:
    """(section, name, value) of an ``entry_points.txt``, read as importlib.metadata's
    ``Sectioned.section_pairs`` reads it."""
    section: str | None = None
    for line in map(str.strip, text.splitlines()):
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
            continue
        if section is not None:
            name, _, value = line.partition("=")
            yield section, name.strip(), value.strip()


def version(package: str) -> str | None:
    """The installed version of a distribution, from its metadata folder's name
    (``jsonschema-4.26.0.dist-info``); None when this cannot tell (then ask
    importlib.metadata), "" when it is not installed."""
    folders = _folders()
    if folders is None:
        return None
    wanted = _normalise(package)
    for folder in folders:
        base = os.path.basename(folder)
        stem, _, suffix = base.rpartition(".")
        name, _, rest = stem.partition("-")
        if _normalise(name) != wanted:
            continue
        if suffix.lower() != "dist-info" or not rest or "-" in rest:
            return None  # an egg-info, or a name this does not read: METADATA says
        return rest
    return ""


def library_version(package: str) -> str:
    """``importlib.metadata.version(package)``, or "?" when it is not installed; read from
    the metadata folder's name when :func:`version` can tell."""
    found = version(package)
    if found is None:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as ask

        try:
            return ask(package)
        except PackageNotFoundError:
            return "?"
    return found or "?"
