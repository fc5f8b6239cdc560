"""Send message texts to OpenAI's moderation endpoint, with an on-disk result cache.

* Each distinct text is sent once (the shared system prompt of a dataset costs one slot).
* Results are cached by sha256(model, text) in ``<cache-dir>/results.sqlite3``: a re-run
  sends only new or changed texts. The cache holds hashes and scores, never text.
* Requests carry ``batch-size`` texts each; ``concurrency`` of them are in flight at once.
* Retries (429, 5xx, timeouts, connection errors) and ``Retry-After`` are the official
  client's own; a batch that still fails, or whose answer is malformed, leaves its texts
  *unmoderated*, which the ``not-moderated`` rule reports. Nothing fails silently.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dslint.remote import JsonStore, failure_reason
from dslint.rules.moderation.settings import ModerationSettings
from dslint.textutil import plural

if TYPE_CHECKING:
    from dslint.dataset import Dataset

CACHE_KEY = "moderation.openai"


@dataclass(frozen=True)
class Outcome:
    """What the API said about one text (scores by category name, slashes kept)."""

    flagged: bool
    categories: dict[str, bool]
    scores: dict[str, float]


@dataclass
class Moderation:
    """The result of a pass: per text hash, an outcome or the reason it has none."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    sent: int = 0
    cached: int = 0
    requests: int = 0


class MalformedResponse(Exception):
    pass


def text_hash(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\0{text}".encode()).hexdigest()


class ResultCache:
    """Moderation outcomes by text hash (``<cache-dir>/results.sqlite3``)."""

    def __init__(self, folder: Path) -> None:
        self.store = JsonStore(folder, "results")

    def get(self, hashes: list[str]) -> dict[str, Outcome]:
        found: dict[str, Outcome] = {}
        for key, value in self.store.get(hashes).items():
            try:
                found[key] = Outcome(**value)
            except TypeError:
                continue  # a damaged entry is moderated again
        return found

    def put(self, outcomes: dict[str, Outcome]) -> None:
        self.store.put(
            {k: {"flagged": o.flagged, "categories": o.categories, "scores": o.scores}
             for k, o in outcomes.items()}
        )  # fmt: skip

    def close(self) -> None:
        self.store.close()


def texts_to_send(dataset: Dataset, settings: ModerationSettings) -> dict[str, str]:
    """Distinct non-empty message texts of the chosen roles, by their hash."""
    frame = dataset.messages
    if settings.roles is not None:
        frame = frame[frame["role"].isin(list(settings.roles))]
    frame = frame[frame["text"].str.strip().str.len() > 0]
    return {text_hash(settings.model, t): t for t in dict.fromkeys(frame["text"].tolist())}


def moderate(
    texts: dict[str, str], settings: ModerationSettings, announce: Callable[[str], None]
) -> Moderation:
    result = Moderation()
    cache = ResultCache(settings.cache_dir)
    try:
        result.outcomes = cache.get(list(texts))
        result.cached = len(result.outcomes)
        pending = [key for key in texts if key not in result.outcomes]
        batches = [
            pending[i : i + settings.batch_size]
            for i in range(0, len(pending), settings.batch_size)
        ]
        result.requests = len(batches)
        if not pending:
            if texts:
                announce(
                    f"moderation: all {plural(len(texts), 'text')} found in the cache "
                    f"({settings.cache_dir}); nothing sent"
                )
            return result
        announce(
            f"moderation: sending {plural(len(pending), 'text')} in "
            f"{plural(len(batches), 'request')} to {settings.endpoint}/moderations "
            f"(model {settings.model}; {result.cached:,} cached)"
        )
        client = _client(settings)
        with ThreadPoolExecutor(max_workers=settings.concurrency) as pool:
            futures = {
                pool.submit(_request, client, settings.model, [texts[k] for k in batch]): batch
                for batch in batches
            }
            for future in as_completed(futures):
                batch = futures[future]
                try:
                    outcomes = future.result()
                except Exception as exc:  # any failure leaves the batch unmoderated, said so
                    reason = _reason(exc, settings)
                    result.failures.update(dict.fromkeys(batch, reason))
                    continue
                fresh = dict(zip(batch, outcomes, strict=True))
                result.outcomes.update(fresh)
                result.sent += len(batch)
                cache.put(fresh)
    finally:
        cache.close()
    return result


def _client(settings: ModerationSettings) -> Any:
    from openai import OpenAI

    return OpenAI(
        api_key=os.environ.get("OPENAI_API_KEY"),
        base_url=settings.endpoint,
        max_retries=settings.max_retries,
        timeout=settings.timeout,
    )


def _request(client: Any, model: str, inputs: list[str]) -> list[Outcome]:
    raw = client.moderations.with_raw_response.create(model=model, input=inputs)
    # The body is read and checked here rather than through the client's lenient models, so
    # a malformed answer is caught instead of turning into empty scores.
    try:
        body = json.loads(raw.http_response.content)
    except ValueError:
        raise MalformedResponse("the response is not JSON") from None
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list) or len(results) != len(inputs):
        got = len(results) if isinstance(results, list) else "no"
        raise MalformedResponse(f"{got} results for {len(inputs)} inputs")
    return [_outcome(item) for item in results]


def _outcome(item: Any) -> Outcome:
    if not isinstance(item, dict) or not isinstance(item.get("flagged"), bool):
        raise MalformedResponse("a result has no 'flagged'")
    scores = item.get("category_scores")
    categories = item.get("categories", {})
    if not isinstance(scores, dict) or not isinstance(categories, dict):
        raise MalformedResponse("a result has no 'category_scores'")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in scores.values()):
        raise MalformedResponse("a category score is not a number")
    return Outcome(
        flagged=item["flagged"],
        categories={str(k): bool(v) for k, v in categories.items()},
        scores={str(k): float(v) for k, v in scores.items()},
    )


def _reason(exc: Exception, settings: ModerationSettings) -> str:
    if isinstance(exc, MalformedResponse):
        return f"malformed response: {exc}"
    return failure_reason(exc, settings.endpoint, settings.max_retries)
