"""Where a whole check's memory goes: the peak of each stage of one ``dslint check``.

    python benchmarks/memory_stages.py [--examples 1000000] [-- CHECK OPTIONS]

Runs the default check (``--no-cache``, text report discarded) in this process on the
generated file, and samples every 20 ms the proportional set size (PSS) of this process and
of its helper processes (the duplicate family's, the token counter's). Each sample is charged
to the stage running then: reading the file, then each dataset rule of this process in
order (the duplicate rules run meanwhile in a helper, whose memory is the "helpers" column).
A rule's peak over the stage before it is what it holds or makes; what stays after a rule is
what the run keeps for later rules. This is the profile behind ``bench_scale.py``'s single
figure (benchmarks/README.md, "Memory at a million examples").
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from typing import Any

from bench_scale import _pss
from common import dataset


class Sampler:
    """PSS peaks (this process, its children, both) per stage label."""

    def __init__(self) -> None:
        self.stage = "start-up"
        self.peaks: dict[str, list[float]] = {}  # label: [main, helpers, total, start, end]
        self._started = time.perf_counter()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _children(self) -> list[int]:
        found: list[int] = []
        for task in os.listdir(f"/proc/{os.getpid()}/task"):
            try:
                with open(f"/proc/{os.getpid()}/task/{task}/children") as fh:
                    found += [int(pid) for pid in fh.read().split()]
            except OSError:
                continue
        return found

    @staticmethod
    def _size(pid: str) -> int:
        try:
            return _pss(pid)
        except OSError:  # the process ended between the listing and the reading
            return 0

    def _run(self) -> None:
        me = str(os.getpid())
        while not self._done.is_set():
            main = self._size(me)
            helpers = sum(self._size(str(pid)) for pid in self._children())
            now = time.perf_counter() - self._started
            peak = self.peaks.setdefault(self.stage, [0, 0, 0, now, now])
            peak[0], peak[1] = max(peak[0], main), max(peak[1], helpers)
            peak[2], peak[4] = max(peak[2], main + helpers), now
            self._done.wait(0.02)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def staged(sampler: Sampler, label: str, function: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        sampler.stage = label(args) if callable(label) else label
        try:
            return function(*args, **kwargs)
        finally:
            sampler.stage = "after " + sampler.stage

    return wrapper


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1_000_000)
    parser.add_argument("options", nargs="*", help="more `dslint check` options, after --")
    args = parser.parse_args(argv)
    path = dataset(args.examples)

    from dslint.cli import cli
    from dslint.engine import Engine

    sampler = Sampler()
    Engine._read = staged(sampler, "read", Engine._read)
    Engine.collect = staged(sampler, lambda a: a[1].code, Engine.collect)
    # The report goes to /dev/null: the check's standard output, not this script's.
    saved = os.dup(1)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
    try:
        cli.main(args=["check", "--no-cache", "--quiet", *args.options, str(path)],
                 prog_name="dslint", standalone_mode=False)  # fmt: skip
    except SystemExit:
        pass
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
    time.sleep(0.05)
    sampler.stop()
    size = path.stat().st_size / 1e6
    print(f"{args.examples:,} examples, {size:,.0f} MB of JSONL; peaks in MB (PSS)")
    header = ("stage", "main", "helpers", "total", "/file", "from s", "to s")
    print("{:<12} {:>7} {:>8} {:>7} {:>6} {:>7} {:>6}".format(*header))
    for label, (own, helpers, total, start, end) in sampler.peaks.items():
        print(f"{label:<12} {own / 1e6:>7,.0f} {helpers / 1e6:>8,.0f} {total / 1e6:>7,.0f} "
              f"{total / 1e6 / size:>6.2f} {start:>7.1f} {end:>6.1f}")  # fmt: skip
    highest = max(sampler.peaks.items(), key=lambda item: item[1][2])
    print(f"highest: {highest[1][2] / 1e6:,.0f} MB ({highest[1][2] / 1e6 / size:.2f}x the file) "
          f"in {highest[0]}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
