"""Run a function call in a second Python process, so a run uses both cores.

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

A child can also be started before its call is known (:func:`spares`): it imports the
modules it will need (pandas, the rules) while this process is still importing its own,
and a ``Call(..., spare=purpose)`` made later takes it. A spare may have a next purpose: after
its first call it imports that purpose's modules and waits for a second call (the span of a
large file, then the offloaded dataset rules: one interpreter for both), and may serve the
two in turn after that (each of several large datasets of a check). Such a child
cannot inherit file descriptors made after it started (the memory files of the text
columns), so descriptors always travel over a Unix socket (``SCM_RIGHTS``); the child knows
them by the numbers they have here (:func:`local`).
"""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

# The child's program: ``python -c _CHILD CHANNEL MODULE... [--then MODULE...]``. It
# imports the MODULEs (a spare's preparation) and freezes what they made, so that the
# collector's later passes skip them (as dslint.memory.long_lived does in a check), then
# waits for its call. Its stdout carries the result alone: anything code in the child prints
# goes to stderr instead, so it cannot corrupt the pickle.
# Once the result is out, the child ends without the interpreter's teardown (freeing every
# object it made, one by one), which the caller would otherwise wait for; or, with a next
# stage (``--then``) and a call that succeeded, it tidies up after that call
# (between_calls), imports the next stage's modules and waits for its second call. With
# ``--again`` it keeps serving calls, tidying up after each, until its input ends.
_CHILD = (
    "import gc, os, pickle, sys\n"
    "from importlib import import_module\n"
    "from dslint.memory import CHECK_THRESHOLDS\n"
    "gc.set_threshold(*CHECK_THRESHOLDS)\n"
    "out, sys.stdout = sys.stdout.buffer, sys.stderr\n"
    "def ready(modules):\n"
    "    for preload in modules:\n"
    "        try:\n"
    "            import_module(preload)\n"
    "        except Exception:\n"
    "            pass  # the call itself reports what fails\n"
    "    gc.freeze()\n"
    "stages, stage, cycle = [[]], 0, False\n"
    "for word in sys.argv[2:]:\n"
    "    if word == '--again':\n"
    "        cycle = True\n"
    "    elif word == '--then':\n"
    "        stages.append([])\n"
    "    else:\n"
    "        stages[-1].append(word)\n"
    "ready(stages[0])\n"
    "while True:\n"
    "    try:\n"
    "        module, name, args, descriptors = pickle.load(sys.stdin.buffer)\n"
    "    except EOFError:\n"
    "        os._exit(0)\n"
    "    try:\n"
    "        if descriptors:\n"
    "            from dslint.helper import receive\n"
    "            receive(int(sys.argv[1]), descriptors)\n"
    "        result = (True, getattr(import_module(module), name)(*args))\n"
    "    except BaseException as exc:\n"
    "        result = (False, f'{type(exc).__name__}: {exc}')\n"
    "    pickle.dump(result, out, protocol=pickle.HIGHEST_PROTOCOL)\n"
    "    out.flush()\n"
    "    stage += 1\n"
    "    if (stage == len(stages) and not cycle) or not result[0]:\n"
    "        os._exit(0)\n"
    "    del result, args\n"
    "    from dslint.helper import between_calls\n"
    "    between_calls()\n"
    "    if stage < len(stages):\n"
    "        ready(stages[stage])\n"
)

#: In a child: the descriptors it received, by their numbers in the parent (see local()).
_RECEIVED: dict[int, int] = {}


