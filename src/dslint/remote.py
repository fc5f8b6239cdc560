"""What the remote passes (OpenAI moderation, the LLM review) share.

Both send texts through the official ``openai`` client and keep what came back in a small
on-disk store so that a re-run sends only new or changed texts. The store holds hashes and
what the server said (scores, reasons, offsets), never the dataset's text.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dslint.textutil import plural


class JsonStore:
    """Values by key, as JSON in SQLite (atomic writes, safe to interrupt).

    The folder gets a ``.gitignore`` that ignores everything, so a cache is never committed.
    Writes happen on the calling thread only (requests may run on worker threads).
    """

    def __init__(self, folder: Path, name: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        ignore = folder / ".gitignore"
        if not ignore.exists():
            ignore.write_text("*\n", encoding="utf-8")
        self.connection = sqlite3.connect(folder / f"{name}.sqlite3")
        self.connection.execute(
            "CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
        )

    def get(self, keys: list[str]) -> dict[str, Any]:
        """The stored values of these keys; a damaged entry counts as missing."""
        found: dict[str, Any] = {}
        for start in range(0, len(keys), 500):  # SQLite's limit on query parameters
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT key, value FROM entries WHERE key IN ({marks})"
            for key, stored in self.connection.execute(query, chunk):
                try:
                    found[key] = json.loads(stored)
                except ValueError:
                    continue
        return found

    def put(self, items: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        rows = [(key, json.dumps(value)) for key, value in pairs]
        with self.connection:
            self.connection.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?)", rows)

    def close(self) -> None:
        self.connection.close()


def failure_reason(exc: BaseException, endpoint: str, max_retries: int) -> str:
    """Why a request failed for good, in words a finding can carry (no data, no key)."""
    import openai

    retries = f"after {plural(max_retries, 'retry', 'retries')}"
    if isinstance(exc, openai.APITimeoutError):
        return f"timed out {retries}"
    if isinstance(exc, openai.APIConnectionError):
        return f"could not connect to {endpoint} {retries}"
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        # The client retries these itself (and honours Retry-After); others fail at once.
        retried = code in (408, 409, 429) or code >= 500
        return f"HTTP {code} {retries}" if retried else f"HTTP {code} (not retried)"
    return f"{type(exc).__name__} {retries}"
