"""Run one function call in a second Python process, so a run uses both cores.

Used by dslint.shards (the record stage of a large file's second half), dslint.offload (the
duplicate rules of a large dataset) and token counting (part of a large batch). The child is
a fresh interpreter started with ``python -c`` that reads ``(module, function, arguments)``
as a pickle on its stdin and writes the result, pickled, on its stdout. Unlike
``multiprocessing``'s spawn, the child never imports the caller's ``__main__``: a user
script calling ``dslint.check()`` without an ``if __name__ == "__main__"`` guard would
otherwise run again inside the helper.

Pickles only ever pass between this process and the child it started. Whatever goes wrong
with the child (it cannot start, it dies, it raises), :meth:`Call.result` returns None and
the caller does the work itself: the same result on one core.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from typing import Any

# The child's program. Its stdout carries the result alone: anything code in the child
# prints goes to stderr instead, so it cannot corrupt the pickle. Once the result is out, the
# child ends without the interpreter's teardown (freeing every object it made, one by one),
# which the caller would otherwise wait for (Call.result waits for the child to end).
_CHILD = (
    "import gc, os, pickle, sys\n"
    "from importlib import import_module\n"
    "from dslint.memory import CHECK_THRESHOLDS\n"
    "gc.set_threshold(*CHECK_THRESHOLDS)\n"
    "out, sys.stdout = sys.stdout.buffer, sys.stderr\n"
    "module, name, args = pickle.load(sys.stdin.buffer)\n"
    "try:\n"
    "    result = (True, getattr(import_module(module), name)(*args))\n"
    "except BaseException as exc:\n"
    "    result = (False, f'{type(exc).__name__}: {exc}')\n"
    "pickle.dump(result, out, protocol=pickle.HIGHEST_PROTOCOL)\n"
    "out.flush()\n"
    "os._exit(0)\n"
)


def available() -> bool:
    """May this run use a second process? Not with one core, nor with ``DSLINT_WORKERS=1``."""
    return os.environ.get("DSLINT_WORKERS", "").strip() != "1" and (os.cpu_count() or 1) >= 2


class Call:
    """``module.name(*args)`` running in a child process from the moment this is made."""

    def __init__(self, module: str, name: str, *args: Any, pass_fds: tuple[int, ...] = ()) -> None:
        """``pass_fds``: file descriptors the child inherits under the same numbers (memory
        it maps instead of receiving a copy: see dslint.dataset.SharedText)."""
        self.failure: str | None = None
        self._writer: threading.Thread | None = None
        try:
            self._process: subprocess.Popen[bytes] | None = subprocess.Popen(
                [sys.executable, "-c", _CHILD],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                pass_fds=pass_fds,
            )
        except (OSError, ValueError, TypeError) as exc:  # TypeError: no sys.executable
            self._process = None
            self.failure = f"cannot start a helper process: {exc}"
            return
        # Pickled straight into the pipe from a thread: a large payload (a dataset's frames)
        # fills the pipe long before the child, still starting up, reads it; this process
        # has its own share of the work to do meanwhile; and no second copy of the payload
        # is made in memory. The arguments must not change while they are sent (callers
        # pass immutable data or shallow copies).
        self._writer = threading.Thread(target=self._send, args=((module, name, args),))
        self._writer.daemon = True
        self._writer.start()

    def _send(self, payload: Any) -> None:
        assert self._process is not None and self._process.stdin is not None
        try:
            pickle.dump(payload, self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._process.stdin.close()
        except (OSError, ValueError):
            pass  # the child died (or was cancelled); result() sees it

    def result(self) -> Any | None:
        """The call's result, or None (with :attr:`failure` set) if the child failed."""
        process = self._process
        if process is None:
            return None
        assert process.stdout is not None
        try:
            ok, value = pickle.load(process.stdout)  # read as it comes: no copy of the bytes
            process.wait()
            if self._writer is not None:
                self._writer.join()
        except Exception as exc:  # a killed child leaves a short or empty pickle
            self.failure = f"the helper process ended early (exit {process.poll()}): {exc}"
            return None
        finally:
            process.stdout.close()
            self._process = None
        if not ok:
            self.failure = f"the helper process failed: {value}"
            return None
        return value

    def cancel(self) -> None:
        """Stop the child (its result is not wanted)."""
        process = self._process
        if process is not None:
            process.kill()
            process.wait()
            if process.stdout is not None:
                process.stdout.close()
            self._process = None
