"""A whole ``dslint check`` at 10k, 100k and 1M examples: time per example and peak memory.

    python benchmarks/bench_scale.py [--sizes 10000 100000 1000000]

Each size runs the real command line (``dslint check --no-cache --quiet``, every default
rule, text report to /dev/null) in a child process. Memory is the peak of the *sum* of the
proportional set sizes (PSS: resident pages, shared ones divided among their users) of
dslint and its helper processes, sampled every 50 ms from /proc, as a ratio to the file's
size. Targets (issue 10): time about linear in the number of examples; peak memory at most
1.5x the file size at 1M examples (about 1.45 GB of JSONL).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import dataset


def _pss(pid: str) -> int:
    """The process's proportional set size: its private pages plus its share of pages it
    shares (a page mapped by two processes counts half in each, so a sum counts it once)."""
    with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
        for line in fh:
            if line.startswith(b"Pss:"):
                return int(line.split()[1]) * 1024
    return 0


def tree_rss(root: int) -> int:
    """Memory (PSS) of ``root`` and every process below it (Linux /proc)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
            parents[int(entry)] = int(fields[1])
            rss[int(entry)] = _pss(entry)
        except (OSError, IndexError, ValueError):
            continue
    total = 0
    for pid, size in rss.items():
        ancestor = pid
        while ancestor > 1 and ancestor != root:
            ancestor = parents.get(ancestor, 0)
        if ancestor == root:
            total += size
    return total


def measured_check(path: Path) -> tuple[float, int, int]:
    """(seconds, peak bytes of the process tree, exit code) of one ``dslint check``."""
    command = [sys.executable, "-m", "dslint", "check", "--no-cache", "--quiet", str(path)]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(process.pid))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, errors = process.communicate()
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    if process.returncode not in (0, 1):
        raise SystemExit(f"dslint check failed ({process.returncode}): {errors.decode()[-500:]}")
    return elapsed, peak, process.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.1f} at the start")
    print(f"{'examples':>10} {'file MB':>8} {'seconds':>8} {'µs/example':>11} "
          f"{'peak MB':>8} {'peak/file':>9}")  # fmt: skip
    for size in args.sizes:
        path = dataset(size)
        megabytes = path.stat().st_size / 1e6
        seconds, peak, _ = measured_check(path)
        print(f"{size:>10,} {megabytes:>8,.0f} {seconds:>8.1f} {seconds / size * 1e6:>11.0f} "
              f"{peak / 1e6:>8,.0f} {peak / 1e6 / megabytes:>9.2f}")  # fmt: skip
    print("targets: time about linear (µs per example steady); peak/file <= 1.5 at 1M")
    return 0


if __name__ == "__main__":
    sys.exit(main())
