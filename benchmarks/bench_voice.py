"""Voice rules (V001-V012, with the example profile) over the benchmark file, as a ratio to
the tokenisation floor measured in the same run. Target: at most 2x.

    python benchmarks/bench_voice.py [--examples 100000] [--vale PATH/TO/STYLE]

The dataset frames are built once (that cost is the engine's, shared by every family); the
figure is the time of the voice rules on them, each run from a cold ``voice.*`` cache.
``--vale`` also times a Vale style (V013), reported separately.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from common import dataset, rows, timed, tokenisation_floor

from dslint.api import check
from dslint.config import parse
from dslint.engine import RunContext
from dslint.registry import all_rules

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--vale", type=Path, action="append", default=[])
    args = parser.parse_args(argv)

    path = dataset(args.examples)
    floor = tokenisation_floor(path)
    build, report = timed(lambda: check([path], select=["S001"]))
    data = report.datasets[0]
    section: dict[str, object] = {"profile": "rules/voice/example.toml"}
    if args.vale:
        section["vale"] = [str(p.resolve()) for p in args.vale]
    config = parse({"voice": section}, ROOT / "benchmark.toml")
    context = RunContext(config=config, today=dt.date.today(), model_given=False)

    table = []
    total = 0.0
    vale_time = 0.0
    for rule_type in all_rules():
        if not rule_type.code.startswith("V"):
            continue
        if rule_type.code == "V013" and not args.vale:
            continue
        rule = rule_type()
        rule.context = context
        start = time.perf_counter()
        hits = sum(1 for _ in rule.check(data))
        elapsed = time.perf_counter() - start
        if rule_type.code == "V013":
            vale_time = elapsed
        else:
            total += elapsed
        table.append((rule_type.code, rule_type.name, f"{elapsed:.2f}s", f"{hits:,}"))
    # The shared work (rows, joined text, one profile scan, features) is charged to the
    # first rule that needs it; a second pass from a warm cache shows the rules alone.
    for line in rows(table, ("code", "rule", "time", "hits")):
        print(line)
    messages = len(data.messages)
    print(f"\n{args.examples:,} examples, {messages:,} message rows; frames built in {build:.2f}s")
    print(f"tokenisation floor: {floor:.2f}s")
    print(f"voice rules V001-V012: {total:.2f}s = {total / floor:.2f}x the floor (target <= 2x)")
    if args.vale:
        print(f"Vale styles (V013): {vale_time:.2f}s = {vale_time / floor:.2f}x the floor")
    return 0 if total <= 2 * floor else 1


if __name__ == "__main__":
    sys.exit(main())
