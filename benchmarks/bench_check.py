"""The whole default check against the tokenisation floor and against a plain Python loop.

    python benchmarks/bench_check.py [--examples 100000] [--runs 3]

Prints, in one run, ratios rather than bare seconds:

* the full default ``dslint check`` (every offline rule, text report, no cache, both cores) as
  a ratio to the tokenisation floor (each distinct text encoded once by tiktoken on one
  thread), and the same check on one core (``DSLINT_WORKERS=1``);
* the share of each stage in the one-core check (with helper processes, stages overlap):
  load and record rules, then each dataset-rule family, then the report;
* the same against a plain per-example Python loop that does what the OpenAI cookbook's
  data-preparation notebook does (parse, format checks, token counts; nothing else);
* the least time any check built on this stack can take: each line parsed once by Python's
  ``json`` and each distinct text encoded once by tiktoken, both spread perfectly over the
  machine's cores, with nothing else done; and what each target leaves for everything else
  (building the frames, the record rules, duplicates, voice, privacy, the report).

Targets (issue 10): full check <= 1.5x the floor; at least 3x faster than the plain loop.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import dataset, one_core, plain_tiktoken, tokenisation_floor

FAMILIES = {"T": "tokens", "D": "duplicates", "V": "voice", "P": "privacy", "M": "moderation"}


def instrumented_check(path: Path) -> tuple[float, dict[str, float], int]:
    """One full check with the time of each stage (the engine itself is not modified)."""
    import dslint
    from dslint.engine import Engine
    from dslint.registry import all_rules
    from dslint.reporters.text import TextReporter
    from dslint.rule import DatasetRule

    stages: dict[str, float] = defaultdict(float)
    originals: dict[type[Any], Any] = {}
    for rule in all_rules():
        if issubclass(rule, DatasetRule) and rule not in originals:
            originals[rule] = rule.check

            def timed(self: Any, data: Any, _check: Any = rule.check) -> list[Any]:
                start = time.perf_counter()
                hits = list(_check(self, data))
                stages[FAMILIES.get(self.code[0], "other")] += time.perf_counter() - start
                return hits

            rule.check = timed  # type: ignore[method-assign]
    run_unit = Engine._run_unit

    def unit(self: Engine, paths: list[Path], validation: list[Path]) -> Any:
        start = time.perf_counter()
        before = sum(stages.values())
        result = run_unit(self, paths, validation)
        stages["load and record rules"] += (
            time.perf_counter() - start - (sum(stages.values()) - before)
        )
        return result

    Engine._run_unit = unit  # type: ignore[method-assign]
    try:
        start = time.perf_counter()
        report = dslint.check([path])
        rendered = time.perf_counter()
        TextReporter().render(report)
        stages["report"] += time.perf_counter() - rendered
        total = time.perf_counter() - start
    finally:
        Engine._run_unit = run_unit  # type: ignore[method-assign]
        for rule, check in originals.items():
            rule.check = check  # type: ignore[method-assign]
    return total, dict(stages), len(report.findings)


def check_on_one_core(path: Path) -> Any:
    """The instrumented check with every helper process turned off."""
    with one_core():
        return instrumented_check(path)


def cookbook_loop(path: Path) -> tuple[float, int]:
    """What the cookbook's data-preparation notebook does, example by example."""
    encoding = plain_tiktoken("o200k_base")
    start = time.perf_counter()
    errors: dict[str, int] = defaultdict(int)
    totals = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            example = json.loads(line)
            messages = example.get("messages")
            if not isinstance(messages, list) or not messages:
                errors["missing_messages_list"] += 1
                continue
            for message in messages:
                if "role" not in message or "content" not in message:
                    errors["message_missing_key"] += 1
                if message.get("role") not in ("system", "user", "assistant", "function", "tool"):
                    errors["unrecognized_role"] += 1
                content = message.get("content")
                if not isinstance(content, str) and not message.get("tool_calls"):
                    errors["missing_content"] += 1
            if not any(m.get("role") == "assistant" for m in messages):
                errors["example_missing_assistant_message"] += 1
            tokens = 3
            for message in messages:
                tokens += 3
                for key, value in message.items():
                    if isinstance(value, str):
                        tokens += len(encoding.encode(value))
                    if key == "name":
                        tokens += 1
            totals.append(tokens)
    return time.perf_counter() - start, len(totals)


def parse_floor(path: Path) -> float:
    """Seconds to parse every line once with Python's ``json``, one thread (reading excluded)."""
    with open(path, "rb") as stream:
        lines = stream.readlines()
    loads = json.loads
    start = time.perf_counter()
    for line in lines:
        loads(line)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    path = dataset(args.examples)
    size = path.stat().st_size / 1e6
    print(f"{args.examples:,} examples, {size:,.0f} MB ({path.name}); medians of {args.runs} runs")

    floors, checks, singles, loops, parses = [], [], [], [], []
    stage_runs: list[dict[str, float]] = []
    findings = 0
    for _ in range(args.runs):
        floors.append(tokenisation_floor(path))
        total, _, findings = instrumented_check(path)
        checks.append(total)
        single, stages, single_findings = check_on_one_core(path)
        assert single_findings == findings, "one core and two must report the same"
        singles.append(single)
        stage_runs.append(stages)
        loops.append(cookbook_loop(path)[0])
        parses.append(parse_floor(path))
    floor, check, single, loop, parse = (
        statistics.median(x) for x in (floors, checks, singles, loops, parses)
    )
    print(f"tokenisation floor        {floor:7.2f} s")
    print(f"dslint check (full)       {check:7.2f} s  = {check / floor:.2f}x the floor "
          f"(target <= 1.5x); {findings:,} findings")  # fmt: skip
    print(f"  the same on one core    {single:7.2f} s  = {single / floor:.2f}x the floor")
    print(f"plain cookbook-style loop {loop:7.2f} s  = dslint is {loop / check:.2f}x faster "
          "(target >= 3x)")  # fmt: skip
    cores = os.cpu_count() or 1
    bound = (parse + floor) / cores
    print(f"least time on this stack   {bound:7.2f} s  = (parse {parse:.2f} s + floor "
          f"{floor:.2f} s) / {cores} cores, nothing else done")  # fmt: skip
    for target, seconds in (("<= 1.5x the floor", 1.5 * floor), (">= 3x the loop", loop / 3)):
        print(f"  target {target:18} {seconds:5.2f} s: leaves {seconds - bound:5.2f} s for "
              f"everything else (dslint spends {check - bound:.2f} s on it)")  # fmt: skip
    print("stages of the one-core check (median seconds, share):")
    names = sorted({name for run in stage_runs for name in run})
    for name in sorted(names, key=lambda n: -statistics.median(r.get(n, 0) for r in stage_runs)):
        seconds = statistics.median(run.get(name, 0.0) for run in stage_runs)
        print(f"  {name:24} {seconds:7.2f} s  {seconds / single:6.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
