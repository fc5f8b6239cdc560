"""Voice rules (V001-V012, with the example profile) over the benchmark file, as a ratio to
the tokenisation floor measured in the same run. Target: at most 2x.

    python benchmarks/bench_voice.py [--examples 100000] [--runs 3] [--vale PATH/TO/STYLE]

The dataset and its message frame are built once (that cost is the engine's, shared by every
family); the figure is the time of the voice rules on them. Each run starts cold: the
``voice.*`` entries of ``dataset.cache`` and the loaded language model are dropped first.
Times are medians over ``--runs``, and so is the floor, so that a busy shared machine skews
both alike; the load average is printed with them. ``--vale`` also times a Vale style (V013),
reported separately.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from common import dataset, rows, timed, tokenisation_floor

from dslint.api import check
from dslint.config import parse
from dslint.engine import RunContext
from dslint.registry import all_rules

ROOT = Path(__file__).resolve().parents[1]
VOICE = {f"V{n:03d}" for n in range(1, 14)}


def cold(data: Any) -> None:
    """Forget what an earlier run computed: the voice memos and the loaded language model."""
    for key in [k for k in data.cache if str(k).startswith("voice.")]:
        del data.cache[key]
    from dslint.rules.voice import language

    language.identifier.cache_clear()
    try:
        from dslint.rules.voice import _langid

        _langid._WALKERS.clear()
    except ImportError:  # an older tree, measured for the "before" figures
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--vale", type=Path, action="append", default=[])
    args = parser.parse_args(argv)

    path = dataset(args.examples)
    build, report = timed(lambda: check([path], select=["S001"]))
    data = report.datasets[0]
    frame_time, _ = timed(lambda: data.messages)  # the engine's shared message frame
    section: dict[str, object] = {"profile": "rules/voice/example.toml"}
    if args.vale:
        section["vale"] = [str(p.resolve()) for p in args.vale]
    config = parse({"voice": section}, ROOT / "benchmark.toml")
    context = RunContext(config=config, today=dt.date.today(), model_given=False)
    rule_types = [r for r in all_rules() if r.code in VOICE]
    if not args.vale:
        rule_types = [r for r in rule_types if r.code != "V013"]

    floors: list[float] = []
    times: dict[str, list[float]] = {r.code: [] for r in rule_types}
    hits: dict[str, int] = {}
    loads = []
    for _ in range(args.runs):
        floors.append(tokenisation_floor(path))
        cold(data)
        loads.append(os.getloadavg()[0])
        for rule_type in rule_types:
            rule = rule_type()
            rule.context = context
            start = time.perf_counter()
            hits[rule_type.code] = sum(1 for _ in rule.check(data))
            times[rule_type.code].append(time.perf_counter() - start)
    floor = statistics.median(floors)
    # The shared work (rows, one profile scan, the per-message counts) is charged to the
    # first rule that needs it.
    table = [
        (r.code, r.name, f"{statistics.median(times[r.code]):.2f}s", f"{hits[r.code]:,}")
        for r in rule_types
    ]
    for line in rows(table, ("code", "rule", "time", "hits")):
        print(line)
    totals = [sum(times[c][i] for c in times if c != "V013") for i in range(args.runs)]
    total = statistics.median(totals)
    messages = len(data.messages)
    print(f"\n{args.examples:,} examples, {messages:,} message rows; loaded in {build:.2f}s, "
          f"message frame {frame_time:.2f}s")  # fmt: skip
    print(f"runs: {args.runs}; load average (1 min) at each run: "
          + ", ".join(f"{x:.2f}" for x in loads) + f" on {os.cpu_count()} cores")  # fmt: skip
    print(
        f"tokenisation floor (median): {floor:.2f}s  ["
        + ", ".join(f"{f:.2f}" for f in floors)
        + "]"
    )
    print(f"voice rules V001-V012 (median): {total:.2f}s = {total / floor:.2f}x the floor "
          f"(target <= 2x)  [" + ", ".join(f"{t:.2f}" for t in totals) + "]")  # fmt: skip
    if args.vale:
        vale_time = statistics.median(times["V013"])
        print(f"Vale styles (V013): {vale_time:.2f}s = {vale_time / floor:.2f}x the floor")
    return 0 if total <= 2 * floor else 1


if __name__ == "__main__":
    sys.exit(main())
