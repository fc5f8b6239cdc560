"""Token counting speed: dslint's counting as a ratio to the tokenisation floor.

    python benchmarks/bench_tokens.py [--examples 100000] [--runs 3]

The floor is every distinct text of the file encoded once by tiktoken on one thread
(benchmarks/common.py). dslint's time is ``dslint.tokens.counting.count`` on the loaded
dataset: factorising the columns, encoding each distinct string, and the vectorised sums
that give the per-message and per-example columns. Loading and parsing the file are not
included in either. Both are measured in this run; the medians of ``--runs`` runs are used.
Target: ratio <= 1.2.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import dataset, tokenisation_floor  # noqa: E402


def load(path: Path, model: str):  # type: ignore[no-untyped-def]
    from dslint.config import Config
    from dslint.engine import Engine

    report = Engine(Config(select=(), model=model)).run([path])
    return report.datasets[0]


def count_once(data, workers: int) -> float:  # type: ignore[no-untyped-def]
    from dslint.tokens import counting

    counting.WORKERS = workers
    data.cache.clear()
    start = time.perf_counter()
    counting.count(data)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--model", default="gpt-4.1-mini-2025-04-14")
    args = parser.parse_args()

    from dslint.models import resolve
    from dslint.tokens.encodings import get_encoding

    path = dataset(args.examples)
    encoding = resolve(args.model).encoding
    get_encoding(encoding)  # built once per process, like the floor's encoding
    start = time.perf_counter()
    data = load(path, args.model)
    load_seconds = time.perf_counter() - start
    # Interleaved, so that load from other processes hits all three alike.
    floors, serial, parallel = [], [], []
    for _ in range(args.runs):
        floors.append(tokenisation_floor(path, encoding))
        serial.append(count_once(data, 1))
        parallel.append(count_once(data, 2))
    floor = statistics.median(floors)
    dslint_seconds, dslint_parallel = statistics.median(serial), statistics.median(parallel)
    print(f"file: {path.name} ({path.stat().st_size / 1e6:.0f} MB, {args.examples:,} examples)")
    print(f"encoding: {encoding}; medians of {args.runs} runs")
    print(f"loading into frames (not in the ratio): {load_seconds:.2f} s")
    print(f"tokenisation floor (distinct texts, tiktoken, one thread): {floor:.2f} s")
    print(f"dslint token counting, one process: {dslint_seconds:.2f} s "
          f"(ratio {dslint_seconds / floor:.2f})")  # fmt: skip
    print(f"dslint token counting, two processes (the default for large inputs): "
          f"{dslint_parallel:.2f} s")  # fmt: skip
    print(f"ratio: {dslint_parallel / floor:.2f} (target <= 1.2)")


if __name__ == "__main__":
    main()
