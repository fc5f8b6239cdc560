"""Duplicate rules: near-duplicate recall and precision, time at 10k/100k/1M, memory at 1M.

    python benchmarks/bench_duplicates.py            # quality, datasketch comparison, 10k, 100k
    python benchmarks/bench_duplicates.py --full     # also 1M examples (time and peak memory)

The generator's file gets 5 percent of its examples replaced by paraphrases of other
examples (word swaps, replacements, deletions and insertions, about one edit per 70 words),
and the (original, paraphrase) pairs are the ground truth. Recall: the share of those pairs
that D003 puts in one cluster. Precision: the share of D003's findings whose example and
cluster representative come from one ground-truth group. Times are medians of three runs
(one at 1M). Memory is the growth of the process's peak resident set while the duplicate
rules run (the dataset already loaded), and the whole run's peak, at 1M.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import DATA, dataset, rows

from dslint.api import check
from dslint.dataset import Dataset
from dslint.memory import give_back
from dslint.rules.duplicates import RULES
from dslint.rules.duplicates.near import NearOptions, near_clusters

SHARE = 0.05
EXTRA_WORDS = [
    "really",
    "quite",
    "order",
    "item",
    "please",
    "also",
    "kindly",
    "thanks",
    "maybe",
    "again",
    "soon",
]


def paraphrase(example: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Word swaps and small edits in the non-system messages, about one per 70 words."""
    copy = json.loads(json.dumps(example))
    messages = [m for m in copy["messages"] if m["role"] != "system" and m.get("content")]
    texts = [m["content"].split(" ") for m in messages]
    total = sum(len(t) for t in texts)
    for _ in range(max(1, round(total / 70))):
        words = rng.choices(texts, weights=[len(t) for t in texts])[0]
        if len(words) < 3:
            continue
        at = rng.randrange(len(words) - 1)
        action = rng.choice(("swap", "replace", "delete", "insert"))
        if action == "swap":
            words[at], words[at + 1] = words[at + 1], words[at]
        elif action == "replace":
            words[at] = rng.choice(EXTRA_WORDS)
        elif action == "delete":
            del words[at]
        else:
            words.insert(at, rng.choice(EXTRA_WORDS))
    for message, words in zip(messages, texts, strict=True):
        message["content"] = " ".join(words)
    return copy


def inject(source: Path, target: Path, seed: int = 7) -> list[tuple[int, int]]:
    """Replace SHARE of the examples by paraphrases of others; (original, copy) line pairs."""
    lines = source.read_text(encoding="utf-8").splitlines()
    rng = random.Random(seed)
    count = round(len(lines) * SHARE)
    positions = rng.sample(range(len(lines)), count * 2)
    replaced, originals = positions[:count], positions[count:]
    truth = []
    for at, original in zip(replaced, originals, strict=True):
        lines[at] = json.dumps(paraphrase(json.loads(lines[original]), rng), ensure_ascii=False)
        truth.append((original + 1, at + 1))
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return truth


def injected(examples: int) -> tuple[Path, list[tuple[int, int]]]:
    path = DATA / f"chat-{examples}-near5.jsonl"
    truth_path = DATA / f"chat-{examples}-near5.truth.json"
    if not path.exists() or not truth_path.exists():
        truth = inject(dataset(examples), path)
        truth_path.write_text(json.dumps(truth))
    return path, [tuple(pair) for pair in json.loads(truth_path.read_text())]  # type: ignore[misc]


def load(path: Path) -> Dataset:
    report = check([path], select=["S001"])
    return report.datasets[0]


def run_rules(data: Dataset) -> float:
    """The six rules in turn, as the engine runs them: freed memory given back after each
    (dslint.engine.Engine.collect)."""
    data.cache.clear()
    start = time.perf_counter()
    for rule in RULES:
        for _ in rule().check(data):
            pass
        give_back()
    return time.perf_counter() - start


def quality(data: Dataset, truth: list[tuple[int, int]]) -> tuple[float, float, int]:
    lines = data.records["line"].to_numpy()
    clusters = near_clusters(data, NearOptions())
    member = dict(
        zip(
            lines[clusters["record"].to_numpy()].tolist(),
            lines[clusters["representative"].to_numpy()].tolist(),
            strict=True,
        )
    )
    group: dict[int, int] = {}
    for original, copy in truth:
        group.setdefault(original, original)
        group[copy] = group[original]
    found = sum(
        1 for a, b in truth if member.get(a, a) == member.get(b, b) and (a in member or b in member)
    )
    correct = sum(1 for m, r in member.items() if m in group and group[m] == group.get(r))
    return found / len(truth), correct / max(len(member), 1), len(member)


