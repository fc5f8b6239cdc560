"""Unpacked copies of installed data files, made once per machine and verified on every load.

V012's language model ships as an LZMA file, and unpacking it cost about 0.4 s on every
run: on a 20-example file, as pre-commit runs it, a quarter of the run. The first run that
needs it unpacks it as plain numpy arrays (``.npy``, read without pickle) into the user's
cache folder; later runs map those files instead (about 0.1 s, checks included).

A copy is found by the sha256 of the source file it came from (plus a layout name the caller
versions), so a new model or encoding gets a new copy. Its own files are listed with their
sha256 in ``manifest.json`` and checked on every load: a damaged or altered copy is thrown
away and unpacked again, so it can cost time but never change a result. Anything that goes
wrong (no home folder, a read-only disk, a full one) falls back to unpacking in memory.

The folder is ``$XDG_CACHE_HOME/dslint/derived`` (``~/.cache/dslint/derived`` by default),
beside the incremental cache's key (dslint.cache). It never holds the user's data.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import mmap
import os
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

MANIFEST = "manifest.json"
STALE_SECONDS = 3600
#: Copies kept per layout (the newest by last use): one for each of two environments with
#: different versions of the source, without unpacking again in turn.
KEEP_COPIES = 2
DIGEST_CHARS = 32  # of the source's sha256, in a copy's folder name


def root() -> Path:
    from dslint.cache import user_folder

    return user_folder() / "derived"


def source_digest(path: Path) -> str:
    """The sha256 of an installed source file (a few MB: a few milliseconds)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def arrays(
    layout: str, digest: str, unpack: Callable[[], Mapping[str, np.ndarray[Any, Any]]]
) -> dict[str, np.ndarray[Any, Any]]:
    """The arrays ``unpack()`` makes from the source whose sha256 is ``digest``.

    Read from a verified copy when there is one (memory-mapped: pages are read as they are
    used); otherwise ``unpack()`` runs and its result is kept for next time.
    """
    try:
        folder: Path | None = root() / f"{layout}-{digest[:DIGEST_CHARS]}"
    except RuntimeError:  # no home folder to put it in
        folder = None
    if folder is not None:
        kept = _load(folder)
        if kept is not None:
            return kept
    made = {name: np.ascontiguousarray(value) for name, value in unpack().items()}
    if folder is not None:
        _save(folder, layout, made)
    return made


def _load(folder: Path) -> dict[str, np.ndarray[Any, Any]] | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        loaded: dict[str, np.ndarray[Any, Any]] = {}
        for name, expected in manifest.items():
            path = folder / f"{name}.npy"
            if not name.isidentifier() or _sha256(path) != expected:
                raise ValueError(f"{path} does not match its manifest")
            loaded[name] = np.load(path, mmap_mode="r", allow_pickle=False)
        with contextlib.suppress(OSError):
            os.utime(folder / MANIFEST)  # when it was last used: see _sweep
        return loaded
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, AttributeError):  # damaged: unpack it again
        shutil.rmtree(folder, ignore_errors=True)
        return None


def _sha256(path: Path) -> str:
    """The file's sha256, read through a memory map: no copy of its bytes is made (the
    arrays then map the same pages), which takes a third off checking the language model's
    68 MB copy on every run."""
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
        return hashlib.sha256(view).hexdigest()


def _save(folder: Path, layout: str, made: Mapping[str, np.ndarray[Any, Any]]) -> None:
    """Write the copy beside its final place, then rename it there: a reader sees a whole
    copy or none, and of two processes unpacking at once, the first rename wins."""
    temporary = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
    try:
        _sweep(folder, layout)
        temporary.mkdir(parents=True)
        manifest = {}
        for name, value in made.items():
            if value.dtype.hasobject:
                raise ValueError("object arrays are not kept")
            path = temporary / f"{name}.npy"
            np.save(path, value, allow_pickle=False)
            manifest[name] = hashlib.sha256(path.read_bytes()).hexdigest()
        (temporary / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
        os.rename(temporary, folder)
    except (OSError, ValueError):
        pass  # kept next time, perhaps; this run already has the arrays
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def _sweep(folder: Path, layout: str) -> None:
    """Before a new copy is written: remove half-written copies left by runs that were
    killed while writing (an hour old: a copy being written now is not touched), and keep
    only the KEEP_COPIES - 1 most recently used other copies of this layout (another
    installed version of the source, in another environment, say)."""
    if not folder.parent.is_dir():
        return
    for stale in folder.parent.glob(f"{folder.name}.*.tmp"):
        with contextlib.suppress(OSError):
            if time.time() - stale.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(stale, ignore_errors=True)
    others = []
    for other in folder.parent.glob(f"{layout}-*"):
        suffix = other.name[len(layout) + 1 :]  # a digest: not "layout-2-..." of another
        if len(suffix) != DIGEST_CHARS or not all(c in "0123456789abcdef" for c in suffix):
            continue
        if other != folder and other.is_dir():
            try:
                others.append(((other / MANIFEST).stat().st_mtime, other))
            except OSError:
                others.append((0.0, other))  # no manifest: never finished
    others.sort(reverse=True)
    for _, old in others[KEEP_COPIES - 1 :]:
        shutil.rmtree(old, ignore_errors=True)  # a run mapping it keeps its pages
