"""The offline privacy checks (P001-P110) against the tokenisation floor, measured in one run.

    python benchmarks/bench_privacy.py [--examples 100000] [--seed 1]

Prints three times and their ratios to the floor (target: the privacy scan at most 1x):
the floor (every distinct text encoded once by tiktoken), the privacy scan over an already
loaded dataset (what the privacy rules add to a run), and a whole ``dslint check --select
privacy`` (loading and parsing included, for context).
"""

from __future__ import annotations

import argparse
import json
import random
import string
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import dataset, median_time, rows, timed, tokenisation_floor

from dslint.api import check
from dslint.config import Config
from dslint.engine import RunContext
from dslint.rules.privacy import RULES


def planted(source: Path, percent: float) -> Path:
    """A copy of the generated file with PII and a secret planted in some user turns, so the
    benchmark also pays for validation and locating, not only for the column pre-filter."""
    if percent <= 0:
        return source
    target = source.with_name(f"{source.stem}-pii{percent:g}.jsonl")
    if target.exists():
        return target
    every = max(1, round(100 / percent))
    with open(source, encoding="utf-8") as read, open(target, "w", encoding="utf-8") as out:
        for index, line in enumerate(read):
            if index % every == 0:
                example = json.loads(line)
                for message in example["messages"]:
                    if message.get("role") == "user" and isinstance(message.get("content"), str):
                        key = "".join(random.Random(index).choices(string.ascii_letters, k=36))
                        phone = f"+44 20 7123 {index % 10000:04d}"
                        message["content"] += (
                            f" Mail me at client{index}@gmail.com or call {phone}; token ghp_{key}"
                        )
                        break
                line = json.dumps(example, ensure_ascii=False) + "\n"
            out.write(line)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--plant",
        type=float,
        default=1.0,
        help="percent of examples given an email, a phone number and a key",
    )
    args = parser.parse_args(argv)
    path = planted(dataset(args.examples, args.seed), args.plant)
    size = path.stat().st_size / 1e6

    floor = tokenisation_floor(path)
    whole, report = timed(lambda: check([path], select=["privacy"]))
    data = report.datasets[0]
    rules = [rule() for rule in RULES]
    context = RunContext(config=Config(), today=__import__("datetime").date.today(),
                         model_given=False)  # fmt: skip
    for rule in rules:
        rule.context = context

    def scan() -> int:
        data.cache.clear()
        return sum(1 for rule in rules for _ in rule.check(data))

    found = scan()
    scan_time = median_time(scan, runs=3)
    table = [
        ("tokenisation floor", f"{floor:.2f}", "1.00"),
        ("privacy scan (loaded dataset)", f"{scan_time:.2f}", f"{scan_time / floor:.2f}"),
        ("dslint check --select privacy", f"{whole:.2f}", f"{whole / floor:.2f}"),
    ]
    print(f"{path.name}: {args.examples:,} examples, {size:.0f} MB, "
          f"{len(data.messages):,} message rows, {found:,} privacy findings")  # fmt: skip
    for line in rows(table, ("what", "seconds", "x floor")):
        print(line)
    print(f"privacy scan / floor = {scan_time / floor:.2f} (target <= 1.00)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
