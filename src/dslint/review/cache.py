"""Verdicts by request key (reply + context + model + guidelines), in SQLite.

The key is a sha256 of what was judged, by which model, against which guidelines (see
:func:`dslint.review.selection.request_key`), so a re-run sends only new or changed replies,
and a new model or an edited guideline sends them all again. Only judged replies are kept:
one that could not be judged is asked again next time. The cache holds hashes, the model's
reasons and character offsets, never the dataset's text (the quote is kept as a span).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dslint.remote import JsonStore


@dataclass(frozen=True)
class Failure:
    """One broken guideline: its id, the model's reason and the span of the quote."""

    guideline: str
    reason: str
    span: tuple[int, int] | None


class VerdictCache:
    def __init__(self, folder: Path) -> None:
        self.store = JsonStore(folder, "verdicts")

    def get(self, keys: list[str]) -> dict[str, list[Failure]]:
        found: dict[str, list[Failure]] = {}
        for key, stored in self.store.get(keys).items():
            try:
                found[key] = [_failure(item) for item in stored]
            except (ValueError, TypeError, KeyError):
                continue  # a damaged entry is judged again
        return found

    def put(self, key: str, failures: list[Failure]) -> None:
        self.store.put(
            {
                key: [
                    {"guideline": f.guideline, "reason": f.reason, "span": f.span} for f in failures
                ]
            }
        )

    def close(self) -> None:
        self.store.close()


def _failure(item: dict[str, object]) -> Failure:
    span = item["span"]
    return Failure(
        str(item["guideline"]),
        str(item["reason"]),
        (int(span[0]), int(span[1])) if isinstance(span, list) and len(span) == 2 else None,
    )