def receive(channel: int, descriptors: Sequence[int]) -> None:
    """In a child: take the parent's ``descriptors`` from the socket ``channel`` (kept open:
    a child with a second call receives that call's descriptors on it too)."""
    with socket.fromfd(channel, socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        _, received, _, _ = socket.recv_fds(connection, 1, len(descriptors))
    if len(received) != len(descriptors):
        raise OSError("the parent's file descriptors did not arrive")
    _RECEIVED.update(zip(descriptors, received, strict=True))


def between_calls() -> None:
    """In a child, between two calls: close the descriptors the last call received (what it
    mapped keeps its own), so that the next call's numbers mean only its own; collect what
    the last call left and give the memory back (a large file's span at a million examples is
    hundreds of MB of Arrow chunks, which the allocator would keep for the next call)."""
    import gc

    from dslint.memory import give_back

    for descriptor in _RECEIVED.values():
        with suppress(OSError):
            os.close(descriptor)
    _RECEIVED.clear()
    gc.collect()  # before the next stage's imports are frozen, with any garbage among them
    give_back()


def local(descriptor: int) -> int:
    """This process's number for a descriptor the parent named ``descriptor`` (the same
    number outside a helper, or for a descriptor not sent)."""
    return _RECEIVED.get(descriptor, descriptor)


def parent(descriptor: int) -> int:
    """The parent's number for one of this process's received descriptors (see local())."""
    for theirs, ours in _RECEIVED.items():
        if ours == descriptor:
            return theirs
    return descriptor


def available() -> bool:
    """May this run use a second process? Not with one core, nor with ``DSLINT_WORKERS=1``."""
    return os.environ.get("DSLINT_WORKERS", "").strip() != "1" and (os.cpu_count() or 1) >= 2


class _Child:
    """A started child process and this process's end of its descriptor socket."""

    def __init__(
        self,
        preload: Sequence[str] = (),
        purpose: str = "",
        then: tuple[str, Sequence[str]] | None = None,
        again: bool = False,
    ) -> None:
        """``then``: the purpose this child serves next, once its first call has returned,
        and the modules it imports for it meanwhile; ``again``: after that, it serves its
        first purpose and its next one in turn (see :func:`spares`). Raises OSError,
        ValueError or TypeError (no ``sys.executable``) when it cannot start."""
        self.purpose = purpose  # what a spare was started for (see spares())
        self.then = then
        self.again = again and then is not None
        following = ["--then", *then[1]] if then is not None else []
        following += ["--again"] if self.again else []
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _CHILD, str(theirs.fileno()), *preload, *following],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.channel = ours

    def stop(self) -> None:
        """End the child and close this process's ends: after its last call (its result
        was read), or when it is not wanted (a spare nobody took, a cancelled call)."""
        self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self.channel.close()


class Call:
    """``module.name(*args)`` running in a child process from the moment this is made."""

    def __init__(
        self,
        module: str,
        name: str,
        *args: Any,
        pass_fds: tuple[int, ...] = (),
        spare: str | None = None,
    ) -> None:
        """``pass_fds``: file descriptors the child receives (memory it maps instead of
        receiving a copy: see dslint.dataset.SharedText; it knows them by these numbers).
        ``spare``: take a child that :func:`spares` started earlier for this purpose, if one
        is waiting."""
        self.failure: str | None = None
        self._writer: threading.Thread | None = None
        self._child: _Child | None = _take_spare(spare) if spare is not None else None
        if self._child is None:
            try:
                self._child = _Child()
            except (OSError, ValueError, TypeError) as exc:  # TypeError: no sys.executable
                self.failure = f"cannot start a helper process: {exc}"
                return
        if pass_fds:
            with suppress(OSError):  # the child died; result() sees it
                socket.send_fds(self._child.channel, [b"\0"], list(pass_fds))
        # Pickled straight into the pipe from a thread: a large payload (a dataset's frames)
        # fills the pipe long before the child, still starting up, reads it; this process
        # has its own share of the work to do meanwhile; and no second copy of the payload
        # is made in memory. The arguments must not change while they are sent (callers
        # pass immutable data or shallow copies).
        payload = (module, name, args, tuple(pass_fds))
        # A child with a next purpose keeps its input open for that call; any other ends
        # at the end of its input.
        last = self._child.then is None
        self._writer = threading.Thread(target=self._send, args=(payload, last))
        self._writer.daemon = True
        self._writer.start()

    def _send(self, payload: Any, last: bool) -> None:
        assert self._child is not None and self._child.process.stdin is not None
        stream = self._child.process.stdin
        try:
            pickle.dump(payload, stream, protocol=pickle.HIGHEST_PROTOCOL)
            stream.flush()
            if last:
                stream.close()
        except (OSError, ValueError):
            pass  # the child died (or was cancelled); result() sees it

    def result(self) -> Any | None:
        """The call's result, or None (with :attr:`failure` set) if the child failed."""
        child = self._child
        if child is None:
            return None
        process = child.process
        assert process.stdout is not None
        self._child = None
        try:
            ok, value = pickle.load(process.stdout)  # read as it comes: no copy of the bytes
            if self._writer is not None:
                self._writer.join()
        except Exception as exc:  # a killed child leaves a short or empty pickle
            child.stop()
            self.failure = f"the helper process ended early (exit {process.poll()}): {exc}"
            return None
        if ok and child.then is not None:
            # It goes on to its next purpose: a spare again, importing for it meanwhile
            # (and, serving both in turn, with the one it just served as the one after).
            served = child.purpose
            child.purpose = child.then[0]
            child.then = (served, ()) if child.again else None
            with _SPARES_LOCK:
                _SPARES.append(child)
        else:
            child.stop()  # its last call (or a failed one): it ends, or is ended, now
        if not ok:
            self.failure = f"the helper process failed: {value}"
            return None
        return value

    def cancel(self) -> None:
        """Stop the child (its result is not wanted)."""
        if self._child is not None:
            self._child.stop()
            self._child = None


