"""Give memory that a finished stage freed back to the system.

Arrow's default allocator (mimalloc) and glibc's malloc keep freed memory for later
allocations instead of returning it. A check on a large file frees a lot between stages
(the parsed chunks once the frames are built, a rule's temporary copies of a text column),
and without this the peak of every later stage stands on top of that kept memory: at a
million examples, 0.75 GB of a 2.65 GB process after the frames were built
(benchmarks/README.md, "Memory at a million examples").
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

# The cyclic collector's thresholds inside a check (Python's default: 700, 10, 10).
CHECK_THRESHOLDS = (10_000, 10, 10)


def give_back() -> None:
    """Return freed memory to the system: Arrow's pool, then malloc's free lists.

    Never changes a result, and cheap enough to call after every stage: about 0.01 ms when
    there is little to return, so small runs are not worth telling apart (and the amount
    Arrow still holds says nothing about how much it kept after a stage freed everything).
    """
    pyarrow: Any = sys.modules.get("pyarrow")
    if pyarrow is not None:  # not imported: Arrow has allocated nothing
        pyarrow.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@cache
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None (musl, macOS, Windows have none: nothing to do)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # here, not at import: dslint.dataset imports this module at start-up

    try:
        # The running program's own symbols: glibc is already loaded (finding it by name
        # would start a compiler or ldconfig).
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


@contextmanager
def collect_less() -> Iterator[None]:
    """Run Python's cyclic garbage collector less often inside the block.

    A check makes millions of small containers that live until it ends (the cache's entries,
    a value per distinct text, the parsed records of a chunk), and with the default
    thresholds the collector walks the older ones again and again: about 1.2 s of the 3.6 s
    that filling the cache added to a 100,000-example check on one core (benchmarks/README.md).
    Reference counting still frees at once everything that is not in a cycle, so memory is
    not held longer; only cycles wait a little more. The caller's thresholds come back after,
    and what the check froze (:func:`long_lived`) is unfrozen.
    """
    with _COLLECT_LOCK:  # checks in several threads: the first sets, the last restores
        if not _COLLECTING:
            _COLLECTING.append((gc.get_threshold(), gc.get_freeze_count() == 0))
            gc.set_threshold(*CHECK_THRESHOLDS)
        _COLLECTING.append(None)
    try:
        yield
    finally:
        with _COLLECT_LOCK:
            _COLLECTING.pop()
            if len(_COLLECTING) == 1:
                thresholds, may_freeze = _COLLECTING.pop()
                gc.set_threshold(*thresholds)
                if may_freeze:
                    gc.unfreeze()  # what long_lived() froze goes back to the oldest generation


@contextmanager
def long_lived() -> Iterator[None]:
    """No cyclic collection while a check makes what lives to its end; then it is frozen.

    A check imports its rules (pandas among them) and reads its files: together most of its
    long-lived containers (modules, classes, the records' values, the cache's entries) and
    next to no cycles. At 100,000 examples the collector found about 1,000 objects of
    import-time debris in a whole read, whatever the size of the file, while walking the
    others cost about 0.1 s of a re-run's reading and 0.1 s more for one full collection
    later (benchmarks/README.md, "2026-12-07 (session 17)"). So the collector waits until
    the block ends, and ``gc.freeze`` then keeps those objects out of its later passes; the
    check's end (:func:`collect_less`) unfreezes them. The collector runs as before in the
    dataset stage, where pandas makes its cycles. A caller who froze objects of their own
    keeps them frozen: then nothing is frozen or unfrozen here.
    """
    with _COLLECT_LOCK:  # checks in several threads: the first disables, the last enables
        _LONG_LIVED.append(gc.isenabled() if not _LONG_LIVED else None)
        gc.disable()
    try:
        yield
    finally:
        with _COLLECT_LOCK:
            was_enabled = _LONG_LIVED.pop()
            if _COLLECTING and _COLLECTING[0][1]:
                gc.freeze()
            if not _LONG_LIVED and was_enabled:
                gc.enable()


_COLLECT_LOCK = threading.Lock()
# (the caller's thresholds, whether nothing was frozen), then one entry per check running
# now (none when no check runs).
_COLLECTING: list[Any] = []
# Whether the collector was on when the first of the blocks now in long_lived() began, then
# one entry per other such block.
_LONG_LIVED: list[bool | None] = []
