"""Start-up time and the incremental cache, measured in one run.

    python benchmarks/bench_startup.py [--runs 9] [--examples 100000] [--skip-incremental]

Prints:

1. the median wall time of ``dslint check`` on a 20-example file, as pre-commit runs it (a new
   process each time): without the cache (``--no-cache``), with a warm one on the same file (the
   whole check is reused, dslint.reuse) and with a warm one after one example was edited (the
   check runs; the other examples' records and texts come from the cache). Target: <= 0.5 s;
2. the slowest imports of ``import dslint.cli`` and of that check (``python -X importtime``);
3. the incremental cache on the benchmark file: a cold run, then a re-run after editing
   1 percent of its lines, and their ratio (target: <= 0.15).

Every dslint run is a subprocess whose working directory is a fresh temporary folder, so its
``.dslint_cache/`` starts empty and nothing of this process (imports, caches) helps it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import dataset, rows
from generate import generate

DSLINT = [sys.executable, "-m", "dslint"]


def wall(arguments: list[str], folder: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(arguments, cwd=folder, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode == 2:
        sys.exit(f"dslint failed: {done.stderr.decode(errors='replace').strip()}")
    return elapsed


def startup(runs: int, folder: Path) -> None:
    small = generate(20, 7, folder / "small.jsonl")
    cold = [wall([*DSLINT, "check", str(small), "--no-cache"], folder) for _ in range(runs)]
    wall([*DSLINT, "check", str(small)], folder)  # fill the cache
    warm = [wall([*DSLINT, "check", str(small)], folder) for _ in range(runs)]
    edited, floor = [], []
    # What any check that runs dataset rules pays first: pandas (with numpy and pyarrow)
    # imported in a new process. Timed between the edited runs, so that both see the host
    # at the same speed (it drifts by 10 % and more within an hour here).
    just_pandas = [sys.executable, "-c", "import os, pandas; os._exit(0)"]
    original = small.read_text(encoding="utf-8").splitlines(keepends=True)
    for run in range(runs):
        # As the hook sees a commit: one example changed (new content each time), the other
        # 19 as in the last run. The whole check cannot be reused; its records and texts can.
        lines = list(original)
        example = json.loads(lines[run % len(lines)])
        example["messages"][-1]["content"] += f" (edit {run})"
        lines[run % len(lines)] = json.dumps(example) + "\n"
        small.write_text("".join(lines), encoding="utf-8")
        edited.append(wall([*DSLINT, "check", str(small)], folder))
        floor.append(wall(just_pandas, folder))
    small.write_text("".join(original), encoding="utf-8")
    bare = [wall([sys.executable, "-c", "pass"], folder) for _ in range(runs)]
    print(f"dslint check on a 20-example file, median of {runs} runs (target <= 0.5 s):")
    table = [
        ("no cache", f"{statistics.median(cold):.3f} s", f"{min(cold):.3f} s"),
        ("warm cache, file unchanged", f"{statistics.median(warm):.3f} s", f"{min(warm):.3f} s"),
        ("warm cache, 1 example edited", f"{statistics.median(edited):.3f} s",
         f"{min(edited):.3f} s"),
        ("python: import pandas", f"{statistics.median(floor):.3f} s", f"{min(floor):.3f} s"),
        ("python -c pass", f"{statistics.median(bare):.3f} s", f"{min(bare):.3f} s"),
    ]  # fmt: skip
    for line in rows(table, ("run", "median", "fastest")):
        print("  " + line)
    beyond = [run - base for run, base in zip(edited, floor, strict=True)]
    print(
        f"  1 example edited, beyond importing pandas: {statistics.median(beyond):.3f} s "
        f"(median of the {runs} pairs; the edited run is "
        f"{statistics.median(edited) / statistics.median(floor):.2f}x the import)"
    )


def importtime(arguments: list[str], folder: Path, top: int = 8) -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *arguments], cwd=folder, capture_output=True
    )
    entries = []
    for line in done.stderr.decode(errors="replace").splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if match and not match.group(3).strip(" ") and len(match.group(3)) <= 3:
            entries.append((int(match.group(2)), match.group(4)))  # top-level imports only
    entries.sort(reverse=True)
    print(f"slowest top-level imports of: python {' '.join(arguments)}")
    table = [(name, f"{micro / 1000:.1f} ms") for micro, name in entries[:top]]
    for line in rows(table, ("module", "cumulative")):
        print("  " + line)


def edit_one_percent(source: Path, target: Path, seed: int = 3) -> int:
    """Copy ``source`` with 1 percent of its lines changed (the last message reworded)."""
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    chosen = random.Random(seed).sample(range(len(lines)), max(1, len(lines) // 100))
    for index in chosen:
        example = json.loads(lines[index])
        last = example["messages"][-1]
        last["content"] = str(last.get("content") or "") + " Anything else I can do?"
        lines[index] = json.dumps(example, ensure_ascii=False) + "\n"
    target.write_text("".join(lines), encoding="utf-8")
    return len(chosen)


def incremental(examples: int, folder: Path) -> None:
    source = dataset(examples)
    work = folder / "incremental"
    work.mkdir()
    data = work / "train.jsonl"
    data.write_bytes(source.read_bytes())
    arguments = [*DSLINT, "check", str(data), "--format", "json", "-q"]
    uncached = wall([*arguments, "--no-cache"], work)
    cold = wall(arguments, work)
    unchanged = wall(arguments, work)
    edited = edit_one_percent(source, data)
    after_edit = wall(arguments, work)
    print(f"incremental cache on {examples:,} examples ({edited:,} lines edited):")
    table = [
        ("no cache", f"{uncached:.2f} s", f"{uncached / cold:.3f}"),
        ("cold cache (fills it)", f"{cold:.2f} s", "1.000"),
        ("warm, nothing changed", f"{unchanged:.2f} s", f"{unchanged / cold:.3f}"),
        ("warm, 1 % of lines edited", f"{after_edit:.2f} s", f"{after_edit / cold:.3f}"),
    ]
    for line in rows(table, ("run", "wall time", "ratio to cold")):
        print("  " + line)
    print(f"ratio after a 1 % edit: {after_edit / cold:.3f} (target <= 0.15)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--skip-incremental", action="store_true")
    args = parser.parse_args()
    # Bytecode first, as a pip install leaves it: an editable install under
    # PYTHONDONTWRITEBYTECODE (this project's machines set it) would otherwise compile every
    # dslint module at each start, about 0.15 s that no installed copy pays.
    import compileall

    import dslint

    package = Path(dslint.__file__).parent
    compileall.compile_dir(package, quiet=1)
    # Which copy is measured: with PYTHONPATH naming a tree that is not there, Python
    # quietly imports the installed one instead.
    print(f"dslint {dslint.__version__} from {package}")
    with tempfile.TemporaryDirectory(prefix="dslint-bench-") as name:
        folder = Path(name)
        # A private cache key, so the benchmark never touches the user's cache folder.
        os.environ["XDG_CACHE_HOME"] = str(folder / "xdg")
        startup(args.runs, folder)
        print()
        importtime(["-c", "import dslint.cli"], folder)
        print()
        importtime(["-m", "dslint", "check", str(folder / "small.jsonl"), "--no-cache"], folder)
        if not args.skip_incremental:
            print()
            incremental(args.examples, folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
