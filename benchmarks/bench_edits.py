"""Re-runs after the edits a pull request makes, each over the cold run, the cache checked.

    python benchmarks/bench_edits.py [--examples 26000] [--runs 3]

``bench_cache.py`` measures one kind of edit: 1 % of the lines reworded in place. Real edits
also insert, delete, move and break lines, and a check often runs on another day than the
one before. This script checks a file of generated examples with every line of the real
corpus (``../shared/corpus/real``, when it is there) scattered through it: other formats,
tools, images, and text that is not ASCII. Then, for each edit below, it prints the median
wall time of a re-run on the warm cache and its ratio to the cold run:

* one line reworded;
* 150 lines moved further down;
* a copy of a line inserted at the top (every line after it moves);
* one line broken (its JSON cut in half);
* nothing edited, but the next day (``--today``).

Every re-run starts from the same warm cache (two runs of the original file), and its report
is compared byte for byte with a ``--no-cache`` report of the same file: the script stops
when one differs. Each run is a new process in a temporary folder with a private cache key.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import HERE, dataset, rows

DSLINT = [sys.executable, "-m", "dslint"]
CORPUS = HERE.parent.parent / "shared" / "corpus" / "real"
TODAY, NEXT_DAY = "2026-01-01", "2026-01-02"

Lines = list[bytes]


def _reworded(lines: Lines) -> Lines:
    edited = list(lines)
    i = len(lines) // 5
    value = json.loads(edited[i])
    value["messages"][-1]["content"] += " Thanks for waiting!"
    edited[i] = json.dumps(value).encode() + b"\n"
    return edited


def _moved(lines: Lines) -> Lines:
    i = len(lines) // 5
    block = lines[i : i + 150]
    rest = lines[:i] + lines[i + 150 :]
    j = len(rest) * 3 // 5
    return rest[:j] + block + rest[j:]


def _inserted_at_top(lines: Lines) -> Lines:
    return [lines[len(lines) // 5], *lines]


def _broken(lines: Lines) -> Lines:
    edited = list(lines)
    i = len(lines) // 5
    edited[i] = edited[i][: len(edited[i]) // 2] + b"\n"
    return edited


# (label, the edit, the date of the re-run)
EDITS: list[tuple[str, Callable[[Lines], Lines], str]] = [
    ("one line reworded", _reworded, TODAY),
    ("150 lines moved", _moved, TODAY),
    ("a line inserted at the top", _inserted_at_top, TODAY),
    ("one line broken", _broken, TODAY),
    ("the next day, no edit", list, NEXT_DAY),
]


def source_lines(examples: int) -> tuple[Lines, int]:
    """The generated file's lines with the corpus's lines at random places (fixed seed)."""
    lines = dataset(examples).read_bytes().splitlines(keepends=True)
    corpus = [
        line if line.endswith(b"\n") else line + b"\n"
        for path in sorted(CORPUS.glob("*.jsonl"))
        for line in path.read_bytes().splitlines(keepends=True)
        if line.strip()
    ]
    rng = random.Random(5)
    for line in corpus:
        lines.insert(rng.randrange(len(lines) + 1), line)
    return lines, len(corpus)


def run(folder: Path, today: str, *extra: str) -> tuple[float, bytes]:
    arguments = [*DSLINT, "check", "train.jsonl", "--format", "json", "-q", "--today", today]
    start = time.perf_counter()
    done = subprocess.run([*arguments, *extra], cwd=folder, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode == 2:
        sys.exit(f"dslint failed: {done.stderr.decode(errors='replace').strip()}")
    return elapsed, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=26_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import dslint

    print(f"dslint {dslint.__version__} from {Path(dslint.__file__).parent}")
    original, mixed_in = source_lines(args.examples)
    with tempfile.TemporaryDirectory(prefix="dslint-bench-edits-") as name:
        folder = Path(name)
        os.environ["XDG_CACHE_HOME"] = str(folder / "xdg")  # a private cache key
        work, warm = folder / "work", folder / "warm-cache"
        work.mkdir()
        data, cache = work / "train.jsonl", work / ".dslint_cache"
        size = sum(map(len, original)) / 1e6
        print(f"{args.examples:,} generated examples and {mixed_in:,} corpus lines ({size:.0f} MB),"
              f" median of {args.runs} runs; load average before: "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
        edited = [(label, edit(original), day) for label, edit, day in EDITS]
        expected = {}
        for label, lines, day in edited:
            data.write_bytes(b"".join(lines))
            expected[label] = run(work, day, "--no-cache")[1]
        cold: list[float] = []
        after: dict[str, list[float]] = {label: [] for label, _, _ in edited}
        for _ in range(args.runs):
            shutil.rmtree(cache, ignore_errors=True)
            data.write_bytes(b"".join(original))
            cold.append(run(work, TODAY)[0])
            run(work, TODAY)  # what a second run adds (the fast lane's notes, whole checks)
            shutil.rmtree(warm, ignore_errors=True)
            shutil.copytree(cache, warm)
            for label, lines, day in edited:
                shutil.rmtree(cache)
                shutil.copytree(warm, cache)
                data.write_bytes(b"".join(lines))
                elapsed, output = run(work, day)
                if output != expected[label]:
                    sys.exit(f"{label}: the report differs from the --no-cache one")
                after[label].append(elapsed)
        c = statistics.median(cold)
        table = [("cold (empty cache)", f"{c:.2f} s", "1.000")]
        for label, times in after.items():
            t = statistics.median(times)
            table.append((label, f"{t:.2f} s", f"{t / c:.3f}"))
        for line in rows(table, ("run", "time", "/ cold")):
            print("  " + line)
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print("every re-run's report was identical to the --no-cache report of the same file")
    return 0


if __name__ == "__main__":
    sys.exit(main())
