"""Give memory that a finished stage freed back to the system.

Arrow's default allocator (mimalloc) and glibc's malloc keep freed memory for later
allocations instead of returning it. A check on a large file frees a lot between stages
(the parsed chunks once the frames are built, a rule's temporary copies of a text column),
and without this the peak of every later stage stands on top of that kept memory: at a
million examples, 0.75 GB of a 2.65 GB process after the frames were built
(benchmarks/README.md, "Memory at a million examples").
"""

from __future__ import annotations

import sys
from functools import cache
from typing import Any


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
