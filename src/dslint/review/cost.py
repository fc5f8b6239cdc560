"""The pre-flight plan: how many requests, roughly how many tokens and dollars.

Token counts are estimates (about 4 bytes of UTF-8 per token, OpenAI's rule of thumb for
English; closer than 4 characters for other scripts), and the answer length is a guess per
guideline, so the figure is "roughly". Prices come from one function, :func:`price_for`:
the config's ``price-per-million-input/output`` first, then ``rules/review/prices.toml``,
then the model table's inference prices when it has them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from dslint.review.settings import ReviewSettings
from dslint.textutil import plural

# Framing tokens of a two-message chat request (3 per message + 3 to prime the answer).
REQUEST_OVERHEAD_TOKENS = 9
# One verdict: JSON scaffold (~12 tokens) + a one-sentence reason (~25) + a short quote.
OUTPUT_TOKENS_PER_VERDICT = 45
_DATED = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text.encode("utf-8", "surrogatepass")) / 4)


@dataclass(frozen=True)
class Price:
    input_per_million: float
    output_per_million: float
    source: str


def price_for(settings: ReviewSettings) -> Price | None:
    """The price of the review model per 1M tokens, or None when nobody knows it."""
    if settings.price_per_million_input is not None:
        assert settings.price_per_million_output is not None  # the settings check both
        return Price(settings.price_per_million_input, settings.price_per_million_output, "config")
    from dslint.packs import load_toml

    table = load_toml("review", "prices.toml")
    entries = table.get("models", {})
    for name in (settings.model, _DATED.sub("", settings.model)):
        entry = entries.get(name)
        if entry is not None:
            return Price(float(entry["input"]), float(entry["output"]), str(table["source"]))
    return _from_model_table(settings.model)


def _from_model_table(name: str) -> Price | None:
    """Inference prices from the shared model table, for models listed there."""
    from dslint import models

    try:
        target = models.resolve(name)
    except models.UnknownModelError:
        return None
    prices = target.extra
    if "inference_input_per_million" in prices and "inference_output_per_million" in prices:
        return Price(
            float(prices["inference_input_per_million"]),
            float(prices["inference_output_per_million"]),
            f"model table ({target.source or target.name})",
        )
    return None


@dataclass(frozen=True)
class ReviewPlan:
    """What the review will send, shown before anything leaves the machine."""

    model: str
    endpoint: str
    replies: int  # replies to judge (after sampling)
    examples: int  # examples they belong to
    sampled_from: int | None  # examples with replies, when --sample picked some
    cached: int  # replies whose verdicts are in the cache
    requests: int  # requests to send (distinct uncached replies)
    input_tokens: int
    output_tokens: int
    price: Price | None
    confirm_above: float

    @property
    def cost(self) -> float | None:
        if self.price is None:
            return None
        return (
            self.input_tokens * self.price.input_per_million
            + self.output_tokens * self.price.output_per_million
        ) / 1_000_000

    @property
    def needs_confirmation(self) -> bool:
        """Above the limit, or of unknown cost: someone must say yes before it is sent."""
        if self.requests == 0:
            return False
        cost = self.cost
        return cost is None or cost > self.confirm_above

    def describe(self) -> str:
        """A few lines for a person deciding whether to send."""
        sample = (
            f" (a sample of {self.examples:,} of {self.sampled_from:,} examples)"
            if self.sampled_from is not None
            else ""
        )
        lines = [
            f"LLM review: {plural(self.replies, 'reply', 'replies')} to judge{sample}; "
            f"{self.cached:,} found in the cache."
        ]
        if self.requests == 0:
            return lines[0] + " Nothing to send."
        lines += [
            f"  sends {plural(self.requests, 'request')} to {self.endpoint}/chat/completions "
            f"(model {self.model}): about {self.input_tokens:,} input and "
            f"{self.output_tokens:,} output tokens.",
        ]
        cost = self.cost
        if self.price is None or cost is None:
            lines.append(
                f"  cost: unknown (no price for {self.model}; set price-per-million-input "
                "and price-per-million-output in [tool.dslint.review], 0 for a local model)."
            )
        else:
            amount = "less than $0.01" if 0 < cost < 0.01 else f"about ${cost:,.2f}"
            lines.append(
                f"  cost: {amount} (${self.price.input_per_million:.2f} in / "
                f"${self.price.output_per_million:.2f} out per 1M tokens; {self.price.source})."
            )
        return "\n".join(lines)

    def refusal(self) -> str:
        """Why it was not sent without a yes (the one-line error without a terminal)."""
        cost = self.cost
        amount = "of unknown cost" if cost is None else f"costing about ${cost:,.2f}"
        return (
            f"the LLM review would send {plural(self.requests, 'request')} {amount} "
            f"(confirm-above: ${self.confirm_above:g}); nothing was sent: re-run with --yes "
            "to send"
        )
