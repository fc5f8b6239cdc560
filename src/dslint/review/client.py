"""The review pass: plan, ask for a yes, send with bounded concurrency, cache the verdicts.

* Each distinct (reply, context) is sent once; the cache answers what was judged before.
* ``concurrency`` requests are in flight at once; retries (429, 5xx, timeouts, connection
  errors) and ``Retry-After`` are the official ``openai`` client's own.
* A request that still fails, a refusal, an answer cut short or one that breaks the schema
  leaves its reply *not judged*, with the reason; the ``not-reviewed`` rule reports it.
* A 401, 403 or 404 would fail the same way for every reply (wrong key, model or URL), so
  it stops the pass with a one-line error instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dslint.config import ConfigError
from dslint.remote import failure_reason
from dslint.review import prompt
from dslint.review.cache import Failure, VerdictCache
from dslint.review.cost import (
    OUTPUT_TOKENS_PER_VERDICT,
    REQUEST_OVERHEAD_TOKENS,
    ReviewPlan,
    estimate_tokens,
    price_for,
)
from dslint.review.guidelines import Guidelines
from dslint.review.selection import Reply, replies, request_key, sample_records
from dslint.review.settings import ReviewSettings

if TYPE_CHECKING:
    from dslint.dataset import Dataset

#: Decides whether a plan may be sent (the CLI shows it and asks); False stops the run.
Confirm = Callable[[ReviewPlan], bool]
_FATAL_STATUS = (401, 403, 404)


class ReviewNotConfirmed(ConfigError):
    """The review was above its limit and nobody said yes; nothing was sent (exit 2)."""


class ReviewError(ConfigError):
    """The server refuses every request (key, model or URL is wrong); exit 2."""


@dataclass
class ReviewResult:
    """Per request key: the broken guidelines ([] = every one passed), or why not judged."""

    model: str
    guidelines: Guidelines
    replies: list[tuple[Reply, str]]  # each judged reply with its request key
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    not_judged: dict[str, str] = field(default_factory=dict)
    sent: int = 0
    cached: int = 0


def run(
    dataset: Dataset,
    settings: ReviewSettings,
    guidelines: Guidelines,
    confirm: Confirm | None,
) -> ReviewResult:
    chosen = list(replies(dataset, settings.context_chars))
    sampled_from = None
    if settings.sample is not None:
        candidates = {reply.record for reply in chosen}
        keep = sample_records(dataset, candidates, settings.sample, settings.seed)
        sampled_from = len(candidates)
        chosen = [reply for reply in chosen if reply.record in keep]
    keyed = [
        (reply, request_key(settings.model, guidelines.hash, prompt.PROMPT_VERSION, reply))
        for reply in chosen
    ]
    distinct = {key: reply for reply, key in keyed}
    result = ReviewResult(settings.model, guidelines, keyed)
    cache = VerdictCache(settings.cache_dir)
    try:
        result.failures = cache.get(list(distinct))
        result.cached = len(result.failures)
        pending = {key: reply for key, reply in distinct.items() if key not in result.failures}
        plan = _plan(settings, guidelines, keyed, sampled_from, result.cached, pending)
        _approve(plan, confirm)
        if pending:
            _send(pending, settings, guidelines, cache, result)
    finally:
        cache.close()
    return result


def _plan(
    settings: ReviewSettings,
    guidelines: Guidelines,
    keyed: list[tuple[Reply, str]],
    sampled_from: int | None,
    cached: int,
    pending: dict[str, Reply],
) -> ReviewPlan:
    system_tokens = estimate_tokens(prompt.system_message(guidelines))
    input_tokens = sum(
        system_tokens + REQUEST_OVERHEAD_TOKENS + estimate_tokens(prompt.user_message(reply))
        for reply in pending.values()
    )
    per_answer = min(
        settings.max_output_tokens, 5 + OUTPUT_TOKENS_PER_VERDICT * len(guidelines.items)
    )
    return ReviewPlan(
        model=settings.model,
        endpoint=settings.endpoint,
        replies=len(keyed),
        examples=len({reply.record for reply, _ in keyed}),
        sampled_from=sampled_from,
        cached=cached,
        requests=len(pending),
        input_tokens=input_tokens,
        output_tokens=per_answer * len(pending),
        price=price_for(settings),
        confirm_above=settings.confirm_above,
    )


def _approve(plan: ReviewPlan, confirm: Confirm | None) -> None:
    if confirm is None:
        # The Python API without a confirm callback: within the limit only.
        if plan.needs_confirmation:
            raise ReviewNotConfirmed(plan.refusal())
        return
    if not confirm(plan):
        raise ReviewNotConfirmed("the LLM review was not confirmed; nothing was sent")


def _send(
    pending: dict[str, Reply],
    settings: ReviewSettings,
    guidelines: Guidelines,
    cache: VerdictCache,
    result: ReviewResult,
) -> None:
    client = make_client(settings)
    pool = ThreadPoolExecutor(max_workers=settings.concurrency)
    try:
        futures: dict[Future[list[Failure]], str] = {
            pool.submit(judge, client, settings, guidelines, reply): key
            for key, reply in pending.items()
        }
        for future in as_completed(futures):
            key = futures[future]
            try:
                failures = future.result()
            except prompt.MalformedAnswer as exc:
                result.not_judged[key] = f"malformed answer: {exc}"
                continue
            except Exception as exc:  # any failure leaves the reply not judged, said so
                fatal = _fatal(exc, settings)
                if fatal:
                    raise ReviewError(fatal) from None
                result.not_judged[key] = _reason(exc, settings)
                continue
            result.failures[key] = failures
            result.sent += 1
            cache.put(key, failures)  # as they come: an interrupted run keeps its verdicts
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def make_client(settings: ReviewSettings) -> Any:
    from openai import OpenAI

    return OpenAI(
        # A local server (vLLM, Ollama) takes any key; OpenAI's own was checked up front.
        api_key=settings.api_key or "no-key",
        base_url=settings.endpoint,
        max_retries=settings.max_retries,
        timeout=settings.timeout,
    )


def judge(
    client: Any, settings: ReviewSettings, guidelines: Guidelines, reply: Reply
) -> list[Failure]:
    """One request: the guidelines the reply breaks (with reason and span), [] if none."""
    raw = client.chat.completions.with_raw_response.create(
        model=settings.model,
        messages=prompt.messages(guidelines, reply),
        response_format=prompt.response_format(guidelines),
        temperature=settings.temperature,
        max_completion_tokens=settings.max_output_tokens,
    )
    # The body is read and checked here rather than through the client's lenient models, so
    # a malformed answer is caught instead of passing as "no verdicts".
    try:
        body = json.loads(raw.text)
        choice = body["choices"][0]
        message = choice["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise prompt.MalformedAnswer("the response is not a chat completion") from None
    if not isinstance(message, dict):
        raise prompt.MalformedAnswer("the response has no message")
    if message.get("refusal"):
        raise prompt.MalformedAnswer("the model refused to judge this reply")
    if choice.get("finish_reason") == "length":
        raise prompt.MalformedAnswer("the answer was cut at max-output-tokens")
    content = message.get("content")
    verdicts = prompt.parse_answer(content if isinstance(content, str) else None, guidelines)
    failures: dict[str, Failure] = {}
    for verdict in verdicts:
        if not verdict.passed and verdict.guideline not in failures:
            span = find_span(reply.text, verdict.quote)
            failures[verdict.guideline] = Failure(verdict.guideline, verdict.reason, span)
    return list(failures.values())


_QUOTE_MARKS = "\"'“”‘’«»`"


def find_span(text: str, quote: str) -> tuple[int, int] | None:
    """Where the model's quote is in the reply: exactly, else ignoring case and spacing."""
    quote = quote.strip().strip(_QUOTE_MARKS).strip()
    for ellipsis in ("...", "…"):
        quote = quote.removeprefix(ellipsis).removesuffix(ellipsis).strip()
    if not quote:
        return None
    start = text.find(quote)
    if start >= 0:
        return start, start + len(quote)
    pattern = r"\s+".join(re.escape(word) for word in quote.split())
    match = re.search(pattern, text, re.IGNORECASE)
    return (match.start(), match.end()) if match else None


def _fatal(exc: Exception, settings: ReviewSettings) -> str | None:
    import openai

    if isinstance(exc, openai.APIStatusError) and exc.status_code in _FATAL_STATUS:
        what = {401: "the API key", 403: "the API key's access", 404: "the model and base-url"}
        return (
            f"the LLM review server {settings.endpoint} answered HTTP {exc.status_code} "
            f"for model {settings.model}: check {what[exc.status_code]}"
        )
    return None


def _reason(exc: Exception, settings: ReviewSettings) -> str:
    return failure_reason(exc, settings.endpoint, settings.max_retries)
