"""Which replies are judged, and what is sent with each.

A reply is an assistant message with text that is trained on: chat ``messages`` (not
``weight: 0``), a preference example's ``preferred_output`` (its ``non_preferred_output`` is
meant to be bad) and a legacy ``completion``. Each goes with the turns before it, so that "no
legal advice" can be judged against the question; the context is cut to ``context-chars``
from the end (the latest turns matter most).

``--sample N`` keeps the replies of N examples: those with the smallest hash of (seed,
example content). The choice is fixed for a given seed and does not shift when other lines
are added or edited, so a re-run after a small change hits the cache.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dslint.dataset import Dataset

JUDGED_SECTIONS = frozenset({"messages", "preferred", "completion"})
CONTEXT_SECTIONS = frozenset({"messages", "input", "prompt"})


@dataclass(frozen=True)
class Reply:
    record: int  # row in the records frame
    pointer: str
    text: str
    context: str  # the earlier turns as "[role] text" lines, cut from the front


def replies(dataset: Dataset, context_chars: int) -> Iterator[Reply]:
    """Every reply to judge, in dataset order, with its context."""
    import pandas as pd

    frame = dataset.messages
    current_record = -1
    history: list[str] = []
    columns = zip(frame["record"], frame["section"], frame["role"], frame["text"],
                  frame["pointer"], frame["weight"], strict=True)  # fmt: skip
    for record, section, role, text, pointer, weight in columns:
        if record != current_record:
            current_record, history = int(record), []
        text = str(text) if isinstance(text, str) else ""
        role = str(role) if isinstance(role, str) else "message"
        judged = (
            section in JUDGED_SECTIONS
            and role == "assistant"
            and text.strip()
            and (pd.isna(weight) or int(weight) != 0)
        )
        if judged:
            yield Reply(int(record), str(pointer), text, _cut("\n".join(history), context_chars))
        if section in CONTEXT_SECTIONS and text.strip():
            history.append(f"[{role}] {text}")


def _cut(context: str, limit: int) -> str:
    if len(context) <= limit:
        return context
    return "…" + context[len(context) - limit + 1 :] if limit > 1 else ""


def sample_records(dataset: Dataset, candidates: set[int], size: int, seed: int) -> set[int]:
    """``size`` of the candidate records, chosen by a seeded hash of their content."""
    if size >= len(candidates):
        return set(candidates)
    content = dataset.records["content_hash"]

    def rank(record: int) -> tuple[bytes, int]:
        material = f"{seed}\0{int(content.iloc[record])}".encode()
        # The row number only breaks ties between identical examples.
        return hashlib.blake2b(material, digest_size=8).digest(), record

    return set(sorted(candidates, key=rank)[:size])


def request_key(model: str, guidelines_hash: str, prompt_version: str, reply: Reply) -> str:
    """The cache key: what is judged (reply + context), by which model, against what."""
    material = json.dumps(
        [prompt_version, model, guidelines_hash, reply.context, reply.text], ensure_ascii=False
    )
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()
