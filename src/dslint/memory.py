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
    not held longer; only cycles wait a little more. The caller's thresholds come back after.
    """
    with _COLLECT_LOCK:  # checks in several threads: the first sets, the last restores
        if not _COLLECTING:
            _COLLECTING.append(gc.get_threshold())
            gc.set_threshold(*CHECK_THRESHOLDS)
        _COLLECTING.append(None)
    try:
        yield
    finally:
        with _COLLECT_LOCK:
            _COLLECTING.pop()
            if len(_COLLECTING) == 1:
                gc.set_threshold(*_COLLECTING.pop())


_COLLECT_LOCK = threading.Lock()
# The caller's thresholds, then one entry per check running now (none when no check runs).
_COLLECTING: list[Any] = []