@contextmanager
def spares(wanted: Sequence[Spare]) -> Iterator[None]:
    """Start a child now for each ``(purpose, preload)``, importing ``preload`` while this
    process goes on; a ``Call(..., spare=purpose)`` made inside the block takes one started
    for its purpose instead of starting a process (and so skips the interpreter's start and
    those imports, about 0.5 s). An entry ``(purpose, preload, (next, more))`` is a child
    that, once its call for ``purpose`` has returned, imports ``more`` and waits as a spare
    for ``next``: one interpreter for two calls that come one after the other. With a fourth
    item True it then waits for ``purpose`` again, and so on in turn (several datasets, each
    with a large file's span and then its offloaded rules). The children not taken are
    stopped when the block ends. Nothing is started where :func:`available` says no."""
    mine: list[_Child] = []
    if available():
        for entry in wanted:
            purpose, preload = entry[0], entry[1]
            then = entry[2] if len(entry) > 2 else None
            again = entry[3] if len(entry) > 3 else False
            try:
                mine.append(_Child(preload, purpose, then, again))
            except (OSError, ValueError, TypeError):
                break  # Call starts its own child, or fails and the caller does the work
    with _SPARES_LOCK:
        _SPARES.extend(mine)
    try:
        yield
    finally:
        with _SPARES_LOCK:
            left = [child for child in mine if child in _SPARES]
            for child in left:
                _SPARES.remove(child)
            for child in mine:  # one still at its first call ends after it: nobody waits
                child.then = None
        for child in left:
            child.stop()


def _take_spare(purpose: str) -> _Child | None:
    """A waiting child started for ``purpose``; else one that would serve it next but was
    never called for its first purpose (it then serves this call alone)."""
    with _SPARES_LOCK:
        for child in [child for child in _SPARES if child.purpose == purpose] + [
            child for child in _SPARES if child.then is not None and child.then[0] == purpose
        ]:
            _SPARES.remove(child)
            if child.process.poll() is None:
                if child.purpose != purpose:  # taken for what it would serve next: only that
                    child.then = None
                return child
            child.stop()  # it died waiting
    return None


#: A spare child to start (see spares()): its purpose and the modules it imports ahead, and
#: optionally the purpose it serves next with the modules it imports for that.
Spare = (
    tuple[str, Sequence[str]]
    | tuple[str, Sequence[str], tuple[str, Sequence[str]]]
    | tuple[str, Sequence[str], tuple[str, Sequence[str]], bool]
)


# Children started by spares() and not taken yet (checks may run in several threads).
_SPARES: list[_Child] = []
_SPARES_LOCK = threading.Lock()
