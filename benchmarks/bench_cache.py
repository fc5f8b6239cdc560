"""The incremental cache on the 100,000-example benchmark file: cold, warm and after an edit.

    python benchmarks/bench_cache.py [--examples 100000] [--runs 3] [--families ""]

For the full default check and for each rule family alone (``--select``), prints the median
wall time of ``dslint check`` over ``--runs`` rounds of:

* **cold**: an empty ``.dslint_cache/`` (the run fills it);
* **warm, unchanged**: the same file again;
* **warm, 1 % edited**: 1 percent of the lines changed (the last message reworded), after a
  warm run of the original;

and their ratios to the cold run (issue target: warm after a 1 % edit <= 0.15 of cold), then
the edited run's ratio in each round (over that round's cold run, a few seconds before). It also
checks that every warm report is byte-identical to a ``--no-cache`` report of the same file,
and prints the machine's load average, since the machine is shared.

Then (``--stages``, on by default) where the time of a warm, 1 %-edited default check goes,
measured in this process on one core (``DSLINT_WORKERS=1``, so that stages do not overlap):
reading and parsing the lines (with the record cache), building the frames, and each dataset
rule family.

Every run is a new process in its own temporary folder with a private cache key.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from bench_startup import edit_one_percent
from common import dataset, one_core, rows

DSLINT = [sys.executable, "-m", "dslint"]
# (label, --select): the default check, then each family alone.
FAMILIES = {
    "default": None,
    "schema": "S",
    "tokens": "T",
    "privacy": "P",
    "duplicates": "D",
    "voice": "V",
}


def run(arguments: list[str], folder: Path) -> tuple[float, bytes]:
    start = time.perf_counter()
    done = subprocess.run(arguments, cwd=folder, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode == 2:
        sys.exit(f"dslint failed: {done.stderr.decode(errors='replace').strip()}")
    return elapsed, done.stdout


def measure(
    select: str | None, original: Path, edited: Path, folder: Path, runs: int
) -> tuple[list[float], list[float], list[float]]:
    data = folder / "train.jsonl"
    arguments = [*DSLINT, "check", "train.jsonl", "--format", "json", "-q", "--today",
                 "2026-01-01", *(["--select", select] if select else [])]  # fmt: skip
    cold, unchanged, after_edit = [], [], []
    expected: dict[Path, bytes] = {}
    for source in (original, edited):
        shutil.copyfile(source, data)
        expected[source] = run([*arguments, "--no-cache"], folder)[1]
    for _ in range(runs):
        shutil.rmtree(folder / ".dslint_cache", ignore_errors=True)
        shutil.copyfile(original, data)
        elapsed, output = run(arguments, folder)
        cold.append(elapsed)
        elapsed, output = run(arguments, folder)
        unchanged.append(elapsed)
        if output != expected[original]:
            sys.exit(f"--select {select}: a warm report differs from the --no-cache one")
        shutil.copyfile(edited, data)
        elapsed, output = run(arguments, folder)
        after_edit.append(elapsed)
        if output != expected[edited]:
            sys.exit(f"--select {select}: the report after the edit differs from --no-cache")
    return cold, unchanged, after_edit


def stages(original: Path, edited: Path, folder: Path) -> list[tuple[str, float]]:
    """Seconds per stage of a warm default check after a 1 % edit (this process, one run)."""
    from dslint.api import check
    from dslint.engine import Engine

    data = folder / "train.jsonl"
    shutil.rmtree(folder / ".dslint_cache", ignore_errors=True)
    shutil.copyfile(original, data)
    run([*DSLINT, "check", "train.jsonl", "-q", "--today", "2026-01-01"], folder)  # fill it
    shutil.copyfile(edited, data)
    spent: dict[str, float] = defaultdict(float)
    real_dataset_rules = Engine._run_dataset_rules

    def timed_dataset_rules(engine: Engine, dataset: Any) -> Any:
        start = time.perf_counter()
        dataset.records, dataset.messages  # noqa: B018 (built on first use: time it here)
        spent["frames"] += time.perf_counter() - start
        for rule in engine.dataset_rules:
            rule.check = timed(rule.check, type(rule).__module__.split(".")[2], spent)  # type: ignore[method-assign]
        start = time.perf_counter()
        result = real_dataset_rules(engine, dataset)
        spent["dataset rules"] += time.perf_counter() - start
        return result

    # On one core: with helper processes, stages overlap and a family's time would hide in
    # another's (the duplicate rules run in a helper for a file this size).
    with working_directory(folder), one_core():
        Engine._run_dataset_rules = timed_dataset_rules  # type: ignore[method-assign]
        try:
            start = time.perf_counter()
            check([data], cache=True, today=dt.date(2026, 1, 1))
            total = time.perf_counter() - start
        finally:
            Engine._run_dataset_rules = real_dataset_rules  # type: ignore[method-assign]
    families = {k: v for k, v in spent.items() if k not in ("frames", "dataset rules")}
    other_rules = spent["dataset rules"] - sum(families.values())
    load = total - spent["frames"] - spent["dataset rules"]
    return [
        ("read, parse, record rules (cached), cache save", load),
        ("build the frames", spent["frames"]),
        *sorted(families.items(), key=lambda item: -item[1]),
        ("locating dataset findings", other_rules),
        ("total (no report rendering)", total),
    ]


def timed(check: Any, family: str, spent: dict[str, float]) -> Any:
    def wrapper(dataset: Any) -> Iterable[Any]:
        start = time.perf_counter()
        hits = list(check(dataset))
        spent[family] += time.perf_counter() - start
        return hits

    return wrapper


@contextlib.contextmanager
def working_directory(folder: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stages", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--families", default=",".join(FAMILIES), help="comma-separated: " + ", ".join(FAMILIES)
    )
    args = parser.parse_args()
    chosen = [name for name in args.families.split(",") if name]
    unknown = [name for name in chosen if name not in FAMILIES]
    if unknown:
        parser.error(f"unknown families: {', '.join(unknown)}")
    import dslint

    # Which copy is measured: with PYTHONPATH naming a tree that is not there, Python
    # quietly imports the installed one instead.
    print(f"dslint {dslint.__version__} from {Path(dslint.__file__).parent}")
    original = dataset(args.examples)
    with tempfile.TemporaryDirectory(prefix="dslint-bench-cache-") as name:
        folder = Path(name)
        os.environ["XDG_CACHE_HOME"] = str(folder / "xdg")  # a private cache key
        edited = folder / "edited.jsonl"
        changed = edit_one_percent(original, edited)
        work = folder / "work"
        work.mkdir()
        print(f"dslint check on {args.examples:,} examples ({changed:,} lines edited), "
              f"median of {args.runs} runs; load average before: "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
        table = []
        per_round: list[str] = []
        for family in chosen:
            cold, unchanged, after = measure(FAMILIES[family], original, edited, work, args.runs)
            c, u, a = (statistics.median(x) for x in (cold, unchanged, after))
            table.append(
                (family, f"{c:.2f} s", f"{u:.2f} s", f"{u / c:.3f}", f"{a:.2f} s", f"{a / c:.3f}")
            )
            # Each round's edited run over that round's cold run, a few seconds apart: less
            # exposed to the host's speed drifting (10 % and more within an hour here) than
            # the ratio of the medians above.
            ratios = sorted(a / c for a, c in zip(after, cold, strict=True))
            per_round.append(f"  {family}: {', '.join(f'{r:.3f}' for r in ratios)} "
                             f"(median {statistics.median(ratios):.3f})")  # fmt: skip
            print(f"  measured {family}", file=sys.stderr)
        header = ("rules", "cold", "warm", "ratio", "warm, 1 % edited", "ratio")
        for line in rows(table, header):
            print("  " + line)
        print("the 1 % edit's ratio in each round (its edited run over its cold run), sorted:")
        print("\n".join(per_round))
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print("every warm report was identical to the --no-cache report of the same file")
        if args.stages:
            parts = stages(original, edited, work)
            print("\nwhere a warm default check after the 1 % edit spends its time "
                  "(one run, on one core):")  # fmt: skip
            total = parts[-1][1]
            table = [
                (name, f"{seconds:.2f} s", f"{seconds / total:.0%}") for name, seconds in parts
            ]
            for line in rows(table, ("stage", "time", "share")):
                print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