def compare_datasketch(
    path: Path, truth: list[tuple[int, int]], limit: int
) -> list[tuple[Any, ...]]:
    """The same near-duplicate search with datasketch and with dslint's NumPy pipeline."""
    import re

    from datasketch import MinHash, MinHashLSH

    from dslint.rules.duplicates import minhash
    from dslint.rules.duplicates.similar import NearParameters, near_pairs

    lines = path.read_text(encoding="utf-8").splitlines()[:limit]
    sample = DATA / f"sample-{limit}.jsonl"
    sample.write_text("\n".join(lines) + "\n", encoding="utf-8")
    wanted = {(a, b) for a, b in truth if a <= limit and b <= limit}
    wanted |= {(b, a) for a, b in wanted}

    data = load(sample)
    start = time.perf_counter()
    pairs = near_pairs(data, NearParameters())
    ours = time.perf_counter() - start
    line = data.records["line"].to_numpy()
    ours_found = {
        (int(line[a]), int(line[b])) for a, b in zip(pairs.left, pairs.right, strict=True)
    }

    systems: dict[str, int] = {}
    texts = []
    for raw in lines:
        messages = json.loads(raw)["messages"]
        for m in messages:
            if m["role"] == "system":
                systems[m["content"]] = systems.get(m["content"], 0) + 1
        texts.append(messages)
    start = time.perf_counter()
    # The same 16 bands x 8 rows as dslint, so both search the same candidate space.
    lsh = MinHashLSH(num_perm=128, params=minhash.optimal_bands(0.8, 128))
    signatures = []
    word = re.compile(r"\w+")
    for number, messages in enumerate(texts, 1):
        text = " ".join(
            m.get("content") or ""
            for m in messages
            if not (m["role"] == "system" and systems.get(m["content"], 0) > 1)
        )
        words = word.findall(text.lower())
        shingles = {" ".join(words[i : i + 5]).encode() for i in range(len(words) - 4)}
        signature = MinHash(num_perm=128)
        signature.update_batch(list(shingles))
        signatures.append((number, signature, shingles))
        if len(words) >= 10:
            lsh.insert(number, signature)
    theirs_found = set()
    for number, signature, shingles in signatures:
        for other in lsh.query(signature):
            if other < number:
                other_shingles = signatures[other - 1][2]
                union = len(shingles | other_shingles)
                if union and len(shingles & other_shingles) / union >= 0.8:
                    theirs_found.add((other, number))
    theirs = time.perf_counter() - start
    total = len(wanted) // 2
    return [
        ("dslint (NumPy, one-permutation)", f"{ours:.2f}", len(ours_found & wanted), total),
        ("datasketch, 128 permutations", f"{theirs:.2f}", len(theirs_found & wanted), total),
    ]


def memory_child(path: str) -> None:
    """Run in a subprocess: the duplicate rules' memory on top of the loaded dataset."""
    data = load(Path(path))
    before = _status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # resets the peak (VmHWM) to the current RSS
    seconds = run_rules(data)
    peak = _status("VmHWM")
    whole = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"before": before, "peak": peak, "whole": whole, "seconds": seconds}))


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also 1M examples")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return

    path, truth = injected(100_000)
    data = load(path)
    recall, precision, members = quality(data, truth)
    print(f"near-duplicates at 100k ({len(truth):,} injected, {members:,} reported): "
          f"recall {recall:.3f}, precision {precision:.3f}  (targets >= 0.95)")  # fmt: skip

    try:
        comparison = compare_datasketch(path, truth, 20_000)
        print("\nsame search on the first 20k examples (seconds, pairs found of injected):")
        print("\n".join(rows(comparison, ("implementation", "seconds", "found", "injected"))))
    except ImportError:
        print("\n(datasketch not installed: comparison skipped)")

    sizes = [10_000, 100_000] + ([1_000_000] if args.full else [])
    table = []
    for size in sizes:
        sized, _ = injected(size)
        runs = 3 if size < 1_000_000 else 1
        if size == 1_000_000:
            child = subprocess.run(
                [sys.executable, __file__, "--memory-child", str(sized)],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            measured = json.loads(child.stdout.strip().splitlines()[-1])
            rules = measured["seconds"]
            growth = (measured["peak"] - measured["before"]) / 2**20
            whole = measured["whole"] / 2**20
            memory = f"+{growth:,.0f} MiB (process peak {whole:,.0f} MiB)"
        else:
            loaded = load(sized)
            rules = statistics.median(run_rules(loaded) for _ in range(runs))
            memory = ""
        table.append((f"{size:,}", f"{rules:.2f}", f"{rules / size * 1e6:.1f}", memory))
    print("\nduplicate rules D001-D006 (dataset already loaded):")
    print("\n".join(rows(table, ("examples", "seconds", "µs/example", "memory of the rules"))))


if __name__ == "__main__":
    main()
