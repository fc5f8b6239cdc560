"""Verdicts by request key (reply + context + model + guidelines), in SQLite.

The key is a sha256 of what was judged, by which model, against which guidelines (see
:func:`dslint.review.selection.request_key`), so a re-run sends only new or changed replies,
and a new model or an edited guideline sends them all again. Only judged replies are kept:
one that could not be judged is asked again next time. The cache holds hashes, the model's
reasons and character offsets, never the dataset's text (the quote is kept as a span).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Failure:
    """One broken guideline: its id, the model's reason and the span of the quote."""

    guideline: str
    reason: str
    span: tuple[int, int] | None


class VerdictCache:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        ignore = folder / ".gitignore"
        if not ignore.exists():
            ignore.write_text("*\n", encoding="utf-8")
        # Writes happen on the calling thread only; requests run on worker threads.
        self.connection = sqlite3.connect(folder / "verdicts.sqlite3")
        self.connection.execute(
            "CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, failures TEXT NOT NULL)"
        )

    def get(self, keys: list[str]) -> dict[str, list[Failure]]:
        found: dict[str, list[Failure]] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT key, failures FROM verdicts WHERE key IN ({marks})"
            for key, stored in self.connection.execute(query, chunk):
                try:
                    found[key] = [_failure(item) for item in json.loads(stored)]
                except (ValueError, TypeError, KeyError):
                    continue  # a damaged entry is judged again
        return found

    def put(self, key: str, failures: list[Failure]) -> None:
        stored = json.dumps(
            [{"guideline": f.guideline, "reason": f.reason, "span": f.span} for f in failures]
        )
        with self.connection:
            self.connection.execute("INSERT OR REPLACE INTO verdicts VALUES (?, ?)", (key, stored))

    def close(self) -> None:
        self.connection.close()


def _failure(item: dict[str, object]) -> Failure:
    span = item["span"]
    return Failure(
        str(item["guideline"]),
        str(item["reason"]),
        (int(span[0]), int(span[1])) if isinstance(span, list) and len(span) == 2 else None,
    )
