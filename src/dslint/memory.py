"""Give memory that a finished stage freed back to the system.

Arrow's default allocator (mimalloc) and glibc's malloc keep freed memory for later
allocations instead of returning it. A check on a large file frees a lot between stages
(the parsed chunks once the frames are built, a rule's temporary copies of a text column),
and without this the peak of every later stage stands on top of that kept memory: at a
million examples, 0.75 GB of a 2.65 GB process after the frames were built
(benchmarks/README.md, "Memory at a million examples").
"""

from __future__ import annotations

import ctypes
import sys
from functools import cache
from typing import Any

# Below this many bytes allocated by Arrow a stage's leftovers are not worth a call.
SMALL = 64 * 2**20


def give_back(force: bool = False) -> None:
    """Return freed memory to the system: Arrow's pool, then malloc's free lists.

    Cheap (milliseconds) and never changes a result; skipped while Arrow holds little
    (``force`` to call it anyway), and where pyarrow has not been imported.
    """
    pyarrow: Any = sys.modules.get("pyarrow")
    if pyarrow is None:
        return
    if not force and pyarrow.total_allocated_bytes() < SMALL:
        return
    pyarrow.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@cache
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None (musl, macOS, Windows have none: nothing to do)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        # The running program's own symbols: glibc is already loaded (finding it by name
        # would start a compiler or ldconfig).
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim
